// The System calls panel: the server's processes as lanes from the `syscall` events (each written when the
// call returned, at the time it started, with how long it took). A call that blocked is a bar as long as it
// blocked (accept until a client came, the child's sleep); fork/clone returning opens a lane for the child
// it made (socklab's servers wait for a connection in pselect6 or epoll_wait and accept at once: that wait
// is drawn as accept's). A call that has not returned yet (`done` false) is drawn up to now, still blocked, until it comes
// again, returned. A tracer that attached to a running process (a foreign image) says where its lane starts.
"use strict";

const LANES = 12; // processes drawn: the first one (the server's main process) and the latest others
const KEPT_CALLS = 300; // per process; the oldest go first
const FORKS = /^(fork|vfork|clone|clone3)$/;
const SELECTS = /^(epoll_wait|epoll_pwait|epoll_pwait2|select|pselect6|poll|ppoll)$/;
const GROUPS = [
  [/^accept/, "accept"], [FORKS, "fork"], [/^(read|recv|recvfrom|recvmsg|readv)$/, "read"],
  [/^(write|send|sendto|sendmsg|writev)$/, "write"], [/sleep$/, "sleep"], [/^(close|shutdown)$/, "close"],
  [/^(epoll_wait|epoll_pwait|select|pselect6|poll|ppoll|wait4|waitid)$/, "wait"], [/^(socket|bind|listen|setsockopt)$/, "setup"],
];

function groupOf(call) {
  for (const [re, name] of GROUPS) if (re.test(call)) return name;
  return "other";
}

const callsPanel = panel({
  name: "calls",
  kinds: new Set(["syscall"]),
  every: 200,
  ticks: true, // an open call (still blocked) grows with the clock
  hosts: new Map(), // host -> {lanes: Map(pid -> lane), t0, tEnd}

  lane(rec, pid, t) {
    if (!rec.lanes.has(pid)) rec.lanes.set(pid, { pid, born: t, calls: [], index: new Map(), parent: null, attached: null });
    return rec.lanes.get(pid);
  },

  apply(e) {
    const d = e.data || {};
    if (!this.hosts.has(e.host)) this.hosts.set(e.host, { lanes: new Map(), t0: e.t, tEnd: e.t });
    const rec = this.hosts.get(e.host);
    const lane = this.lane(rec, d.pid, e.t);
    lane.born = Math.min(lane.born, e.t);
    rec.t0 = Math.min(rec.t0, e.t);
    rec.tEnd = Math.max(rec.tEnd, e.t + (d.seconds || 0));
    if (d.call === "attached") { lane.attached = { t: e.t, fromStart: d.from_start !== false }; return true; }
    if (d.call === "exit") { lane.exited = e.t; return true; }
    const key = `${d.call}|${e.t}`;
    const known = lane.index.get(key); // the same call again: it returned since (or it is a repeat)
    const call = known || { call: d.call, t: e.t, group: groupOf(d.call) };
    Object.assign(call, { args: d.args, result: d.result, seconds: d.seconds });
    if (!known) {
      lane.calls.push(call);
      lane.index.set(key, call);
      if (lane.calls.length > KEPT_CALLS) { const old = lane.calls.shift(); lane.index.delete(`${old.call}|${old.t}`); }
    }
    if (SELECTS.test(call.call)) lane.lastWait = call;
    else if (call.group === "accept") waitedFor(lane.lastWait, call);
    else if (d.call !== "write") lane.lastWait = null; // another call came between: that wait was not accept's
    const child = FORKS.test(d.call) && /^\d+$/.test(String(d.result || "")) ? Number(d.result) : 0;
    if (child > 0) {
      const back = e.t + (d.seconds || 0); // where fork returns: the child's lane begins
      const kid = this.lane(rec, child, back);
      kid.parent = d.pid;
      kid.born = Math.min(kid.born, back);
      kid.forked = back;
    }
    return true;
  },

  render() {
    const section = document.getElementById("calls");
    section.hidden = this.hosts.size === 0;
    if (section.hidden) return;
    document.getElementById("kernel").hidden = false;
    const body = section.querySelector(".body");
    body.replaceChildren(...[...this.hosts.entries()].map(([name, rec]) =>
      h("div", { class: "calls-host", "data-host": name }, this.hosts.size > 1 ? h("h3", {}, name) : null, lanes(rec))));
  },
});

function waitedFor(wait, accept) {
  // socklab's servers wait for a connection in pselect6 or epoll_wait and then accept at once: a wait that
  // returned and was followed by accept (the process's next call; a loaded machine puts milliseconds between
  // them) is drawn as what it was, the wait for a connection.
  if (wait && typeof wait.seconds === "number" && wait.t + wait.seconds <= accept.t + 0.001) {
    wait.group = "accept";
    wait.forAccept = true;
  }
}

function lastEnd(lane, tMax) {
  // Where a finished run's process was last seen: the end of its last call (a child exits after close).
  let end = lane.born;
  for (const c of lane.calls) end = Math.max(end, c.seconds === null || c.seconds === undefined ? tMax : c.t + c.seconds);
  return end;
}

function ticksFor(span) {
  const steps = [0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1, 2, 5, 10, 20, 30, 60, 120, 300, 600];
  return steps.find((s) => span / s <= 10) || 1200;
}

function lanes(rec) {
  const all = [...rec.lanes.values()].sort((a, b) => a.born - b.born);
  const shown = all.length > LANES ? [all[0], ...all.slice(-(LANES - 1))] : all;
  const t0 = rec.t0, open = !state.finished;
  const tMax = Math.max(rec.tEnd, open ? now() : rec.tEnd, t0 + 0.001);
  const W = 1000, LEFT = 190, RIGHT = 960, TOP = 22, ROW = 34; // room on the right for "exit"
  const X = (t) => LEFT + ((t - t0) / (tMax - t0)) * (RIGHT - LEFT);
  const height = TOP + shown.length * ROW + 8;
  const g = svg("svg", { class: "lanes", viewBox: `0 0 ${W} ${height}`, width: W, height });
  const step = ticksFor(tMax - t0);
  for (let s = 0; s <= tMax - t0 + 1e-9; s += step) {
    g.append(svg("line", { x1: X(t0 + s), y1: TOP - 4, x2: X(t0 + s), y2: height, class: "tick" }),
      svg("text", { x: X(t0 + s), y: 12, class: "tick" }, `${+s.toFixed(3)} s`));
  }
  const rowOf = new Map(shown.map((l, i) => [l.pid, TOP + i * ROW]));
  shown.forEach((lane, i) => {
    const y = TOP + i * ROW;
    const start = lane.attached ? lane.attached.t : lane.born;
    const late = lane.attached && !lane.attached.fromStart;
    const who = i === 0 && lane.parent === null ? "the server" : lane.parent !== null ? `forked by ${lane.parent}` : "";
    const row = svg("g", { class: "lane" + (late ? " late" : ""), "data-pid": lane.pid, "data-parent": lane.parent, "data-born": lane.born, "data-attached": late ? "late" : lane.attached ? "start" : null },
      svg("text", { x: 4, y: y + 15, class: "pid" }, `pid ${lane.pid}${who ? " · " + who : ""}`),
      svg("line", { x1: X(start), y1: y + 12, x2: lane.exited !== undefined ? X(lane.exited) : i === 0 || open ? RIGHT : X(lastEnd(lane, tMax)), y2: y + 12, class: "life" }));
    if (lane.exited !== undefined) row.append(svg("text", { x: X(lane.exited) + 3, y: y + 16, class: "exit" }, "exit"));
    if (late) row.append(svg("text", { x: X(start) + 3, y: y + 31, class: "late" }, "⟂ traced from here: the tracer attached late, the calls before are not seen"));
    if (lane.forked !== undefined && rowOf.has(lane.parent)) {
      row.append(svg("line", { x1: X(lane.forked), y1: rowOf.get(lane.parent) + 12, x2: X(lane.forked), y2: y + 12, class: "forkline" }));
    }
    let free = 0; // where the next label may start (labels never overlap)
    for (const c of lane.calls) {
      const blockedTill = c.seconds === null || c.seconds === undefined ? tMax : c.t + c.seconds;
      const x1 = X(c.t), w = Math.max(2, X(blockedTill) - x1);
      const never = c.seconds === null || c.seconds === undefined;
      const short = c.forAccept ? "waiting to accept" : c.call.replace(/^clock_/, "");
      const secs = never ? "still blocked" : c.seconds >= 0.001 ? `${c.seconds.toFixed(c.seconds < 1 ? 3 : 2)} s` : "";
      const text = c.forAccept ? `${c.call}: waiting for a connection ${secs}` : secs ? `${short} ${secs}` : short;
      const bar = svg("g", { class: `call g-${c.group}${never ? " open" : ""}`, "data-call": c.call, "data-for": c.forAccept ? "accept" : null, "data-start": c.t, "data-end": never ? null : c.t + c.seconds },
        svg("title", {}, `${c.forAccept ? "waiting for a connection: " : ""}${c.call}(${c.args || ""}) = ${c.result === null || c.result === undefined ? "?" : c.result}${never ? " (never returned)" : ` <${c.seconds} s>`}`),
        svg("rect", { x: x1, y: y + 4, width: w, height: 16 }));
      if (w > text.length * 6 + 6) bar.append(svg("text", { x: x1 + 3, y: y + 16, class: "in" }, text)); // inside its bar
      else if (x1 >= free) { bar.append(svg("text", { x: x1, y: y + 30, class: "under" }, short)); free = x1 + short.length * 6 + 6; }
      row.append(bar);
    }
    g.append(row);
  });
  const frame = h("div", { class: "lanes-frame" }, g);
  if (all.length > shown.length) frame.append(h("div", { class: "meta" }, `${all.length - shown.length} other processes not drawn (the first and the latest ${LANES - 1} are)`));
  return frame;
}
