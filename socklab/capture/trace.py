"""One client's exchange with the lab's server, captured on the server's interface, written three ways.

The server and the client are the lab's own images on a throwaway network; tcpdump runs in a tools
sidecar in the server's namespace from before the client starts until the server's side of the
connection is closed. Out come the raw pcap (Wireshark opens it), a text listing and a sequence diagram.
With ``loss`` percent, packets in and out of the server are dropped at random while the client runs,
and the retransmissions show in all three.
"""

from __future__ import annotations

import contextlib
import io
import time
from dataclasses import dataclass, field
from pathlib import Path

import dpkt

from socklab.capture.diagram import Host, draw_sequence
from socklab.capture.packets import Segment, flag_letters, listing, read_segments
from socklab.capture.tcpdump import Tcpdump
from socklab.events import recorder as events
from socklab.events.schema import Kind
from socklab.faults.network import packet_loss
from socklab.kernel.sockets import read_sockets
from socklab.lab.containers import LabContainer
from socklab.lab.lab import Lab
from socklab.lab.sidecar import tools_image
from socklab.progress import Progress, quiet
from socklab.wire.config import ServerConfig

PORT = 9736
CLOSE_WAIT_LIMIT = 5.0  # seconds to let the connection finish closing after the client exits
# Read beside the server (any image: the tools sidecar brings the reader): until no connection on the port is
# left but the listener and TIME_WAIT, i.e. both FINs were sent and acknowledged.
WAIT_CLOSED = (str(PORT), "--until-only", "LISTEN,TIME_WAIT", "--timeout", str(CLOSE_WAIT_LIMIT))


class ExchangeFailed(RuntimeError):
    """The client did not finish its exchange; the message carries its output."""


@dataclass
class TraceResult:
    pcap: Path
    picture: Path
    text: Path
    client: Host
    server: Host
    answer: str | None
    segments: list[Segment] = field(default_factory=list)
    fault: str | None = None
    tcpdump: str = ""
    seconds: float = 0.0

    @property
    def retransmissions(self) -> int:
        return sum(s.retransmission for s in self.segments)

    def labels(self) -> list[str]:
        return [s.label for s in self.segments]

    def summary(self) -> str:
        return (
            f"{len(self.segments)} segments between {self.client.name} {self.client.address} and "
            f"{self.server.name} {self.server.address}:{PORT}, answer {self.answer!r}, "
            f"{self.retransmissions} retransmission(s)" + (f" under {self.fault}" if self.fault else "")
        )


def run_trace(
    *,
    output: Path,
    server_image: str = "socklab/server:latest",
    client_image: str = "socklab/client:latest",
    delay: float = 1.0,
    loss: float = 0.0,
    progress: Progress = quiet,
) -> TraceResult:
    started = time.monotonic()
    output.mkdir(parents=True, exist_ok=True)
    # No reverse DNS for the log: under loss its lookups would hold the close back (and are not the exchange).
    no_lookups = ServerConfig(resolve_names=False).to_env()
    with Lab(server_image=None, delay=delay, port=PORT, purpose="experiment-trace", progress=progress) as lab:
        tools = tools_image(lab.docker, progress)
        # Started without the lab's connect check: that connection would still be open when tcpdump starts.
        server = lab.add(lab.topology.server(server_image, env=no_lookups))
        server.wait_for_log("listening on", timeout=lab.startup_timeout, literal=True)
        server_ip = server.address()
        capture = Tcpdump(lab, server, image=tools, bpf=f"tcp port {PORT}")
        fault = None
        with capture:
            progress(f"tcpdump listening in {server_ip}'s namespace")
            with _maybe_loss(lab, server, loss, progress) as fault:
                client = lab.run_once(lab.topology.client(1, client_image), timeout=delay + 120)
                read_sockets(lab, server, *WAIT_CLOSED, image=tools)
        if client.exit_code != 0:
            raise ExchangeFailed(f"the client exited {client.exit_code}: {(client.stdout + client.stderr)[-2000:]}")
    record = client.result  # its result line, read by wire's one parser
    client_ip = str(record.address if record and record.address else "?").rpartition(":")[0]
    client_host = Host(f"client {record.host if record else ''}".strip(), client_ip)
    server_host = Host("server", server_ip)
    segments = read_segments(capture.pcap, port=PORT)
    _record_packets(segments, capture.pcap, client_host, server_host, host=lab.host_prefix + server.node.role)
    result = TraceResult(
        pcap=output / "trace.pcap",
        picture=output / "trace.png",
        text=output / "trace.txt",
        client=client_host,
        server=server_host,
        answer=record.received_char if record else None,
        segments=segments,
        fault=fault,
        tcpdump=capture.summary,
    )
    result.pcap.write_bytes(capture.pcap)
    title = f"one exchange: 'A' -> {result.answer!r}, server delay {delay:g} s" + (
        f", {loss:g} % loss on the server's interface" if loss else ""
    )
    draw_sequence(segments, client_host, server_host, result.picture, title=title)
    names = {client_ip: "client", server_ip: "server"}
    result.text.write_text(f"{title}\n{result.summary()}\n\n{listing(segments, names)}\n\ntcpdump: {capture.summary}\n")
    result.seconds = time.monotonic() - started
    events.emit(Kind.VERDICT, ok=result.answer == "B", text=result.summary(), details=[f"tcpdump: {capture.summary}"])
    return result


def _record_packets(segments: list[Segment], pcap: bytes, client: Host, server: Host, *, host: str) -> None:
    """Every segment as a ``packet`` event (when the run is being recorded), at the time it was captured, in
    ``host``'s namespace (the server's)."""
    if not events.recording():
        return
    first = next(iter(dpkt.pcap.Reader(io.BytesIO(pcap))), (time.time(), b""))[0]
    # The connection as --kernel names it (client>server): the client's end is the one not on the server's port.
    ends = {s.src for s in segments} | {s.dst for s in segments}
    client_port = next((end.rsplit(":", 1)[1] for end in ends if end != f"{server.address}:{PORT}"), "0")
    for segment in segments:
        events.emit(
            Kind.PACKET,
            host,
            t=first + segment.time,
            src=segment.src,
            dst=segment.dst,
            flags=flag_letters(segment.flags),
            seq=segment.seq,
            ack=segment.ack,
            length=segment.size,
            payload=list(segment.payload[:64]),
            label=segment.label,
            retransmission=segment.retransmission,
            conn=f"{client.address}:{client_port}>{server.address}:{PORT}",
            time=segment.time,
            client={"name": client.name, "address": client.address},
            server={"name": server.name, "address": server.address},
        )


def _maybe_loss(
    lab: Lab, server: LabContainer, percent: float, progress: Progress
) -> contextlib.AbstractContextManager[str | None]:
    if not percent:
        return contextlib.nullcontext(None)
    return packet_loss(lab, server, percent, progress=progress)
