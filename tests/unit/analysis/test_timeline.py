from pathlib import Path

import pytest

from socklab.analysis.timeline import Bar, Lane, bar_rows, caption, draw_timeline, x_limit
from socklab.analysis.verdict import Interval

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
T0 = 1_700_000_000.0  # a wall-clock epoch, as the clients report it


def intervals(*spans: tuple[float, float], base: float = T0) -> list[Interval]:
    return [Interval(f"h{i}", base + start, base + end) for i, (start, end) in enumerate(spans)]


CONCURRENT = Lane("socklab/server:fork", intervals((0, 5), (0.25, 5.25), (0.5, 5.75)), delay=5, clients=3)
# Each client connects only once the one before it is answered: a staircase, one at a time.
SERIAL = Lane("socklab/server:serial", intervals((0, 5), (5, 10), (10, 15), base=T0 + 600), delay=5, clients=3)
# What a serial server usually looks like: the kernel accepts every connect at once, answers come 5 s apart.
QUEUED = Lane("queued", intervals((0, 5), (0, 10), (0, 15)), delay=5, clients=3)


def test_bar_rows_are_sorted_by_connect_relative_to_the_lane_and_flag_late_clients():
    given = [
        Interval("late", T0 + 0.5, T0 + 8.1),
        Interval("first", T0, T0 + 5.0),
        Interval("socklab-0123abcd-client-3", T0 + 0.25, T0 + 7.75),
    ]
    assert bar_rows(given, delay=5) == [
        Bar("1 first", 0.0, 5.0, late=False),
        Bar("2", 0.25, 7.5, late=False),  # a long host name is left out; exactly delay + delay/2 is not late
        Bar("3 late", 0.5, pytest.approx(7.6), late=True),
    ]
    assert bar_rows([], delay=5) == []


def test_captions_are_short_verdicts_from_judge():
    assert caption(CONCURRENT) == "concurrent: 3 at once, slowest 5.25 s"
    assert caption(SERIAL) == "NOT concurrent: at most 1 at once, slowest 5.00 s"
    assert caption(QUEUED) == "NOT concurrent: 2 of 3 waited > 7.5 s, slowest 15.00 s"
    assert caption(Lane("broken", [], delay=5, clients=3)) == "NOT concurrent: 0/3 answered"
    partial = Lane("partial", intervals((0, 5), (0.25, 5.25)), delay=5, clients=3)
    assert caption(partial) == "NOT concurrent: 2/3 answered, slowest 5.00 s"


def test_every_panel_shares_the_longest_lanes_x_range():
    assert x_limit([CONCURRENT, SERIAL]) == pytest.approx(15 * 1.12)
    assert x_limit([CONCURRENT]) == pytest.approx(7.5 * 1.12)  # the lateness line (delay + delay/2) stays in view
    assert x_limit([Lane("broken", [], delay=5, clients=3)]) == pytest.approx(7.5 * 1.12)


def test_draws_a_png_and_an_svg(tmp_path: Path):
    png = draw_timeline([CONCURRENT, SERIAL], tmp_path / "out" / "timeline.png")
    assert png == tmp_path / "out" / "timeline.png"
    data = png.read_bytes()
    assert data.startswith(PNG_SIGNATURE)
    assert len(data) > 5_000

    svg = draw_timeline([CONCURRENT, SERIAL], str(tmp_path / "timeline.svg"))
    text = svg.read_text()
    assert text.lstrip().startswith("<?xml") and "<svg" in text
    for expected in ("socklab/server:fork", "socklab/server:serial", "delay 5 s", caption(CONCURRENT)):
        assert expected in text


def test_draws_a_pdf(tmp_path: Path):
    assert draw_timeline([QUEUED], tmp_path / "timeline.pdf").read_bytes().startswith(b"%PDF-")


def test_an_empty_lane_still_draws_a_panel(tmp_path: Path):
    svg = draw_timeline([Lane("broken", [], delay=5, clients=3), CONCURRENT], tmp_path / "empty.svg")
    text = svg.read_text()
    assert "no client was answered" in text and "broken" in text


@pytest.mark.parametrize(
    ("name", "named"),
    [("timeline.jpg", "'.jpg'"), ("timeline.png.txt", "'.txt'"), ("timeline", "a file without a suffix")],
)
def test_an_unknown_suffix_is_refused_before_anything_is_written(tmp_path: Path, name: str, named: str):
    with pytest.raises(ValueError, match=f"cannot draw a timeline as {named} "):
        draw_timeline([CONCURRENT], tmp_path / "sub" / name)
    assert not (tmp_path / "sub").exists()


def test_no_lanes_is_refused(tmp_path: Path):
    with pytest.raises(ValueError, match="no lanes"):
        draw_timeline([], tmp_path / "timeline.png")
