import math

from socklab.bench.outside import (
    Measured,
    OutsideOptions,
    OutsideResults,
    OutsideRow,
    busy_window,
    markdown,
    tool_command,
    tool_tick,
)
from socklab.bench.window import Sample, Sampler


def test_the_tool_is_asked_for_one_byte_per_connection_at_a_rate() -> None:
    cmd = tool_command(OutsideOptions(connections=32, connect_rate=1500, seconds=4), "10.1.2.2")
    assert cmd[0] == "tcpkali" and cmd[-1] == "10.1.2.2:9736"
    args = dict(zip(cmd[1:-1:2], cmd[2:-1:2], strict=True))
    assert args == {"--connections": "32", "--connect-rate": "1500", "--first-message": "A", "--duration": "4s"}


def test_busy_window_cuts_the_ramp_up_and_the_tear_down() -> None:
    idle = [Sample(t / 10, 0.0, 0) for t in range(10)]  # 0.0 .. 0.9: the tool starting
    busy = [Sample(1.0 + t / 10, t / 100, t * 100) for t in range(40)]  # 1.0 .. 4.9: 1,000/s
    tail = [Sample(5.0 + t / 10, 0.39, 3_900) for t in range(10)]
    s = Sampler(pid=0, cgroup=None)  # type: ignore[arg-type]
    s.samples = idle + busy + tail
    w = busy_window(s)
    assert w is not None
    assert w.first.at >= 1.9 and w.last.at <= 3.9  # a second in from each end of the busy span
    assert math.isclose(w.per_second, 1000) and math.isclose(w.cpu_us_per_connection, 100)
    s.samples = idle
    assert busy_window(s) is None


def test_table_has_medians_and_ratios_to_c_epoll() -> None:
    r = OutsideResults("tcpkali", ["tcpkali", "SERVER"], 3)
    for cpu in (40.0, 50.0, 60.0):
        r.rows.append(OutsideRow("c-epoll", Measured(2000, cpu, 3), Measured(1900, cpu * 1.05, 3)))
        r.rows.append(OutsideRow("epoll", Measured(1800, cpu * 1.5, 3), Measured(1800, cpu * 1.5, 3)))
    text = markdown(r)
    assert "| c-epoll | 2,000 | 50.0 | 1,900 | 52.5 | 1.05 |" in text
    assert "| epoll | 0.90× | 1.50× |" in text
    assert r.to_json()["medians"]["epoll"]["tool"]["cpu_us_per_connection"] == 75.0


def test_socklabs_loader_batches_its_starts_like_tcpkali() -> None:
    # tcpkali_run.c: one batch of connects per ceil(1000 / connect-rate) ms, at most 250 ms.
    assert [tool_tick(rate) for rate in (10_000, 2_000, 1_000, 300, 2)] == [0.001, 0.001, 0.001, 0.004, 0.25]
