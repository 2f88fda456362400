from __future__ import annotations

import pytest

from socklab.checks.swap import SwapReport, swap_under_load


def test_the_report_counts_what_was_lost():
    report = SwapReport("a", "b", sent=60, answered=58, drain_seconds=0.5, start_seconds=0.75, longest_retry=1.2)
    assert report.lost == 2 and report.swap_seconds == 1.25
    assert report.summary().startswith("a -> b: 58/60 answered, 2 lost")


@pytest.mark.lab
def test_swapping_the_server_under_load_loses_nothing(lab_images):
    report = swap_under_load(
        from_image=lab_images.servers["fork"],
        to_image=lab_images.servers["async"],
        client_image=lab_images.client,
        clients=3,
        exchanges=12,
        delay=0.3,
    )
    assert report.lost == 0 and report.answered == report.sent == 36, report.summary()
    assert report.by_old > 0 and report.by_new > 0, f"the swap must happen under load: {report.summary()}"
