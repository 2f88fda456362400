"""``congestion``: a bulk transfer's congestion window and retransmissions under 0, 1, 5 and 20 % loss.

A sender host writes as fast as it can for a few seconds to each of four receiver hosts in turn; the
receivers drop that share of the packets in and out of their namespace at random (the faults' ``loss``:
iptables statistic, from a sidecar). The sender's link is held to 20 Mbit/s (tc tbf on its interface,
from a tools sidecar) so that the window, not the CPU, sets the pace, as across a real network. The
sender samples its own socket every 5 ms (TCP_INFO: cwnd, ssthresh, retransmissions, congestion state),
once with this kernel's default congestion control and once with Reno, the textbooks' algorithm
(``net.ipv4.tcp_congestion_control`` of the sender's namespace); the receivers check every byte.
"""

from __future__ import annotations

import contextlib
import itertools
import statistics
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from socklab.experiments.plots import draw_windows
from socklab.experiments.record import Result
from socklab.experiments.stage import Stage
from socklab.faults.network import loss
from socklab.lab.containers import LabContainer
from socklab.lab.sidecar import run_in_namespace, tools_image
from socklab.progress import Progress, quiet

NAME = "congestion"
CLAIM = (
    "TCP keeps the stream whole under loss by retransmitting, and reads loss as congestion: at each loss the "
    "sender halves its congestion window (AIMD), so the more loss, the slower the transfer"
)
PORT = 9736
LEVELS = (0, 1, 5, 20)  # percent of the packets dropped in and out of a receiver
SENDERS = {"default": {}, "reno": {"net.ipv4.tcp_congestion_control": "reno"}}
LINK = ("tc", "qdisc", "add", "dev", "eth0", "root", "tbf", "rate", "20mbit", "burst", "16kb", "latency", "20ms")
# Reno sets ssthresh to half the window at a loss; CUBIC to 0.7 of it. The sampled window is up to one
# sample (5 ms, about one round trip behind the link's queue) old, so a measured halving reads 0.40-0.55:
# between 0.35 and 0.6 is a halving, above it a gentler cut.
HALVING = (0.35, 0.6)
MIN_CUTS = 3  # in all four transfers: a loss-based sender cuts once per recovery (tens of them, TCPSackRecovery)
SLOWER = 0.5  # at 20 % loss each way timeouts dominate: at most half the loss-free rate, measured 1/20


def cuts(samples: list[list[Any]]) -> list[float]:
    """Each time the sender cut its window for a loss: ssthresh came down, below the window it had just
    before; the ratio of the two (0.5: halved)."""
    found = []
    for before, after in itertools.pairwise(samples):
        lowered = after[2] is not None and (before[2] is None or after[2] < before[2]) and after[2] < before[1]
        if lowered and before[1] >= 4:  # below 4 segments ssthresh is clamped at 2: no ratio to read
            found.append(round(after[2] / before[1], 3))
    return found


def summary(transfer: dict[str, Any], arrived: dict[str, Any]) -> dict[str, Any]:
    samples = transfer["samples"]
    windows = [s[1] for s in samples]
    reductions = cuts(samples)
    step = max(1, len(samples) // 150)
    return {
        "algorithm": transfer["algorithm"],
        "mbit_per_s": round(transfer["acked_while_writing"] * 8 / transfer["write_seconds"] / 1e6, 2),
        "written": transfer["written"],
        "acknowledged": transfer["bytes_acked"],
        "finished": transfer["finished"],
        "arrived": arrived["read"] + arrived["unread"],
        "in_order": arrived["intact"],
        "connect_seconds": transfer["connect_seconds"],
        "retransmitted": transfer["total_retrans"],
        "timeouts": transfer["counters"]["TCPTimeouts"],
        "cwnd_median": statistics.median(windows),
        "cwnd_max": max(windows),
        "cuts": len(reductions),
        "cut_ratios": reductions,
        "cut_ratio_median": round(statistics.median(reductions), 3) if reductions else None,
        "cwnd_series": [[s[0], s[1]] for s in samples[::step]],
        "retransmission_times": [b[0] for a, b in itertools.pairwise(samples) if b[3] > a[3]],
    }


def whole(r: dict[str, Any]) -> bool:
    """Every byte the receiver's kernel acknowledged is there, in order (all of them, if the transfer ended)."""
    enough = r["written"] if r["finished"] else r["acknowledged"]
    return bool(r["in_order"]) and r["arrived"] >= enough


def differences(runs: dict[str, dict[str, dict[str, Any]]]) -> list[str]:
    found = []
    for sender, levels in runs.items():
        name = f"{levels['0']['algorithm']} ({'this kernel' if sender == 'default' else 'the textbooks'})"
        for level, r in levels.items():
            if not whole(r):
                found.append(f"{name} at {level} %: {r['arrived']} bytes arrived of {r['acknowledged']} acknowledged")
        if levels["20"]["mbit_per_s"] > SLOWER * levels["0"]["mbit_per_s"]:
            found.append(f"{name} was not slowed by 20 % loss: {levels['20']['mbit_per_s']:g} Mbit/s")
        ratios = [ratio for r in levels.values() for ratio in r["cut_ratios"]]
        retransmitted = sum(r["retransmitted"] for r in levels.values())
        if len(ratios) < MIN_CUTS:
            found.append(
                f"{name} does not cut its window at a loss: {retransmitted} segments retransmitted, the window cut "
                f"{len(ratios)} times"
            )
        elif not HALVING[0] <= statistics.median(ratios) <= HALVING[1]:
            found.append(f"{name} cuts its window to {statistics.median(ratios):.2f} of itself at a loss, not half")
    return found


def _receiver(stage: Stage, level: int) -> LabContainer:
    receiver = stage.start(f"receiver-{level}", ["probes.bulk", "serve", "--port", str(PORT)], alias=f"loss{level}")
    stage.wait_for_event(receiver, "listening")
    return receiver


def _sender(stage: Stage, name: str, seconds: float, tools: str) -> LabContainer:
    targets = [f"--target={level}=loss{level}" for level in LEVELS]
    command = ["probes.bulk", "send", "--port", str(PORT), "--seconds", str(seconds), *targets]
    sender = stage.start(f"sender-{name}", command, sysctls=SENDERS[name])
    stage.wait_for_event(sender, "ready")
    run_in_namespace(stage.lab, sender, list(LINK), image=tools)
    return sender


def run(
    *, probes_image: str, seconds: float = 2.5, plot_dir: Path | None = None, progress: Progress = quiet, **_: Any
) -> Result:
    result = Result(NAME, CLAIM)
    started = time.monotonic()
    result.did += [
        f"four receiver hosts drop {', '.join(f'{p} %' for p in LEVELS)} of the packets in and out of their "
        "namespace at random (iptables statistic, from a sidecar); each reads to EOF and checks every byte",
        "two sender hosts, each on a 20 Mbit/s link (tc tbf, burst 16 kB, at most 20 ms queued): one with "
        "this kernel's default congestion control, one with Reno (net.ipv4.tcp_congestion_control)",
        f"each sender writes to each receiver in turn for {seconds:g} s, sampling its socket's TCP_INFO every "
        "5 ms, then waits (4 s at most) until every byte is acknowledged and both ends have closed",
        "then each receiver tallies what arrived, in order, against what the sender's kernel saw acknowledged",
    ]
    with Stage(NAME, probes_image=probes_image, progress=progress) as stage, ThreadPoolExecutor(4) as pool:
        receivers = dict(zip(LEVELS, pool.map(lambda p: _receiver(stage, p), LEVELS), strict=True))
        tools = tools_image(stage.docker, progress)
        with contextlib.ExitStack() as faults:
            for level in LEVELS[1:]:
                faults.enter_context(loss(receivers[level], percent=level, lab=stage.lab))
            senders = dict(zip(SENDERS, pool.map(lambda s: _sender(stage, s, seconds, tools), SENDERS), strict=True))
            for sender in senders.values():
                sender.signal("SIGUSR1")
            budget = len(LEVELS) * (seconds + 40)
            transfers = {name: stage.wait_for_events(s, "transfer", len(LEVELS), budget) for name, s in senders.items()}
            for receiver in receivers.values():
                receiver.signal("SIGUSR1")
            tallies = {p: stage.wait_for_event(r, "tally")["connections"] for p, r in receivers.items()}
    runs: dict[str, dict[str, dict[str, Any]]] = {}
    for name, done in transfers.items():
        runs[name] = {}
        for transfer in done:
            by_peer = {c["peer"]: c for c in tallies[int(transfer["target"])]}
            runs[name][transfer["target"]] = summary(transfer, by_peer[transfer["local"]])
    result.numbers = {"seconds_per_transfer": seconds, "link": " ".join(LINK[6:]), "runs": runs}
    result.observed += _describe(runs)
    result.differences += differences(runs)
    if plot_dir is not None:
        result.files.append(str(draw_windows(runs, plot_dir / "congestion.png", levels=LEVELS, writing=seconds)))
    result.seconds = time.monotonic() - started
    return result


def _describe(runs: dict[str, dict[str, dict[str, Any]]]) -> list[str]:
    lines = [
        f"{'sender':<14} {'loss':>5} {'Mbit/s':>7} {'retrans':>8} {'timeouts':>8} {'cwnd median/max':>16} "
        f"{'cuts':>5} {'new ssthresh / cwnd':>20}  arrived in order"
    ]
    for levels in runs.values():
        for level, r in levels.items():
            ratio = "-" if r["cut_ratio_median"] is None else f"{r['cut_ratio_median']:.2f}"
            window = f"{r['cwnd_median']:g}/{r['cwnd_max']}"
            arrived = "all" if r["finished"] else f"{r['acknowledged'] / max(r['written'], 1):.0%} so far"
            arrived = arrived if whole(r) else "NO"
            lines.append(
                f"{r['algorithm']:<14} {level + ' %':>5} {r['mbit_per_s']:>7.2f} {r['retransmitted']:>8} "
                f"{r['timeouts']:>8} {window:>16} {r['cuts']:>5} {ratio:>20}  {arrived}"
            )
    return lines
