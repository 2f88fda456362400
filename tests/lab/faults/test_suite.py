"""The reliability suite: under each fault, every exchange is answered (0 lost), and the fault is felt.

The default run: every fault once against the fork version, with shorter holds. The full matrix (every
fault against every version, or each ``--server-image``, with the suite's own settings) is marked
``faults``: ``pytest -m faults`` or ``socklab faults``.
"""

from __future__ import annotations

import pytest

from socklab.faults.suite import SUITE, Row, SuiteSettings, run_fault
from socklab.faults.table import format_table

QUICK = SuiteSettings(hold=1.5, loss_seconds=4.0, in_flight=3)
# In the default run: a process fault with a retry, a sidecar rule, a random one, and the proxy. The
# CLI tests cover pause and disconnect against a foreign container; the rest is in the matrix.
# kill is in the full matrix only: whether the kill lands while an exchange is in flight is a race
# between the agent's "established" and `docker kill` (it missed once in CI with delay 0.5 s).
DEFAULT_RUN = ("partition", "loss", "latency")


def check(row: Row, settings: SuiteSettings, *, ours: bool) -> None:
    table = format_table([row])
    assert row.ok, f"exchanges were lost:\n{table}"
    assert row.sent > 0 and row.mechanism, table
    if row.fault == "kill":
        assert row.errors.get("cut, retried", 0) >= 1, f"the kill cut no exchange in flight:\n{table}"
    if row.fault == "stop":
        in_flight = settings.in_flight
        assert f"{in_flight} in flight, {in_flight} answered after SIGTERM" in row.note, table
        if ours:
            assert row.note.endswith("server exited 0"), table
    if row.fault == "latency":
        assert row.baseline_s is not None and row.during_s is not None, table
        shift = row.during_s - row.baseline_s
        assert shift >= (settings.latency_ms - settings.jitter_ms) / 2000, f"the proxy added no latency:\n{table}"
    if row.fault in ("kill", "pause", "partition", "disconnect", "loss"):
        assert row.crossed > 0, f"no exchange was under way during the fault:\n{table}"
    if row.fault in ("pause", "partition", "disconnect", "loss"):
        assert row.fault_s is not None and row.fault_s >= settings.fault_seconds(row.fault) * 0.9, table


@pytest.mark.lab
@pytest.mark.parametrize("fault", [f if f in DEFAULT_RUN else pytest.param(f, marks=pytest.mark.faults) for f in SUITE])
def test_each_fault_against_the_fork_version_loses_nothing(fault, lab_images):
    row = run_fault(fault, server_image=lab_images.servers["fork"], client_image=lab_images.client, settings=QUICK)
    check(row, QUICK, ours=True)


@pytest.mark.lab
@pytest.mark.faults
@pytest.mark.parametrize("fault", SUITE)
def test_every_fault_against_every_version_loses_nothing(fault, server_image, client_image, is_socklab_server):
    settings = SuiteSettings()
    row = run_fault(fault, server_image=server_image, client_image=client_image, settings=settings)
    check(row, settings, ours=is_socklab_server)
