"""`socklab run --view` on real containers, watched in a real browser while it runs.

The run is its own process (as a teacher starts it); the test reads the URL it prints, watches the page,
and measures how far the page trails the server's own log lines (the engine's stamp on each line). With 50
clients and ``--kernel`` (``-m slow``) the kernel's streams multiply the events: the issue's bound is a
median of 100 ms there.
"""

from __future__ import annotations

import re
import statistics
from typing import Any

import pytest

from socklab.events.schema import Kind, parse_log
from support_view import LiveRun, browser, needs_kernel, texts, until

pytestmark = pytest.mark.lab

DELAY = 4.0
FIFTY_WITH_KERNEL = pytest.param(
    50, True, 0.1, marks=[pytest.mark.slow, pytest.mark.xdist_group("crowd"), needs_kernel], id="50-kernel"
)


@pytest.mark.parametrize(("clients", "kernel", "bound"), [pytest.param(3, False, 2.0, id="3"), FIFTY_WITH_KERNEL])
def test_a_run_with_view_shows_the_clients_waiting_then_b_and_the_verdict(
    lab_images, tmp_path, capsys, clients, kernel, bound
):
    log = tmp_path / "run.jsonl"
    args = ["run", "--clients", str(clients), "--delay", str(DELAY), "--server-image", lab_images.server,
            "--client-image", lab_images.client, *(["--kernel"] if kernel else [])]  # fmt: skip
    with browser() as page, LiveRun(args, log) as run:  # the browser first: it may start slowly
        page.get(run.url)

        def shows(what: str, condition: Any) -> None:
            until(page, 180, condition, what, context=run.told)

        shows(f"{clients} client hosts", lambda d: len(texts(d, ".host.client")) == clients)
        if clients <= 6:  # all accepted at once: each connection shown with its countdown, no answer yet
            shows(
                f"{clients} waiting connections with their countdown",
                lambda d: len(texts(d, ".conn.waiting")) == clients and "s left" in " ".join(texts(d, ".conn")),
            )
            assert texts(page, ".host.client.answered") == []
            addresses = texts(page, ".host.client .addr")
            assert all(re.fullmatch(r"\d+\.\d+\.\d+\.\d+", a) for a in addresses), addresses
        shows(f"{clients} served connections", lambda d: len(texts(d, ".conn.served")) == min(clients, 12))
        shows(f"B on {clients} clients", lambda d: texts(d, ".host.client.answered .reply") == ["B"] * clients)
        shows("the verdict", lambda d: f"served concurrently: {clients}/{clients}" in " ".join(texts(d, ".verdict")))
        shows("the run's end", lambda d: "finished (exit 0)" in " ".join(texts(d, "#status")))
        shown = {int(n): t for n, t in page.execute_script("return window.socklab.shown").items()}
        received = {int(n): t for n, t in page.execute_script("return window.socklab.received").items()}
        (tmp_path / "view.png").write_bytes(page.get_screenshot_as_png())
        assert run.running(), "the view lingers after the run"
    assert run.code == 0, run.told()
    events = parse_log(log.read_text())
    server_lines = [
        (n, e) for n, e in enumerate(events, 1) if e.kind in (Kind.ACCEPTED, Kind.SERVED) and not e.data.get("probe")
    ]
    assert len(server_lines) == 2 * clients
    kernel_events = [e for e in events if e.kind in (Kind.SOCKET, Kind.PACKET, Kind.SYSCALL)]
    if kernel:
        assert kernel_events, "--kernel wrote no socket, packet or syscall event"
    lags = [shown[n] - e.t for n, e in server_lines]
    arrived = [received[n] - e.t for n, e in server_lines]
    span = (events[-1].t - events[0].t) or 1.0
    with capsys.disabled():
        print(
            f"\nview latency behind the server's log lines (engine stamp -> page), {clients} clients"
            f"{' with --kernel' if kernel else ''}: median {statistics.median(lags) * 1000:.0f} ms, "
            f"max {max(lags) * 1000:.0f} ms (their message reached the page: median "
            f"{statistics.median(arrived) * 1000:.0f} ms); {len(kernel_events)} kernel events "
            f"({len(kernel_events) / span:.0f}/s)"
        )
    assert statistics.median(lags) <= bound


def test_the_verdict_on_the_page_names_the_slowest_client_as_the_page_does(lab_images, tmp_path):
    """A serial server makes the last client wait: the verdict says which by its role (client-3), the name
    its box has on the page, never by its container's id."""
    log = tmp_path / "run.jsonl"
    args = ["run", "--clients", "3", "--delay", "1", "--server-image", lab_images.servers["serial"],
            "--client-image", lab_images.client]  # fmt: skip
    with browser() as page, LiveRun(args, log) as run:  # the browser first: it may start slowly
        page.get(run.url)
        until(page, 120, lambda d: "worst:" in " ".join(texts(d, ".verdict")), "the verdict", context=run.told)
        verdict = " ".join(texts(page, ".verdict"))
        roles = texts(page, ".host.client .name")
    worst = re.search(r"worst: (\S+) [\d.]+ s", verdict)
    assert worst, verdict
    assert re.fullmatch(r"client-\d", worst[1]), f"named {worst[1]!r}: {verdict}"
    assert any(role.endswith(worst[1]) for role in roles), "a client the page shows"
