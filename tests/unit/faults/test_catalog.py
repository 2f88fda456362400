"""The one fault catalog: every place that names faults names these, spelled the same. No Docker."""

from __future__ import annotations

import dataclasses

import pytest

from socklab.cli.fault import options_for, params_of
from socklab.cli.main import build_parser
from socklab.faults import catalog
from socklab.faults.catalog import ALIASES, FAULTS, Via
from socklab.faults.params import REQUIRED, Bounds, LossParams, SlicerParams
from socklab.faults.suite import SUITE
from socklab.testing import fault_suite


def subcommands(parser_name: str) -> list[str]:
    parser = build_parser()
    sub = next(a for a in parser._actions if a.dest == "command")
    fault = sub.choices[parser_name]
    kinds = next(a for a in fault._actions if a.dest == "fault")
    return list(kinds.choices)


def test_socklab_fault_has_one_subcommand_per_entry_in_catalog_order() -> None:
    assert subcommands("fault") == list(FAULTS)


def test_the_suite_and_the_plugin_rows_take_their_names_from_the_catalog() -> None:
    assert set(SUITE) <= set(FAULTS)
    marker = next(m for m in fault_suite.test_fault.pytestmark if m.name == "parametrize")
    assert list(marker.args[1]) == list(SUITE)


def test_former_names_read_as_the_catalogs_and_unknown_ones_list_the_known() -> None:
    assert {name: catalog.get(name).name for name in ALIASES} == {"sigkill": "kill", "sigterm": "stop"}
    with pytest.raises(catalog.UnknownFault, match="known: loss, partition"):
        catalog.get("sigstop")


@pytest.mark.parametrize("kind", FAULTS.values(), ids=lambda k: k.name)
def test_every_entry_says_what_it_does_and_what_the_others_call_it(kind: catalog.FaultKind) -> None:
    assert kind.summary and kind.mechanism and kind.undo and kind.client_sees
    equivalents = dataclasses.astuple(kind.equivalents)
    assert len(equivalents) == 3 and all(equivalents)
    assert set(kind.targets) <= {"server", "client", "container"}
    assert set(kind.directions) <= {"to", "from", "both"}
    for field in dataclasses.fields(kind.params):
        assert isinstance(field.metadata["bounds"], Bounds) and field.metadata["help"]
    has_direction = any(f.name == "direction" for f in dataclasses.fields(kind.params))
    assert has_direction == (len(kind.directions) > 1), "a direction parameter only where there is a choice"


def test_proxy_faults_are_the_toxics() -> None:
    assert catalog.proxy_faults() == ("latency", "jitter", "slicer", "timeout")
    assert all(FAULTS[name].via is Via.PROXY for name in catalog.proxy_faults())


def test_parameters_are_checked_with_their_units() -> None:
    assert LossParams(percent=20).direction == "both"
    with pytest.raises(ValueError, match=r"percent is required \(a number above 0 and at most 100 \(%\)\)"):
        LossParams()
    with pytest.raises(ValueError, match="percent 150 must be a number above 0 and at most 100"):
        LossParams(percent=150)
    with pytest.raises(ValueError, match="direction 'sideways' must be one of to, from, both"):
        LossParams(percent=5, direction="sideways")
    with pytest.raises(ValueError, match="variation-bytes 8 must be below average-bytes 8"):
        SlicerParams(average_bytes=8, variation_bytes=8)
    assert dataclasses.fields(LossParams)[0].default is REQUIRED


def test_a_commands_options_carry_the_kinds_parameters() -> None:
    options = options_for(FAULTS["loss"])(container="c", percent=30.0, direction="to")
    assert params_of(FAULTS["loss"], options) == LossParams(percent=30.0, direction="to")
    with pytest.raises(ValueError, match="--container NAME is required"):
        options_for(FAULTS["loss"])(percent=30.0)


def test_docs_faults_has_the_catalogs_table_as_generated() -> None:
    from socklab.faults.catalog import markdown_table
    from socklab.paths import ROOT

    page = (ROOT / "docs" / "faults.md").read_text()
    start = page.index("-->\n", page.index("<!-- catalog table")) + 4
    table = page[start : page.index("\n<!-- end of the catalog table")]
    assert table == markdown_table(), "docs/faults.md's table is stale: paste socklab.faults.catalog.markdown_table()"


def test_socklab_faults_takes_any_of_the_catalogs_names_and_the_former_ones() -> None:
    from socklab.cli.suite import FaultsOptions

    assert FaultsOptions(fault=("sigkill", "jitter", "reset")).fault == ("sigkill", "jitter", "reset")
    with pytest.raises(catalog.UnknownFault, match="unknown fault 'sigstop'; known: loss"):
        FaultsOptions(fault=("sigstop",))
