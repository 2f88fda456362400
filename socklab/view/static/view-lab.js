// socklab live view: the lab drawn from the state view.js keeps (its hosts as boxes, each server's connections
// with their countdowns, the verdicts, what just happened, a scenario's steps). renderLab() is called by
// view.js's render() whenever an event changed the lab; what did not change stays the same element.
"use strict";

// What moves between events (countdowns, bars, the clock) is updated in place 10 times a second by the
// tickers the last render() registered; only a new event redraws the page.
let tickers = [];
function ticking(update) { update(); tickers.push(update); }

// The lab is redrawn whenever an event changes it, up to every 30 ms, with 50 clients and their connections:
// a box whose look did not change is the same element as before (its tickers kept), so a redraw makes and
// lays out only what changed. ``sig``: everything the box shows that does not move with the clock.
const made = new Map(); // key -> {sig, el, tickers}
let used = new Set(); // the keys the redraw under way has asked for: the others are forgotten after it
function memo(key, sig, make) {
  used.add(key);
  const was = made.get(key);
  if (was && was.sig === sig) { tickers.push(...was.tickers); return was.el; }
  const before = tickers.length;
  const el = make();
  made.set(key, { sig, el, tickers: tickers.slice(before) });
  return el;
}

// Replace an element's children only when they are not already these (a redraw that changed nothing there
// moves nothing in the page).
function setChildren(parent, children) {
  const kids = children.filter((c) => c !== null && c !== undefined && c !== false);
  const same = kids.length === parent.childNodes.length && kids.every((c, i) => c === parent.childNodes[i]);
  if (!same) parent.replaceChildren(...kids);
  return parent;
}

function countdown(c, delay, left) {
  // A connection's wait from its accept: a bar filling over the delay and the seconds left (or waited).
  const el = bar(0, left ? "" : "minibar");
  const text = h("span", {});
  ticking(() => {
    const elapsed = Math.max(0, now() - c.accepted);
    el.firstChild.style.transform = `scaleX(${Math.min(1, delay ? elapsed / delay : 0.5)})`;
    text.textContent = state.finished ? "no answer" : delay ? `waiting… ${fmt(Math.max(0, delay - elapsed))} s${left ? " left" : ""}` : `waiting ${fmt(elapsed)} s`;
  });
  return [el, text];
}

function bar(fraction, cls) {
  return h("div", { class: "bar " + (cls || "") }, h("span", { style: `transform:scaleX(${Math.max(0, Math.min(1, fraction))})` }));
}

function connRow(l, c) {
  const client = clientFor(l, c.peer);
  const sig = JSON.stringify([c.served, c.reply, c.request, c.seconds, c.accepted, delayOf(l), client && client.role]);
  return memo(`conn:${l.prefix}${c.server}:${c.peer}:${c.accepted}`, sig, () => makeConnRow(l, c, client));
}

function makeConnRow(l, c, client) {
  const delay = delayOf(l);
  const who = client ? `${client.role} ${c.peer}` : c.peer;
  let what, progress;
  if (c.served !== undefined) {
    progress = bar(1);
    const right = typeof c.request === "number" ? c.reply === c.request + 1 : ch(c.reply) === "B";
    what = h("span", {}, h("span", { class: "reply" + (right ? "" : " wrong") }, ch(c.reply)), ` after ${Number(c.seconds).toFixed(2)} s`);
  } else {
    [progress, what] = countdown(c, delay, true);
  }
  return h("div", { class: "conn" + (c.served !== undefined ? " served" : " waiting"), "data-peer": c.peer, "data-client": client ? client.role : null },
    h("span", { class: "who", title: who }, client ? client.role : "?"), h("span", { class: "peer" }, c.peer), progress, h("span", { class: "what" }, what));
}

const SHOWN_CONNS = 12; // a server box lists every waiting connection and the latest answered ones
function shownConns(conns) {
  if (conns.length <= SHOWN_CONNS) return conns;
  const waiting = conns.filter((c) => c.served === undefined);
  const room = Math.max(0, SHOWN_CONNS - waiting.length);
  const recent = conns.filter((c) => c.served !== undefined).slice(-room || conns.length);
  return conns.filter((c) => c.served === undefined || (room > 0 && recent.includes(c)));
}

function serverBox(l, hst, faulted) {
  const conns = l.conns.filter((c) => c.server === (l.prefix + hst.role));
  const rows = shownConns(conns).map((c) => connRow(l, c)); // each the same element while it looks the same
  const sig = JSON.stringify([hst.state, hst.exit, hst.address, hst.port, hst.image, hst.version, hst.delay,
    faulted.has(hst), conns.length, conns.filter((c) => c.served !== undefined).length]);
  const box = memo(`server:${l.prefix}${hst.role}`, sig, () => makeServerBox(l, hst, faulted, conns));
  setChildren(box.querySelector(".conns"), [...rows,
    conns.length > SHOWN_CONNS ? memo(`more:${l.prefix}${hst.role}`, String(conns.length), () =>
      h("div", { class: "meta more" }, `and ${conns.length - rows.length} earlier connections`)) : null]);
  return box;
}

function makeServerBox(l, hst, faulted, conns) {
  const served = conns.filter((c) => c.served !== undefined).length;
  const delay = typeof hst.delay === "number" ? hst.delay : null;
  return h("div", { class: `host server ${hst.state}${faulted.has(hst) ? " faulted" : ""}`, "data-role": hst.role },
    h("div", { class: "name" }, h("span", { class: "badge" }, "SERVER"), ` ${hst.role}`, hst.state === "stopped" ? h("span", { class: "gone", title: `exit code ${hst.exit}` }, " stopped") : hst.state === "paused" ? h("span", { class: "gone" }, " paused") : null),
    h("div", { class: "addr" }, hst.address ? `${hst.address}${hst.port ? ":" + hst.port : ""}` : "(address not known yet)"),
    h("div", { class: "meta" }, [hst.image, hst.version, delay !== null ? `waits ${delay} s before answering` : null, `${conns.length} connections, ${served} answered`].filter(Boolean).join(" · ")),
    h("div", { class: "conns" }));
}

function clientBox(l, hst, faulted) {
  const mine = l.conns.filter((c) => hst.address && ipOf(c.peer) === ipOf(hst.address));
  const c = mine[mine.length - 1];
  const sig = JSON.stringify([hst.state, hst.exit, hst.address, hst.failed, hst.answered, hst.connected, faulted.has(hst),
    c ? [c.accepted, c.served, c.reply] : null, delayOf(l)]);
  return memo(`client:${l.prefix}${hst.role}`, sig, () => makeClientBox(l, hst, faulted, c));
}

function makeClientBox(l, hst, faulted, c) {
  let cls = hst.state, text;
  let extra = null;
  if (hst.failed) { cls = "failed"; text = `failed: ${hst.failed.error}`; }
  else if (hst.answered) {
    cls = "answered";
    text = h("span", {}, "got ", h("span", { class: "reply" + (hst.answered.ok ? "" : " wrong") }, ch(hst.answered.reply)), hst.answered.ok ? " ✓" : " ✗");
  } else if (c && c.served !== undefined) { cls = "served"; text = h("span", {}, "server sent ", h("span", { class: "reply" }, ch(c.reply))); }
  else if (c) {
    cls = "connected";
    [extra, text] = countdown(c, delayOf(l), false);
  } else if (hst.connected) { cls = "connected"; text = "connected"; }
  else text = hst.state === "stopped" ? `exited${hst.exit !== undefined && hst.exit !== null ? " " + hst.exit : ""}` : "started, not accepted yet";
  if (hst.state === "stopped" && !hst.answered && !hst.failed && cls !== "served") cls += " stopped";
  return h("div", { class: `host client ${cls}${faulted.has(hst) ? " faulted" : ""}`, "data-role": hst.role, "data-pick": l.prefix + hst.role },
    h("div", { class: "name" }, h("span", { class: "badge" }, "CLIENT"), ` ${hst.role}`),
    h("div", { class: "addr" }, hst.address || "…"),
    h("div", { class: "state" }, text), extra);
}

function verdictBox(v) {
  return h("div", { class: "verdict" + (v.ok ? "" : " bad") }, `${v.ok ? "✔" : "✘"} ${v.server ? v.server + ": " : ""}${v.text}`,
    (v.details || []).length ? h("ul", {}, v.details.map((x) => h("li", {}, x))) : null);
}

const KEPT_LABS = 2; // labs drawn whole; older ones that have their verdict shrink to it (socklab faults runs many)

const sections = new Map(); // a lab's prefix -> its section and the parts of it that are redrawn
function labSection(l, labs, faulted) {
  let box = sections.get(l.prefix);
  if (!box) {
    const servers = h("div", { class: "servers" }), clients = h("div", { class: "clients" });
    box = { section: h("section", { class: "lab", "data-lab": l.prefix || "lab1/" }), title: h("h2", {}), servers, clients,
      hosts: h("div", { class: "hosts" }, servers, clients) };
    sections.set(l.prefix, box);
  }
  const hosts = [...l.hosts.values()];
  const servers = hosts.filter((x) => x.kind === "server");
  const clients = hosts.filter((x) => x.kind === "client").sort((a, b) => byRole(a.role, b.role));
  const version = servers.map((s) => s.image || s.version).filter(Boolean).join(", ");
  const answered = clients.filter((c) => c.answered).length;
  const title = `lab ${l.number}${version ? ": server " + version : ""} — ${clients.length} clients, ${answered} answered`;
  if (box.title.textContent !== title) box.title.textContent = title;
  const verdict = l.verdict ? memo(`verdict:${l.prefix}`, JSON.stringify(l.verdict), () => verdictBox(l.verdict)) : null;
  if (l.verdict && labs.length - labs.indexOf(l) > KEPT_LABS) { // an older lab that is over: its verdict only
    box.section.className = "lab done";
    return setChildren(box.section, [box.title, verdict]);
  }
  box.section.className = "lab";
  setChildren(box.servers, servers.map((s) => serverBox(l, s, faulted)));
  setChildren(box.clients, clients.map((c) => clientBox(l, c, faulted)));
  return setChildren(box.section, [box.title, box.hosts, verdict]);
}

let labDirty = true;
let labDrawn = 0; // performance.now() of the last time the lab was drawn
function renderLab() {
  used = new Set();
  const faulted = new Set();
  for (const f of state.faults.values()) { const hst = faultedHost(f.target); if (hst) faulted.add(hst); }
  const run = state.run || {};
  document.getElementById("title").textContent = run.title || (run.command ? `socklab ${run.command}` : "socklab live view");
  const status = document.getElementById("status");
  if (state.finished) { status.textContent = `finished (exit ${state.finished.exit_code})`; status.className = "status finished"; }
  else if (state.lastN) { status.textContent = "running…"; status.className = "status running"; }
  footer();
  tickers = [];
  const clockEl = document.getElementById("clock");
  ticking(() => { clockEl.textContent = state.lastN ? clock(now()) : ""; });

  const banner = document.getElementById("faults");
  banner.replaceChildren(...[...state.faults.values()].map((f) => {
    const spec = Object.entries(f.spec || {}).filter(([k]) => k !== "mechanism").map(([k, v]) => `${k} ${v}`).join(", ");
    const left = h("span", { class: "left" });
    ticking(() => { left.textContent = f.until ? `${fmt(Math.max(0, f.until - now()))} s left` : `for ${fmt(Math.max(0, now() - f.t))} s`; });
    const hst = faultedHost(f.target);
    const on = hst ? `${hst.lab.number > 1 || state.labs.size > 1 ? "lab " + hst.lab.number + " " : ""}${hst.role}` : f.target;
    return h("div", { class: "fault", "data-fault": f.name, title: f.target }, `⚠ FAULT: ${f.name}${spec ? " (" + spec + ")" : ""} on ${on}`, left);
  }));
  banner.hidden = state.faults.size === 0;
  document.body.classList.toggle("faulted", state.faults.size > 0);

  const labs = [...state.labs.values()].filter((l) => l.hosts.size > 0);
  setChildren(document.getElementById("labs"), labs.map((l) => labSection(l, labs, faulted)));

  renderSteps();

  const verdicts = document.getElementById("verdicts");
  verdicts.replaceChildren(...state.verdicts.map(verdictBox));
  verdicts.hidden = state.verdicts.length === 0;

  setChildren(document.getElementById("log"), state.log.slice(-60).reverse().map((x) =>
    memo(`log:${x.n}`, "", () => h("li", { "data-n": x.n, class: x.fault ? "fault" : null }, `${clock(x.t)}  ${x.text}`))));
  for (const key of made.keys()) if (!used.has(key)) made.delete(key);
}

// A scenario's steps and probes, in the order they happened, in a list of their own under the labs (made the
// first time a scenario's event comes, so that other runs' pages are as they were).
function renderSteps() {
  if (state.steps.length === 0) return;
  let list = document.getElementById("steps");
  if (!list) {
    list = h("ol", { id: "steps", class: "steps" });
    document.getElementById("labs").after(h("section", { class: "log" }, h("h2", {}, "scenario: steps and probes"), list));
  }
  list.replaceChildren(...state.steps.map((x) => h("li", { "data-kind": x.kind, class: x.bad ? "fault" : null }, x.text)));
}

