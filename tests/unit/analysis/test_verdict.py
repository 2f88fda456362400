from socklab.analysis.verdict import Interval, judge, late_after, max_overlap


def intervals(*spans: tuple[float, float]) -> list[Interval]:
    return [Interval(f"h{i}", start, end) for i, (start, end) in enumerate(spans)]


def test_max_overlap_counts_intervals_open_at_one_moment():
    assert max_overlap([]) == 0
    assert max_overlap(intervals((0, 5), (0.1, 5.1), (0.2, 5.2))) == 3
    assert max_overlap(intervals((0, 1), (1, 2), (2, 3))) == 1  # touching ends do not overlap
    assert max_overlap(intervals((0, 10), (1, 2), (3, 4), (3.5, 5))) == 3


def test_three_clients_answered_together_were_served_concurrently():
    verdict = judge(intervals((0, 5.01), (0.05, 5.06), (0.1, 5.12)), clients=3, delay=5)
    assert verdict.concurrent and verdict.overlap == 3
    assert "served concurrently" in verdict.summary()


def test_a_staircase_is_not_concurrent_and_says_why():
    # A serial server: each client waits for the ones before it.
    verdict = judge(intervals((0, 5), (0, 10), (0, 15)), clients=3, delay=5)
    assert not verdict.concurrent
    assert (
        "2 client(s) waited longer than 7.5 s, halfway to a second turn of delay 5 s (worst: h2 15.00 s)"
        in verdict.summary()
    )


def test_clients_that_never_overlap_are_not_concurrent_even_if_each_is_fast():
    verdict = judge(intervals((0, 1), (1, 2), (2, 3), (3, 4)), clients=4, delay=1)
    assert not verdict.concurrent
    assert "at most 1 of 4 clients were waiting at one moment (needed 2)" in verdict.reasons


def test_missing_answers_fail_the_verdict():
    verdict = judge(intervals((0, 5)), clients=3, delay=5)
    assert not verdict.concurrent and "only 1 of 3 clients were answered" in verdict.reasons


def test_a_bounded_pool_shows_as_late_clients():
    # socketserver's ForkingTCPServer serves 40 at once: the 41st to 50th wait a second round.
    spans = [(0.0, 5.0)] * 40 + [(0.0, 10.0)] * 10
    verdict = judge(intervals(*spans), clients=50, delay=5)
    assert not verdict.concurrent and verdict.reasons[0].startswith("10 client(s) waited longer")


def test_the_lateness_line_is_halfway_to_a_second_turn_and_never_closer_than_the_tolerance():
    # A concurrent server held 1.1 s past D=4 by 50 containers on 2 cores is still concurrent; a second turn is not.
    spans = [(0.0, 4.0)] * 48 + [(0.0, 5.16), (0.0, 5.9)]
    assert judge(intervals(*spans), clients=50, delay=4).concurrent
    assert not judge(intervals(*spans[:-1], (0.0, 8.0)), clients=50, delay=4).concurrent
    assert late_after(4) == 6 and late_after(5) == 7.5
    assert late_after(0.5) == 1.5  # a short delay keeps a full second of start-up slack
