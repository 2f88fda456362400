// socklab live view: the run's event log, as server-sent events, drawn as the lab's hosts.
// No framework: one state object fed by the events, one render() that redraws what changed, once a frame
// however many events came in it. The kernel's streams (socket, packet, syscall) go to the panels of
// kernel-*.js, each redrawn at most every `every` ms (hundreds of events a second with 50 clients).
"use strict";

const state = {
  lastN: 0, // the last line applied (EventSource resends it as Last-Event-ID when it reconnects)
  offset: 0, // this host's clock minus the browser's, in seconds: countdowns run on the events' clock
  run: null, finished: null,
  labs: new Map(), // prefix ("" or "lab2/") -> {prefix, number, hosts: Map(role -> host), conns: []}
  faults: new Map(), // name@target -> fault.applied data + t
  verdicts: [],
  steps: [], // a scenario's steps as they fire (and its probes as they are judged), newest last
  log: [], // what just happened, in event time order (the clients' results come when they exit, late)
  ips: new Map(), // an IP -> the host that has it ("server", "lab2/client-3"): the kernel panels name ends by it
  shown: {}, // line number -> when the page showed it (epoch seconds), for measuring the latency
  received: {}, // line number -> when its message arrived (epoch seconds, the browser's clock)
  pendingShown: [],
  closed: false, // the stream ended after the run finished: the view server stopped, nothing more will come
  costs: {}, // milliseconds spent drawing, per part of the page (the lab, each kernel panel): what keeping up costs
  draws: {}, // how many times each part was drawn
};
window.socklab = state;

// The kernel's panels (kernel-*.js): each takes the events of its kinds and draws its own section.
const panels = [];
const KERNEL = new Set(["packet", "socket", "syscall"]);
function panel(def) {
  const p = { every: 150, dirty: false, last: 0, pending: [], ...def };
  panels.push(p);
  return p;
}

function h(tag, attrs, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === null || v === undefined || v === false) continue;
    if (k === "class") el.className = v; else if (k === "style") el.style.cssText = v; else el.setAttribute(k, v);
  }
  for (const c of children.flat()) if (c !== null && c !== undefined && c !== false) el.append(c instanceof Node ? c : String(c));
  return el;
}

const now = () => Date.now() / 1000 + state.offset;
const fmt = (s) => (s === null || s === undefined ? "?" : Number(s).toFixed(s < 10 ? 1 : 0));
const ch = (b) => // a byte as the character it is (an int, or a list of ints for several bytes)
  Array.isArray(b) ? b.map(ch).join("") : typeof b === "number" ? String.fromCharCode(b) : b === null || b === undefined ? "?" : String(b);
const ipOf = (peer) => String(peer || "").replace(/:\d+$/, "").replace(/^\[|\]$/g, "");
// Made once: a formatter or a collator made for each call costs more than the rest of a redraw.
const TIME = new Intl.DateTimeFormat([], { hour12: false, hour: "2-digit", minute: "2-digit", second: "2-digit" });
const clock = (t) => TIME.format(new Date(t * 1000)) + "." + String(Math.floor((t % 1) * 10));
const byRole = new Intl.Collator(undefined, { numeric: true }).compare;

function split(host) {
  const i = host.lastIndexOf("/");
  return i < 0 ? ["", host] : [host.slice(0, i + 1), host.slice(i + 1)];
}

function lab(prefix) {
  if (!state.labs.has(prefix)) state.labs.set(prefix, { prefix, number: state.labs.size + 1, hosts: new Map(), conns: [] });
  return state.labs.get(prefix);
}

function kindOf(role) {
  if (/^server/.test(role)) return "server";
  if (/^client/.test(role)) return "client";
  return "other";
}

function host(name) {
  const [prefix, role] = split(name);
  const l = lab(prefix);
  if (!l.hosts.has(role)) l.hosts.set(role, { role, kind: kindOf(role), lab: l, state: "started", order: l.hosts.size });
  return l.hosts.get(role);
}

function delayOf(l) {
  for (const hst of l.hosts.values()) if (hst.kind === "server" && typeof hst.delay === "number") return hst.delay;
  for (const hst of l.hosts.values()) { // the server's start line says it: "0.1.0 (tcp, model fork, backlog 5, delay 5 s)"
    const said = hst.kind === "server" && /delay ([\d.]+) s/.exec(hst.version || "");
    if (said) return Number(said[1]);
  }
  const args = (state.run && state.run.args) || {};
  return typeof args.delay === "number" ? args.delay : null;
}

function clientFor(l, peer) {
  const ip = ipOf(peer);
  for (const hst of l.hosts.values()) if (hst.kind === "client" && hst.address && ipOf(hst.address) === ip) return hst;
  return null;
}

function learnAddress(l, name, peer) {
  // The server's reverse lookup of a peer (socklab-client-3.socklab_lab) names the client it is, when the
  // log did not give that client's address (compose's demo): from now on its connections are linked to it.
  const first = String(name).split(".")[0];
  for (const hst of l.hosts.values())
    if (hst.kind === "client" && !hst.address && (first === hst.role || first.endsWith("-" + hst.role))) hst.address = ipOf(peer);
}

function conn(l, server, peer, t) {
  let c = l.conns.find((x) => x.server === server && x.peer === peer && !x.served);
  if (!c) { c = { server, peer, accepted: t }; l.conns.push(c); }
  return c;
}

const LOG_KEPT = 300;
function logEvent(item) {
  // In the order things happened: a client's "connected" (read when it exits) goes where its time says.
  const log = state.log;
  let i = log.length;
  while (i > 0 && (log[i - 1].t > item.t || (log[i - 1].t === item.t && log[i - 1].n > item.n))) i--;
  if (i === 0 && log.length >= LOG_KEPT) return; // older than all that is kept
  log.splice(i, 0, item);
  if (log.length > LOG_KEPT) log.shift();
}

function learnIp(address, name) {
  const ip = ipOf(address);
  if (ip && name && !state.ips.has(ip) && !/^(0\.0\.0\.0|::|\*|127\.)/.test(ip)) state.ips.set(ip, name);
}

function describe(e) {
  const d = e.data || {};
  switch (e.kind) {
    case "run.started": return `run started: ${d.title || d.command || ""}`;
    case "host": return `${e.host} is ${d.address || "up"}${d.version ? " (" + d.version + ")" : ""}`;
    case "container.started": return `${e.host} started`;
    case "container.stopped": return `${e.host} stopped${d.exit_code !== null && d.exit_code !== undefined ? " (exit " + d.exit_code + ")" : ""}`;
    case "connected": return `${e.host} connected to ${d.peer || "the server"}`;
    case "accepted": return `${e.host} accepted ${d.peer}${d.probe ? " (socklab's readiness check)" : ""}`;
    case "served": return `${e.host} answered ${d.peer}: '${ch(d.reply)}' after ${fmt(d.seconds)} s`;
    case "answered": return `${e.host} got '${ch(d.reply)}'${d.ok === false ? " (wrong)" : ""}`;
    case "failed": return `${e.host} failed: ${d.error}`;
    case "fault.applied": return `FAULT ${d.name} on ${d.target}`;
    case "fault.undone": return `fault ${d.name} undone on ${d.target}`;
    case "measurement": return `${d.name} = ${d.value} ${d.unit || ""}`;
    case "step": return `STEP ${fmt(d.planned)} s: ${d.label || d.action} (fired at ${Number(d.fired).toFixed(3)} s${d.late ? ", LATE" : ""})`;
    case "probe": return `PROBE ${d.phase}: ${d.probe} = ${d.value === null ? "nothing" : d.value} (${d.tolerance}): ${d.ok ? "held" : "FAILED"}`;
    case "verdict": return `verdict: ${d.text}`;
    case "run.finished": return `run finished: exit ${d.exit_code}`;
    default: return e.kind;
  }
}

function apply(e) {
  const d = e.data || {};
  if (KERNEL.has(e.kind)) {
    for (const p of panels) if (p.kinds.has(e.kind) && p.apply(e) !== false) { p.dirty = true; p.pending.push(e.n); }
    return;
  }
  labDirty = true;
  state.pendingShown.push(e.n);
  logEvent({ n: e.n, t: e.t, text: describe(e), fault: e.kind.startsWith("fault") });
  switch (e.kind) {
    case "run.started": state.run = d; break;
    case "run.finished": state.finished = d; break;
    case "host": {
      if (!e.host) break;
      const hst = host(e.host);
      for (const k of ["address", "image", "version", "network", "port", "delay"]) {
        if (d[k] === null || d[k] === undefined || d[k] === "") continue;
        if (k === "address" && hst.address) continue; // the first one: its IP, not a later ip:port
        hst[k] = d[k];
      }
      learnIp(d.address, e.host);
      break;
    }
    case "container.started": { const hst = host(e.host); hst.state = "started"; hst.image = hst.image || d.image; break; }
    case "container.stopped": { const hst = host(e.host); hst.state = d.state === "pause" ? "paused" : "stopped"; hst.exit = d.exit_code; break; }
    case "connected": { const hst = host(e.host); hst.connected = e.t; if (d.address) hst.address = hst.address || d.address; learnIp(d.address, e.host); break; }
    case "accepted": {
      if (d.probe) break;
      const [prefix] = split(e.host); host(e.host);
      const c = conn(lab(prefix), e.host, d.peer, e.t); c.accepted = e.t; c.version = d.version;
      break;
    }
    case "served": {
      if (d.probe) break;
      const [prefix] = split(e.host); host(e.host);
      const c = conn(lab(prefix), e.host, d.peer, d.accepted_at ?? e.t - (d.seconds || 0));
      c.served = e.t; c.reply = d.reply; c.request = d.request; c.seconds = d.seconds; c.version = d.version || c.version;
      if (d.name) learnAddress(lab(prefix), d.name, d.peer);
      break;
    }
    case "answered": { const hst = host(e.host); hst.answered = { reply: d.reply, ok: d.ok !== false, t: e.t, seconds: d.seconds }; break; }
    case "failed": { const hst = host(e.host); hst.failed = { error: d.error, t: e.t }; break; }
    case "fault.applied": state.faults.set(`${d.name}@${d.target}`, { ...d, t: e.t }); break;
    case "fault.undone": state.faults.delete(`${d.name}@${d.target}`); break;
    case "step": case "probe": state.steps.push({ kind: e.kind, text: describe(e), bad: e.kind === "probe" ? !d.ok : d.late }); break;
    case "verdict": {
      // A lab's verdict names its server image: it goes in that lab's box (the latest one without one).
      const labs = [...state.labs.values()].reverse();
      const mine = d.server && labs.find((l) => !l.verdict && [...l.hosts.values()].some((x) => x.kind === "server" && x.image === d.server));
      if (mine) mine.verdict = d; else state.verdicts.push(d);
      break;
    }
    default: break;
  }
}

function faultedHost(target) {
  // A fault names its container (socklab-<run>-server); the box is the host whose role ends that name.
  const labs = [...state.labs.values()].reverse();
  for (const l of labs) for (const hst of l.hosts.values()) if (target && (target === hst.role || target.endsWith("-" + hst.role))) return hst;
  return null;
}

function footer() {
  document.getElementById("count").textContent = state.lastN;
  const conn = document.getElementById("connection");
  // After run.finished nothing more comes: a stream that ends then is the view stopping, not a problem.
  if (state.finished) conn.textContent = state.closed ? "the run is over; the view has stopped (the page keeps what it showed)" : "the run is over: every event is shown";
  else if (state.closed) conn.textContent = "reconnecting…";
  conn.className = state.finished ? "over" : state.closed ? "lost" : "";
}

function shownNow(lines) {
  const at = Date.now() / 1000;
  for (const n of lines) state.shown[n] = at;
  lines.length = 0;
}

function render(force) {
  if (labDirty) {
    const began = performance.now();
    labDirty = false;
    labDrawn = began;
    renderLab();
    shownNow(state.pendingShown);
    state.costs.lab = (state.costs.lab || 0) + performance.now() - began;
    state.draws.lab = (state.draws.lab || 0) + 1;
  }
  footer();
  const now = performance.now();
  let later = false;
  for (const p of panels) {
    if (!p.dirty && !(force && p.ticks)) continue;
    if (now - p.last < p.every) { later = true; continue; }
    p.dirty = false;
    p.render();
    p.last = performance.now();
    state.costs[p.name] = (state.costs[p.name] || 0) + (p.last - now);
    state.draws[p.name] = (state.draws[p.name] || 0) + 1;
    shownNow(p.pending);
  }
  if (later) setTimeout(schedule, 30);
}

let scheduled = false;
// One redraw per frame however many events came in it (50 clients accepted at once are one redraw);
// a hidden tab gets no frames, so a timer stands in.
function schedule() {
  if (scheduled) return;
  scheduled = true;
  const draw = () => { if (scheduled) { scheduled = false; render(); } };
  requestAnimationFrame(draw);
  setTimeout(draw, 100);
}
setInterval(() => { if (!state.finished) for (const tick of tickers) tick(); }, 100);
setInterval(() => { if (!state.finished) render(true); }, 500); // panels whose picture moves with the clock

function connect() {
  const source = new EventSource("/events");
  const conn = document.getElementById("connection");
  source.onopen = () => { state.closed = false; conn.textContent = "live"; footer(); };
  source.onerror = () => {
    state.closed = true;
    if (state.finished) source.close(); // the run is over and the view stopped: no need to try again
    footer();
  };
  const take = (e, at) => {
    if (e.n <= state.lastN) return; // already applied (a replay after a reconnect)
    state.offset = e.now - at;
    state.lastN = e.n;
    state.received[e.n] = at;
    if (e.error !== undefined) {
      logEvent({ n: e.n, t: e.now, text: `line ${e.n} is not an event: ${e.error}` });
      labDirty = true;
      state.pendingShown.push(e.n);
    } else apply(e);
  };
  // Each message: the lines the server found in one look at the log (a burst comes as one message).
  source.addEventListener("events", (msg) => {
    const at = Date.now() / 1000;
    for (const e of JSON.parse(msg.data)) take(e, at);
    // The lab's boxes at once when they changed and were not drawn in the last 30 ms (no waiting for the
    // next frame); else, and for the kernel's panels, with the next frame.
    if (labDirty && performance.now() - labDrawn >= 30) render(); else schedule();
  });
}

// Selecting a client (its box, its sockets, its button) picks whose packets the ladder draws.
document.addEventListener("click", (ev) => {
  const picked = ev.target.closest && ev.target.closest("[data-pick]");
  if (!picked) return;
  state.ladder = picked.getAttribute("data-pick");
  for (const p of panels) p.dirty = true;
  schedule();
});

document.addEventListener("DOMContentLoaded", () => { connect(); render(); });
