// The Packets panel: one client's connection as a ladder (client on the left, server on the right, time
// downwards), from the `packet` events. A segment captured at both ends is one rung: it leaves at the
// sender's capture time and arrives at the receiver's. With 50 clients only one ladder is drawn: the client
// picked (a click on its button, its box or its sockets), else the first.
"use strict";

const KEPT_SEGMENTS = 400; // per connection; beyond, counted
const LADDER_ROWS = 80; // rungs drawn: the first and the last halves beyond it
const PAUSE = 0.2; // seconds between two rungs that earn a row saying how long nothing happened
const MATCH_WITHIN = 2; // seconds within which a segment captured at the other end is the same one

function twin(waiting, host, d) {
  // The segment captured at the other end that this one is: the same sender, receiver, flags and length,
  // not seen here yet; the one with the same sequence numbers when there is one (each end numbers them
  // from the SYN it saw), else the oldest.
  let first = null;
  for (const s of waiting) {
    if (host in s.at) continue;
    if (s.seq === d.seq && s.ack === d.ack) return s;
    first = first || s;
  }
  return first;
}
const SVG_NS = "http://www.w3.org/2000/svg"; // the SVG namespace: a name, never fetched

function svg(tag, attrs, ...children) {
  const el = document.createElementNS(SVG_NS, tag);
  for (const [k, v] of Object.entries(attrs || {})) if (v !== null && v !== undefined) el.setAttribute(k, v);
  for (const c of children.flat()) if (c !== null && c !== undefined) el.append(c instanceof Node ? c : String(c));
  return el;
}

function letters(flags) {
  // tcpdump's letters ("SA"); an older log (socklab trace) wrote a list of names.
  if (!Array.isArray(flags)) return String(flags || "");
  const of = { SYN: "S", FIN: "F", RST: "R", PSH: "P", ACK: "A" };
  return Object.keys(of).filter((k) => flags.includes(k)).map((k) => of[k]).join("");
}

function segmentLabel(s) {
  if (s.label) return s.label;
  const f = s.flags;
  if (f.includes("S")) return f.includes("A") ? "SYN-ACK" : "SYN";
  if (f.includes("R")) return "RST";
  if (s.length) return s.payload && s.length === 1 ? `'${String.fromCharCode(s.payload[0])}'` : `${s.length} bytes`;
  if (f.includes("F")) return f.includes("A") ? "FIN-ACK" : "FIN";
  return "ACK";
}

const packetsPanel = panel({
  name: "packets",
  kinds: new Set(["packet"]),
  conns: new Map(), // conn id -> {id, client, server, segs, index, dropped}
  drawn: new Set(), // the ids of the connections the last render drew

  apply(e) {
    const d = e.data || {};
    if (d.probe) return false; // socklab's own readiness check: not the lesson's
    const flags = letters(d.flags);
    const id = d.conn || [d.src, d.dst].sort().join(" ");
    let c = this.conns.get(id);
    const isNew = !c;
    if (!c) { c = { id, client: null, server: null, segs: [], index: new Map(), dropped: 0 }; this.conns.set(id, c); }
    if (!c.client && flags.includes("S")) [c.client, c.server] = flags.includes("A") ? [d.dst, d.src] : [d.src, d.dst];
    if (!c.client && d.client && d.client.address) [c.client, c.server] = ipOf(d.src) === d.client.address ? [d.src, d.dst] : [d.dst, d.src];
    const key = `${d.src}>${d.dst}|${flags}|${d.length}`;
    const waiting = c.index.get(key) || []; // segments like it seen at one end only, the last 2 s
    while (waiting.length && waiting[0].t < e.t - MATCH_WITHIN) waiting.shift();
    const seg = twin(waiting, e.host, d);
    if (seg) { seg.at[e.host] = e.t; seg.again = seg.again || !!d.retransmission; waiting.splice(waiting.indexOf(seg), 1); }
    else if (c.segs.length >= KEPT_SEGMENTS) { c.dropped++; return false; }
    else {
      const made = { src: d.src, dst: d.dst, flags, seq: d.seq, ack: d.ack, length: d.length, payload: d.payload,
        label: d.label, again: !!d.retransmission, at: { [e.host]: e.t }, t: e.t };
      c.segs.push(made);
      waiting.push(made);
      c.index.set(key, waiting);
    }
    return isNew || this.drawn.has(id) || this.drawn.size === 0;
  },

  clientOf(c) {
    const end = c.client || [...c.id.split(/[ >]/)].find((x) => !/:9736$/.test(x)) || c.id;
    return nameOf(end);
  },

  render() {
    const section = document.getElementById("packets");
    section.hidden = this.conns.size === 0;
    if (section.hidden) return;
    document.getElementById("kernel").hidden = false;
    const byClient = new Map();
    for (const c of this.conns.values()) {
      const who = this.clientOf(c);
      if (!byClient.has(who)) byClient.set(who, []);
      byClient.get(who).push(c);
    }
    const names = [...byClient.keys()].sort(byHost);
    const chosen = byClient.has(state.ladder) ? state.ladder : names[0];
    const conns = byClient.get(chosen);
    const c = conns[conns.length - 1]; // its latest connection
    this.drawn = new Set([c.id]);
    section.querySelector(".body").replaceChildren(
      h("div", { class: "picker" }, "client: ", names.map((n) => h("button", { class: "pick" + (n === chosen ? " on" : ""), "data-pick": n, type: "button" }, split(n)[1]))),
      h("div", { class: "meta" }, `${chosen}: ${c.segs.length} segments` + (conns.length > 1 ? `, its latest of ${conns.length} connections` : "") +
        (c.dropped ? ` (${c.dropped} more not kept)` : "")),
      ladder(c));
  },
});

function rows(segs) {
  // The rungs in the order they left, with a row for each pause; the first and last halves of a long one.
  const sorted = segs.map((s) => ({ s, out: sentAt(s) })).sort((a, b) => a.out - b.out);
  let picked = sorted;
  if (sorted.length > LADDER_ROWS) {
    const half = LADDER_ROWS / 2;
    picked = [...sorted.slice(0, half), { skipped: sorted.length - LADDER_ROWS }, ...sorted.slice(-half)];
  }
  const out = [];
  let previous = null;
  for (const r of picked) {
    if (r.skipped) { out.push({ note: `… ${r.skipped} segments not drawn …` }); previous = null; continue; }
    if (previous !== null && r.out - previous >= PAUSE) out.push({ note: `… ${(r.out - previous).toFixed(3)} s pass …` });
    out.push(r);
    previous = r.out;
  }
  return [out, sorted.length ? sorted[0].out : 0];
}

function sentAt(s) {
  const mine = s.at[nameOf(s.src)];
  return mine !== undefined ? mine : Math.min(...Object.values(s.at));
}

function ladder(c) {
  const [lines, first] = rows(c.segs);
  const W = 760, L = 200, R = 620, TOP = 46, ROW = 26, NOTE = 24;
  const client = c.client ? ipOf(c.client) : null;
  const height = TOP + lines.reduce((n, r) => n + (r.note ? NOTE : ROW), 0) + 14;
  const g = svg("svg", { class: "ladder", viewBox: `0 0 ${W} ${height}`, width: W, height });
  const [clientEnd, serverEnd] = [c.client || "?", c.server || "?"];
  g.append(
    svg("text", { x: L, y: 16, class: "end" }, nameOf(clientEnd)), svg("text", { x: L, y: 32, class: "addr" }, clientEnd),
    svg("text", { x: R, y: 16, class: "end" }, nameOf(serverEnd)), svg("text", { x: R, y: 32, class: "addr" }, serverEnd),
    svg("line", { x1: L, y1: TOP - 6, x2: L, y2: height, class: "life" }), svg("line", { x1: R, y1: TOP - 6, x2: R, y2: height, class: "life" }));
  let y = TOP;
  for (const r of lines) {
    if (r.note) { g.append(svg("text", { x: (L + R) / 2, y: y + 13, class: "pause" }, r.note)); y += NOTE; continue; }
    const s = r.s;
    const fromClient = client ? ipOf(s.src) === client : true;
    const [x1, x2] = fromClient ? [L, R] : [R, L];
    const arrived = s.at[nameOf(s.dst)];
    const label = segmentLabel(s);
    const again = s.again && !/retransmission/.test(label) ? `${label} (again)` : label;
    const travel = arrived !== undefined ? ` → arrived ${((arrived - r.out) * 1e6).toFixed(0)} µs later` : "";
    g.append(svg("g", { class: "seg" + (s.again ? " again" : "") + (s.flags.includes("R") ? " reset" : ""), "data-label": label, "data-flags": s.flags },
      svg("title", {}, `${s.src} → ${s.dst}  [${s.flags}] seq ${s.seq} ack ${s.ack} len ${s.length}${travel}`),
      svg("text", { x: 6, y: y + 14, class: "time" }, `+${(r.out - first).toFixed(6)}`),
      svg("line", { x1, y1: y + 4, x2: x2 + (fromClient ? -6 : 6), y2: y + 18, class: "arrow" }),
      svg("path", { d: `M ${x2} ${y + 19} l ${fromClient ? -9 : 9} -7 l 0 7 z`, class: "head" }),
      svg("text", { x: (L + R) / 2, y: y + 8, class: "label" }, again),
      svg("text", { x: W - 4, y: y + 14, class: "seq" }, `seq ${s.seq} ack ${s.ack}`)));
    y += ROW;
  }
  return g;
}
