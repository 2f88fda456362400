"""What the observer and the tracer say, as the event log's ``socket``, ``packet`` and ``syscall`` data.

Pure: no Docker. ``Packets`` reads one namespace's frames (dpkt, ``socklab.capture.packets``) and names each
connection ``client>server`` the same way from both ends; ``socket_data`` and ``syscall_data`` add what the
log adds to the observer's and the tracer's fields (``probe``, ``conn``).
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Mapping
from typing import Any

from socklab.capture.packets import SegmentReader

PAYLOAD_BYTES = 64  # of each packet's payload kept in its event (the lesson's byte is the first)


def address_of(endpoint: str) -> str:
    """``172.18.0.3`` of ``172.18.0.3:9736``, ``::1`` of ``[::1]:9736``."""
    return endpoint.rsplit(":", 1)[0].strip("[]")


def on_loopback(endpoint: str | None) -> bool:
    """An endpoint on the host's own loopback: an image's health check, Docker's embedded DNS (127.0.0.11)."""
    address = address_of(endpoint) if endpoint else ""
    return address.startswith("127.") or address == "::1"


def is_probe(endpoint: str | None, probes_from: frozenset[str]) -> bool:
    """Whether an endpoint is socklab's own (its readiness check from the lab network's gateway) or on loopback,
    not a client of the lesson."""
    return bool(endpoint) and (on_loopback(endpoint) or address_of(str(endpoint)) in probes_from)


class Packets:
    """One capture point's frames as ``packet`` event data; ``port``: the lab's, to tell the server's side
    of a connection whose SYN was not seen (captured late)."""

    def __init__(self, *, port: int, probes_from: frozenset[str] = frozenset()) -> None:
        self.reader = SegmentReader()
        self.port = port
        self.probes_from = probes_from
        self.conns: dict[frozenset[str], str] = {}

    def conn(self, src: str, dst: str, flags: tuple[str, ...]) -> str:
        """``client>server``: the client sent the SYN; without one, the server is on the lab's port (or the lower)."""
        ends = frozenset((src, dst))
        known = self.conns.get(ends)
        if known is None or ("SYN" in flags and "ACK" not in flags):
            if "SYN" in flags:
                client, server = (src, dst) if "ACK" not in flags else (dst, src)
            elif src.endswith(f":{self.port}") != dst.endswith(f":{self.port}"):
                client, server = (dst, src) if src.endswith(f":{self.port}") else (src, dst)
            else:
                client, server = sorted((src, dst), key=lambda e: -int(e.rsplit(":", 1)[1]))
            known = self.conns[ends] = f"{client}>{server}"
        return known

    def data(self, t: float, frame: str, *, outgoing: bool) -> dict[str, Any] | None:
        """A frame (base64, as the observer sends it) as a ``packet`` event's data; None if it is no TCP."""
        try:
            raw = base64.b64decode(frame, validate=True)
        except (binascii.Error, ValueError):
            return None
        segment = self.reader.read(t, raw)
        if segment is None:
            return None
        conn = self.conn(segment.src, segment.dst, segment.flags)
        return {
            "src": segment.src,
            "dst": segment.dst,
            "flags": list(segment.flags),
            "seq": segment.seq,
            "ack": segment.ack,
            "length": segment.size,
            "label": segment.label,
            "retransmission": segment.retransmission,
            "payload": list(segment.payload[:PAYLOAD_BYTES]),
            "conn": conn,
            "outgoing": outgoing,
            "probe": is_probe(conn.split(">")[0], self.probes_from),
        }


def socket_data(fields: Mapping[str, Any], probes_from: frozenset[str]) -> dict[str, Any]:
    """A ``socket`` event's data: the observer's row, and ``probe`` when it is not the lesson's: its peer is
    socklab's readiness check, or it is on loopback (a health check, Docker's DNS listener on 127.0.0.11)."""
    probe = is_probe(fields.get("peer"), probes_from) or on_loopback(fields.get("local"))
    return {**fields, "probe": probe}


def syscall_data(fields: Mapping[str, Any]) -> dict[str, Any]:
    """A ``syscall`` event's data from the tracer's: ``socket`` is the server's side (``local>peer``), and
    ``conn`` the connection as packets and sockets name it (``client>server``)."""
    data = {key: value for key, value in fields.items() if key != "t"}
    socket = fields.get("socket")
    if socket and ">" in socket:
        local, peer = socket.split(">", 1)
        data["conn"] = f"{peer}>{local}"
    else:
        data["conn"] = None
    return data
