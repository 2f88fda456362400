"""Peer names for the log, looked up only where the answer is local.

On a Docker network the embedded DNS names every container itself, at once. Any other address (the
host's gateway, a peer routed from elsewhere) would be forwarded to the host's resolvers: traffic that
leaves the lab, and a lookup that can take the resolver's 5 s timeout. CPython 3.11.2's ``getnameinfo``
holds the GIL while it waits (cpython#104308), so in the thread and async models one slow lookup stalled
every connection: measured, thread and async fell from ~1200 to 11 exchanges/s.
So a name is looked up only for a peer on one of this host's directly connected IPv4 networks that is
not a gateway: there, that means another container.
"""

from __future__ import annotations

import ipaddress
import socket
import struct
from collections.abc import Iterable

ROUTES = "/proc/net/route"


def _ipv4(hex_le: str) -> ipaddress.IPv4Address:
    return ipaddress.IPv4Address(struct.pack("<I", int(hex_le, 16)))


def parse_routes(lines: Iterable[str]) -> tuple[list[ipaddress.IPv4Network], set[ipaddress.IPv4Address]]:
    """Connected networks and gateways from the text of /proc/net/route (a pure function, for tests)."""
    networks, gateways = [], set()
    for line in list(lines)[1:]:
        fields = line.split()
        if len(fields) < 8:
            continue
        destination, gateway, mask = _ipv4(fields[1]), _ipv4(fields[2]), _ipv4(fields[7])
        if int(gateway):
            gateways.add(gateway)
        elif int(mask):
            networks.append(ipaddress.IPv4Network(f"{destination}/{mask}", strict=False))
    return networks, gateways


class PeerNames:
    """``name_of(address)``: the peer's DNS name, or None when it has none or is not looked up."""

    def __init__(self, enabled: bool, routes: Iterable[str] | None = None) -> None:
        self.enabled = enabled
        # Read once at start: later, descriptors may be short (EMFILE) and a failed read would stick.
        self._local = self._read_routes(routes) if enabled else ([], set())

    @staticmethod
    def _read_routes(routes: Iterable[str] | None) -> tuple[list[ipaddress.IPv4Network], set[ipaddress.IPv4Address]]:
        if routes is not None:
            return parse_routes(routes)
        try:
            with open(ROUTES) as table:
                return parse_routes(table)
        except OSError:
            return [], set()  # not Linux, or no /proc: look nothing up

    def worth_looking_up(self, address: str) -> bool:
        if not self.enabled:
            return False
        try:
            ip = ipaddress.ip_address(address)
        except ValueError:
            return False
        networks, gateways = self._local
        return isinstance(ip, ipaddress.IPv4Address) and ip not in gateways and any(ip in n for n in networks)

    def name_of(self, address: str, port: int) -> str | None:
        if not self.worth_looking_up(address):
            return None
        try:
            return socket.getnameinfo((address, port), socket.NI_NAMEREQD)[0]
        except OSError:
            return None  # no reverse record: the address alone names the peer
