// The Sockets panel: each host's sockets from its `socket` events (one per change, as ss saw it in the
// host's namespace). The server's listener is drawn as its accept queue: backlog + 1 slots (what Linux
// holds), filled by the connections accept() has not taken yet; each connection as its state and the
// states it went through. A client whose SYN the full queue dropped says how often it sent it again
// (from the `packet` events' retransmitted SYNs).
"use strict";
const NUMERIC = new Intl.Collator(undefined, { numeric: true }).compare; // made once: one per call is slow

const SOCKET_ROWS = 24; // a server lists this many connections; the rest are counted
const SOCKET_CARDS = 60; // client hosts drawn
const TRAIL = 6; // states kept per socket

const STATE_SAYS = {
  LISTEN: "waiting for connections",
  SYN_SENT: "connect() sent its SYN, no answer yet",
  SYN_RECV: "SYN answered, handshake not finished",
  ESTABLISHED: "connected",
  FIN_WAIT1: "closed first: its FIN is on the way",
  FIN_WAIT2: "closed first: its FIN was acknowledged, waiting for the peer's",
  TIME_WAIT: "closed first: waits 60 s so that late segments of this connection die out",
  CLOSE_WAIT: "the peer closed; this side has not closed yet",
  LAST_ACK: "closed second: waiting for the ACK of its FIN",
  CLOSING: "both closed at once",
  CLOSE: "closed",
  GONE: "no longer in the namespace",
};

const socketsPanel = panel({
  name: "sockets",
  kinds: new Set(["socket", "packet"]),
  el: () => document.getElementById("sockets"),
  hosts: new Map(), // host -> Map(key -> socket)
  synAgain: new Map(), // a client's ip:port -> Map(capture host -> retransmitted SYNs seen there)

  apply(e) {
    const d = e.data || {};
    if (d.probe) return false; // socklab's own readiness check, a health check: not the lesson's
    if (e.kind === "packet") {
      if (!(d.retransmission && String(d.flags).includes("S") && !/A/.test(String(d.flags)))) return false;
      if (!this.synAgain.has(d.src)) this.synAgain.set(d.src, new Map());
      const seen = this.synAgain.get(d.src);
      seen.set(e.host, (seen.get(e.host) || 0) + 1);
      return true;
    }
    if (!this.hosts.has(e.host)) this.hosts.set(e.host, new Map());
    const socks = this.hosts.get(e.host);
    let s = socks.get(d.key);
    if (!s) { s = { key: d.key, first: e.t, trail: [] }; socks.set(d.key, s); }
    if (d.state === "GONE") { s.gone = e.t; s.trail.push("GONE"); }
    else {
      if (s.state !== d.state) s.trail.push(d.state);
      Object.assign(s, { local: d.local, peer: d.peer, state: d.state, recv_q: d.recv_q, send_q: d.send_q, backlog: d.backlog,
        rtt_ms: d.rtt_ms, cwnd: d.cwnd, retrans: d.retrans, t: e.t });
      s.gone = undefined;
    }
    if (s.trail.length > TRAIL) s.trail.splice(0, s.trail.length - TRAIL);
    if (s.state !== "LISTEN" && d.state !== "GONE") learnIp(d.local, e.host);
    return true;
  },

  render() {
    const section = this.el();
    section.hidden = this.hosts.size === 0;
    if (section.hidden) return;
    document.getElementById("kernel").hidden = false;
    const names = [...this.hosts.keys()].sort(byHost);
    const servers = names.filter((n) => kindOf(split(n)[1]) !== "client");
    const clients = names.filter((n) => kindOf(split(n)[1]) === "client");
    section.querySelector(".body").replaceChildren(
      h("div", { class: "sock-servers" }, servers.map((n) => this.serverCard(n))),
      h("div", { class: "sock-clients" }, clients.slice(0, SOCKET_CARDS).map((n) => this.clientCard(n)),
        clients.length > SOCKET_CARDS ? h("div", { class: "meta" }, `and ${clients.length - SOCKET_CARDS} more clients`) : null));
  },

  serverCard(name) {
    const socks = [...this.hosts.get(name).values()];
    const listeners = socks.filter((s) => s.state === "LISTEN" && !s.gone);
    const conns = socks.filter((s) => s.state !== "LISTEN");
    const open = conns.filter((s) => !s.gone);
    const shown = open.slice(-SOCKET_ROWS);
    const halfOpen = open.filter((s) => s.state === "SYN_RECV").length;
    return h("div", { class: "sock-host server", "data-host": name },
      h("div", { class: "name" }, h("span", { class: "badge" }, "SERVER"), ` ${name} `, h("span", { class: "addr" }, addressOf(name))),
      listeners.map((s) => listenQueue(s)),
      halfOpen ? h("div", { class: "meta halfopen" }, `${halfOpen} half-open (SYN_RECV): handshakes not finished yet`) : null,
      h("table", { class: "socks" }, h("tbody", {}, shown.map((s) => h("tr", { class: "sock", "data-state": s.state, "data-peer": s.peer, "data-pick": nameOf(s.peer) },
        h("td", { class: "who" }, nameOf(s.peer)), h("td", { class: "peer" }, s.peer || ""), h("td", {}, chip(s.state)),
        h("td", { class: "trail" }, s.trail.slice(0, -1).join(" → ")), h("td", { class: "q" }, queues(s)))))),
      open.length > shown.length ? h("div", { class: "meta" }, `and ${open.length - shown.length} earlier connections`) : null,
      conns.length > open.length ? h("div", { class: "meta" }, `${conns.length - open.length} connections gone`) : null);
  },

  clientCard(name) {
    const socks = [...this.hosts.get(name).values()].filter((s) => s.state !== "LISTEN");
    const s = socks[socks.length - 1];
    const again = s ? this.againFor(s.local) : 0;
    const waiting = s && !s.gone && s.state === "SYN_SENT";
    return h("div", { class: "sock-host client" + (s && s.gone ? " gone" : ""), "data-host": name, "data-pick": name, title: "click: its packets" },
      h("div", { class: "name" }, split(name)[1]),
      s ? h("div", { class: "sock", "data-state": s.gone ? "GONE" : s.state }, chip(s.gone ? "GONE" : s.state),
        h("div", { class: "trail" }, s.trail.slice(0, -1).join(" → "))) : null,
      again ? h("div", { class: "synagain" + (waiting ? " now" : "") }, waiting ? `SYN sent again ×${again}: no answer, the server's queue is full` : `its SYN was sent again ×${again} before it got in`) : null,
      socks.length > 1 ? h("div", { class: "meta" }, `${socks.length} sockets`) : null);
  },

  againFor(local) {
    const seen = this.synAgain.get(local);
    return seen ? Math.max(...seen.values()) : 0;
  },
});

function listenQueue(s) {
  // Linux's accept queue holds backlog + 1 connections (sk_acceptq_is_full: length > backlog); a SYN that
  // finds it full is dropped, and its client sends it again 1, 3, 7… s later.
  const backlog = typeof s.backlog === "number" ? s.backlog : null;
  const slots = backlog === null ? Math.max(1, s.recv_q || 0) : backlog + 1;
  const queued = s.recv_q || 0;
  const full = backlog !== null && queued > backlog;
  const cells = [];
  for (let i = 0; i < slots; i++) cells.push(h("span", { class: "slot" + (i < queued ? " taken" : "") }));
  return h("div", { class: "listen" + (full ? " full" : ""), "data-key": s.key, "data-backlog": backlog, "data-queued": queued },
    h("div", { class: "label" }, `listening on ${s.local}${backlog !== null ? `, listen(${backlog}): room for ${slots}` : ""}`),
    h("div", { class: "slots" }, cells),
    h("div", { class: "says" }, `${queued} of ${slots} connected, waiting for accept()` + (full ? " — FULL: a new SYN is dropped" : "")));
}

function chip(st) {
  return h("span", { class: `state st-${st}`, title: STATE_SAYS[st] || st }, st);
}

function queues(s) {
  const parts = [];
  if (s.recv_q) parts.push(`${s.recv_q} unread`);
  if (s.send_q) parts.push(`${s.send_q} unsent`);
  if (typeof s.rtt_ms === "number") parts.push(`rtt ${s.rtt_ms} ms`);
  if (s.retrans) parts.push(`${s.retrans} retransmitted`);
  return parts.join(", ");
}

function nameOf(endpoint) {
  // A peer's ip:port as the host that has the IP ("client-3"), else as it is.
  const ip = ipOf(endpoint);
  return state.ips.get(ip) || endpoint || "?";
}

function addressOf(name) {
  for (const [ip, who] of state.ips) if (who === name) return ip;
  return "";
}

function byHost(a, b) {
  const [pa, ra] = split(a), [pb, rb] = split(b);
  const rank = (r) => (kindOf(r) === "server" ? 0 : kindOf(r) === "client" ? 1 : 2);
  return pa.localeCompare(pb) || rank(ra) - rank(rb) || NUMERIC(ra, rb);
}
