"""The verdicts follow the numbers: the same experiment, other numbers, another verdict."""

from __future__ import annotations

from socklab.experiments import congestion, crash_rules, half_close, nagle, time_wait, zero_window
from socklab.experiments.backlog import _differences


def variant(name, completed=3, drops=10, refused=0, reset=0):
    return {"variant": name, "completed": completed, "listen_drops": drops, "refused": refused, "reset": reset}


def test_linux_backlog_differs_from_the_lesson_in_three_ways():
    found = _differences([variant("default"), variant("slow_link_abort", reset=2)], backlog=2)
    assert found[0] == "backlog 2 held 3 completed connections"
    assert "not refused" in found[1]
    assert "only with tcp_abort_on_overflow=1" in found[2] and "(2 clients)" in found[2]


def test_a_kernel_that_refused_would_agree_with_the_lesson():
    found = _differences([variant("default", completed=2, drops=0, refused=6)], backlog=2)
    assert found == []


def test_no_reset_even_with_abort_on_overflow_is_said():
    found = _differences([variant("default"), variant("abort_on_overflow")], backlog=2)
    assert found[-1] == "even with tcp_abort_on_overflow=1 no client was reset"


# --- crash: what the client saw, as recorded here (seconds after the fault) ------------------------------
def seen(*steps):
    return [{"what": what, "after_s": at} for what, at in steps]


def connection(steps, released=None):
    found = seen(*steps)
    first = found[0] if found else None
    return {
        "seen": found,
        "first": first["what"] if first else "silence",
        "first_after_s": first["after_s"] if first else None,
        "released_after_s": released,
    }


def crashed(**changes):
    killed = connection([("eof", 0.002), ("write_after_eof", 0.002), ("reset", 0.002), ("second_write", 0.002)])
    variants = {
        "kill": {"plain": killed, "keepalive": killed},
        "partition": {"plain": connection([]), "keepalive": connection([("timeout", 3.826)])},
        "pause": {
            "plain": connection([("answer", 9.242), ("eof", 9.243)], released=9.237),
            "keepalive": connection([("answer", 9.243), ("eof", 9.243)], released=9.237),
        },
        "stop": {
            "plain": connection([("answer", 7.745), ("eof", 7.745)]),
            "keepalive": connection([("answer", 7.748), ("eof", 7.748)]),
        },
    }
    for variant, ends in changes.items():
        variants[variant].update(ends)
    return variants


def test_crash_as_recorded_here_is_what_the_lesson_says():
    assert crash_rules.differences(crashed(), watch=6.5) == []


def test_a_keepalive_that_never_fires_or_fires_too_late_is_a_difference():
    never = crashed(partition={"keepalive": connection([])})
    assert crash_rules.differences(never, watch=6.5) == [
        "SO_KEEPALIVE did not find the vanished host dead within 6.5 s (silence)"
    ]
    late = crashed(partition={"keepalive": connection([("timeout", 30.0)])})
    assert "after 30.0 s, not within 2.5-5.5 s" in crash_rules.differences(late, watch=60)[0]


def test_a_reset_instead_of_a_fin_and_a_paused_host_declared_dead_are_differences():
    reset = connection([("reset", 0.01)])
    found = crash_rules.differences(crashed(kill={"plain": reset}), watch=6.5)
    assert found == ["a killed server's connection (plain) ended with reset after 0.01 s, not a FIN at once"]
    dead = connection([("timeout", 4.0)], released=9.2)
    found = crash_rules.differences(crashed(pause={"keepalive": dead}), watch=6.5)
    assert found == ["a paused server's connection (keepalive) saw timeout while frozen"]


def test_the_outcome_is_counted_from_the_fault():
    record = {"seen": [{"what": "eof", "at": 100.5}], "max_probes": 0, "state": "CLOSE", "local": "1.2.3.4:5"}
    found = crash_rules.outcome(record, fault_at=100.0, released_at=None)
    assert (found["first"], found["first_after_s"], found["local"]) == ("eof", 0.5, "1.2.3.4:5")


# --- time-wait ---------------------------------------------------------------------------------------------
def restart(bound, errno=None):
    return {"bound": bound, "errno": errno, "error": None if bound else "Address already in use", "at": 0.0}


def waited(server_left=("TIME_WAIT",), client_left=(), without=False, with_=True):
    return {
        "server_left": list(server_left),
        "client_left": list(client_left),
        "restart_without": restart(without, None if without else "EADDRINUSE"),
        "restart_with": restart(with_, None if with_ else "EADDRINUSE"),
        "restarted_after_s": 0.9,
    }


def test_time_wait_as_recorded_here_differs_only_where_the_first_server_lacked_so_reuseaddr():
    numbers = {
        "server_closes_first": {"reuse": waited(), "plain": waited(with_=False)},
        "client_closes_first": {"server_left": [], "client_left": ["TIME_WAIT"]},
    }
    found = time_wait.differences(numbers)
    assert len(found) == 1 and found[0].startswith("SO_REUSEADDR on the restarted server is not enough")


def test_time_wait_on_the_wrong_side_is_a_difference():
    numbers = {
        "server_closes_first": {"reuse": waited(server_left=(), client_left=("TIME_WAIT",))},
        "client_closes_first": {"server_left": [], "client_left": ["TIME_WAIT"]},
    }
    assert time_wait.differences(numbers) == [
        "the server closed first, yet TIME_WAIT was: server nothing, client TIME_WAIT"
    ]


# --- nagle -------------------------------------------------------------------------------------------------
def test_nagle_stalls_are_told_by_the_delayed_ack_timer():
    recorded = [0.0005] + [0.044] * 39  # as here: the first exchange quick-ACKed, then ~44 ms each
    modes = {"nagle": nagle.summary(recorded), "nodelay": nagle.summary([0.00005] * 40)}
    assert modes["nagle"]["median_ms"] == 44.0 and modes["nagle"]["stalled"] == 39
    assert nagle.differences(modes) == []
    no_stall = {"nagle": nagle.summary([0.0008] * 40), "nodelay": nagle.summary([0.015] * 40)}
    assert nagle.differences(no_stall) == [
        "write-write-read with Nagle did not stall: 0.8 ms per exchange (median)",
        "with TCP_NODELAY an exchange still took 15.0 ms (median)",
    ]


# --- zero-window -------------------------------------------------------------------------------------------
def windowed(**changes):
    numbers = {
        "hold_seconds": 3.0,
        "sender": {"written": 841344, "queued_when_full": 713864, "peer_window_when_full": 0, "window_probes": 4},
        "reader": {"received": 841344, "intact": True},
        "wire": {"zero_window_acks": 4, "probes": 4},
    }
    for part, values in changes.items():
        numbers[part] = {**numbers[part], **values}
    return numbers


def test_zero_window_as_recorded_here_is_what_the_lesson_says():
    assert zero_window.differences(windowed()) == []


def test_no_probes_or_a_lost_byte_is_a_difference():
    found = zero_window.differences(windowed(sender={"window_probes": 1}, reader={"received": 841000}))
    assert found == ["1 window probe(s) in 3 s with the window closed", "841000 of 841344 bytes arrived (intact: True)"]


def test_probe_spacing_is_read_from_the_wire():
    from socklab.capture.packets import Segment

    sender = "10.0.0.3:40000"

    def segment(at, src, window=1000, probe=False):
        dst = "10.0.0.2:9736" if src == sender else sender
        return Segment(at, src, dst, ("ACK",), 0, 0, b"", False, probe=probe, window=window, at=at)

    found = [
        segment(1.0, "10.0.0.2:9736", window=0),
        segment(1.2, sender, probe=True),
        segment(1.2, "10.0.0.2:9736", window=0),
        segment(1.6, sender, probe=True),
        segment(1.6, "10.0.0.2:9736", window=0),
        segment(2.0, "10.0.0.2:9736", window=5000),
    ]
    on_wire = zero_window.wire(found, sender, since=0.0)
    assert on_wire["probes"] == 2 and on_wire["zero_window_acks"] == 3
    assert on_wire["probe_gaps_s"] == [0.4] and on_wire["first_probe_after_s"] == 0.2


# --- half-close --------------------------------------------------------------------------------------------
def half_closed(answer="B", server_states=("CLOSE_WAIT",)):
    return {
        "connections": {
            "shutdown": {
                "answer": answer,
                "eof_after_answer": True,
                "server_state_while_it_waits": list(server_states),
            },
            "close": {},
        }
    }


def test_half_close_as_recorded_here_is_what_the_lesson_says():
    assert half_close.differences({"server": half_closed(), "c-server": half_closed()}) == []


def test_a_server_that_answers_a_half_closed_client_with_nothing_differs():
    found = half_close.differences({"server": half_closed(answer=None, server_states=("CLOSED",))})
    assert found == [
        "server: the half-closed client got None, not 'B'",
        "server: the server's end of a half-closed connection was ['CLOSED']",
    ]


# --- congestion --------------------------------------------------------------------------------------------
def transfer(algorithm, mbit, ratios, arrived=1000, acknowledged=1000, written=1000, finished=True, retrans=100):
    return {
        "algorithm": algorithm,
        "mbit_per_s": mbit,
        "cut_ratios": ratios,
        "arrived": arrived,
        "acknowledged": acknowledged,
        "written": written,
        "finished": finished,
        "in_order": True,
        "retransmitted": retrans,
    }


def test_congestion_as_recorded_here_bbr_does_not_cut_and_reno_halves():
    runs = {
        "default": {
            "0": transfer("bbr", 19.16, []),
            "1": transfer("bbr", 17.35, []),
            "5": transfer("bbr", 18.05, []),
            "20": transfer("bbr", 1.16, [], arrived=700, acknowledged=650, written=900, finished=False),
        },
        "reno": {
            "0": transfer("reno", 19.13, [0.49, 0.53, 0.49]),
            "1": transfer("reno", 17.66, [0.5, 0.45, 0.43, 0.47]),
            "5": transfer("reno", 13.39, [0.44, 0.4, 0.5, 0.43]),
            "20": transfer("reno", 0.01, [0.5]),
        },
    }
    assert congestion.differences(runs) == [
        "bbr (this kernel) does not cut its window at a loss: 400 segments retransmitted, the window cut 0 times"
    ]


def test_congestion_a_gentler_cut_a_lost_byte_and_no_slowdown_are_differences():
    cubic = {level: transfer("cubic", 19.0, [0.7, 0.69, 0.71]) for level in ("0", "1", "5")}
    cubic["20"] = transfer("cubic", 18.0, [0.7], arrived=600, acknowledged=650, finished=False)
    assert congestion.differences({"default": cubic}) == [
        "cubic (this kernel) at 20 %: 600 bytes arrived of 650 acknowledged",
        "cubic (this kernel) was not slowed by 20 % loss: 18 Mbit/s",
        "cubic (this kernel) cuts its window to 0.70 of itself at a loss, not half",
    ]


def test_a_cut_is_ssthresh_coming_down_below_the_window():
    samples = [
        [0.00, 10, None, 0, 0, 0, 100],
        [0.01, 40, None, 0, 0, 0, 100],
        [0.02, 30, 20, 1, 3, 0, 100],  # halved: 20 / 40
        [0.03, 3, 20, 1, 4, 0, 100],  # a timeout: the window back to a few segments
        [0.04, 1, 2, 2, 4, 0, 100],  # cut again, from a window too small to read a ratio from
        [0.05, 18, 50, 2, 0, 0, 100],  # ssthresh raised (an undo): no cut
        [0.06, 19, 40, 3, 0, 0, 100],  # lowered, but not below the window: no cut
    ]
    assert congestion.cuts(samples) == [0.5]
