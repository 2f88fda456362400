"""``stream-vs-datagram``: 20 % loss on the server's interface; N exchanges over TCP, N over UDP.

TCP hides the loss: every exchange gets 'B', later, because the kernel sends lost segments again (the
server namespace's ``RetransSegs`` in ``/proc/net/snmp`` counts them). UDP does not: the lab's client
sends its datagram once (no resend) and a lost request or answer is a lost exchange.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from socklab.experiments.plots import draw_counts
from socklab.experiments.record import Result
from socklab.experiments.stage import Stage
from socklab.faults.network import packet_loss
from socklab.lab.containers import LabContainer
from socklab.progress import Progress, quiet
from socklab.wire import ClientResult, parse_results
from socklab.wire.config import ClientConfig, ServerConfig

NAME = "stream-vs-datagram"
CLAIM = "a stream is reliable (every byte arrives, in order); datagrams may be lost"
PORT = 9736
NO_HEALTHCHECK = {"test": ["NONE"]}
HOSTS = 2  # client containers per transport, each making exchanges/HOSTS exchanges one after another


def _snmp(stage: Stage, server: LabContainer) -> dict[str, dict[str, int]]:
    counters: dict[str, dict[str, int]] = stage.observe(server, "counters")[0]
    return counters


def run(
    *,
    probes_image: str,
    server_image: str,
    client_image: str,
    udp_server_image: str = "socklab/server:async",
    exchanges: int = 20,
    loss: float = 20.0,
    plot_dir: Path | None = None,
    progress: Progress = quiet,
    **_: Any,
) -> Result:
    result = Result(NAME, CLAIM)
    started = time.monotonic()
    per_host = max(1, exchanges // HOSTS)
    exchanges = per_host * HOSTS
    result.did += [
        f"a TCP server ({server_image}) and a UDP server ({udp_server_image}), both answering at once (delay 0)",
        f"{loss:g} % of the packets in and out of each server's interface dropped at random (iptables statistic)",
        f"{exchanges} TCP exchanges and {exchanges} UDP exchanges ({HOSTS} client hosts each, one exchange after "
        "another); the UDP client sends its datagram once and waits 1 s for the answer",
        "retransmissions from the TCP server namespace's /proc/net/snmp (Tcp RetransSegs), before and after",
    ]
    with Stage(NAME, probes_image=probes_image, progress=progress) as stage:
        # Quiet servers: no reverse DNS and no health check, whose own packets the counters would count.
        quiet_server = ServerConfig(delay=0, resolve_names=False).to_env()
        udp_server_env = ServerConfig(model="async", transport="udp", delay=0, resolve_names=False).to_env()
        tcp_server = stage.start(
            "tcp-server", image=server_image, alias="tcp-server", env=quiet_server, healthcheck=NO_HEALTHCHECK
        )
        udp_server = stage.start(
            "udp-server",
            image=udp_server_image,
            alias="udp-server",
            env=udp_server_env,
            healthcheck=NO_HEALTHCHECK,
        )
        stage.wait_for_line(tcp_server, r"listening on")
        stage.wait_for_listening(udp_server, "(udp", udp_server_image)
        before = _snmp(stage, tcp_server), _snmp(stage, udp_server)
        tcp_client = ClientConfig(json=True, repeat=per_host, port=PORT, server="tcp-server", connect_deadline=60)
        udp_client = ClientConfig(
            json=True, repeat=per_host, port=PORT, server="udp-server", transport="udp", reply_timeout=1
        )
        with (
            packet_loss(stage.lab, tcp_server, loss, progress=progress),
            packet_loss(stage.lab, udp_server, loss, progress=progress),
        ):
            clients = [
                stage.start(
                    f"{transport}-client-{k}",
                    image=client_image,
                    env=knobs.to_env(),
                )
                for k in range(HOSTS)
                for transport, knobs in (("tcp", tcp_client), ("udp", udp_client))
            ]
            outputs = {run.name: run.stdout for run in stage.lab.collect(clients, timeout=180)}
        after = _snmp(stage, tcp_server), _snmp(stage, udp_server)

    records: dict[str, list[ClientResult]] = {"tcp": [], "udp": []}
    for name, output in outputs.items():
        records["tcp" if "-tcp-client-" in name else "udp"] += parse_results(output)
    counts: dict[str, dict[str, Any]] = {}
    for transport, found in records.items():
        answered = sum(1 for r in found if r.ok and r.received_char == "B")
        seconds = [(r.connect_seconds or 0.0) + (r.answer_seconds or 0.0) for r in found if r.ok]
        counts[transport] = {
            "exchanges": exchanges,
            "answered": answered,
            "lost": exchanges - answered,
            "slowest_seconds": round(max(seconds), 3) if seconds else None,
            "outcomes": sorted({r.outcome for r in found}),
        }
    tcp_before, udp_before = before
    tcp_after, udp_after = after
    counts["tcp"]["retransmitted_segments"] = tcp_after["Tcp"]["RetransSegs"] - tcp_before["Tcp"]["RetransSegs"]
    counts["tcp"]["segments_in"] = tcp_after["Tcp"]["InSegs"] - tcp_before["Tcp"]["InSegs"]
    counts["udp"]["datagrams_in"] = udp_after["Udp"]["InDatagrams"] - udp_before["Udp"]["InDatagrams"]
    counts["udp"]["datagrams_out"] = udp_after["Udp"]["OutDatagrams"] - udp_before["Udp"]["OutDatagrams"]
    result.numbers = {"loss_percent": loss, **counts}
    tcp, udp = counts["tcp"], counts["udp"]
    result.observed += [
        f"{'':<5} {'exchanges':>9} {'answered':>8} {'lost':>5} {'slowest s':>9}  kernel (server namespace)",
        f"{'TCP':<5} {tcp['exchanges']:>9} {tcp['answered']:>8} {tcp['lost']:>5} {tcp['slowest_seconds']!s:>9}  "
        f"{tcp['retransmitted_segments']} segments retransmitted (RetransSegs), {tcp['segments_in']} received",
        f"{'UDP':<5} {udp['exchanges']:>9} {udp['answered']:>8} {udp['lost']:>5} {udp['slowest_seconds']!s:>9}  "
        f"{udp['datagrams_in']} datagrams reached the server of {exchanges} sent, {udp['datagrams_out']} answers "
        "sent",
    ]
    if tcp["lost"]:
        result.differences.append(f"{tcp['lost']} TCP exchanges did not get 'B' under {loss:g} % loss")
    if plot_dir is not None:
        picture = draw_counts(
            {
                "TCP": {
                    "answered": tcp["answered"],
                    "lost": tcp["lost"],
                    "retransmitted": tcp["retransmitted_segments"],
                },
                "UDP": {"answered": udp["answered"], "lost": udp["lost"], "retransmitted": 0},
            },
            plot_dir / "stream-vs-datagram.png",
            title=f"{exchanges} exchanges each under {loss:g} % loss on the server's interface",
            ylabel="exchanges (retransmitted: segments)",
        )
        result.files.append(str(picture))
    result.seconds = time.monotonic() - started
    return result
