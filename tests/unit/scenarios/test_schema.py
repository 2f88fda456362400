"""The scenario schema: valid JSON Schema, generated from the catalogs, and the committed copy current."""

from __future__ import annotations

import json

import jsonschema
import pytest
import yaml

from socklab.cli.main import main
from socklab.faults.catalog import FAULTS
from socklab.paths import ROOT
from socklab.scenarios.probes import PROBES
from socklab.scenarios.schema import fault_params, scenario_schema, step_schema

EXAMPLES = sorted((ROOT / "scenarios").glob("*.scenario.yaml"))


def test_it_is_a_valid_draft_2020_12_schema() -> None:
    jsonschema.Draft202012Validator.check_schema(scenario_schema())


def test_it_names_every_fault_and_probe_of_the_catalogs() -> None:
    step = step_schema()
    assert step["properties"]["fault"]["enum"] == list(FAULTS)
    assert step["properties"]["probe"]["enum"] == list(PROBES)


def test_a_faults_parameters_carry_units_and_bounds() -> None:
    loss = fault_params(FAULTS["loss"])
    assert loss["percent"] == {
        "type": "number",
        "description": "share of the packets dropped (%)",
        "exclusiveMinimum": 0,
        "maximum": 100,
    }
    assert loss["direction"]["enum"] == ["to", "from", "both"]
    assert "jitter-ms" in fault_params(FAULTS["latency"]) and "network" not in fault_params(FAULTS["disconnect"])


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.name)
def test_the_examples_validate(path) -> None:
    jsonschema.validate(yaml.safe_load(path.read_text()), scenario_schema())


def test_socklab_scenario_schema_prints_it_and_the_committed_copy_is_current(capsys: pytest.CaptureFixture[str]):
    assert main(["scenario", "schema"]) == 0
    printed = json.loads(capsys.readouterr().out)
    assert printed == scenario_schema()
    committed = json.loads((ROOT / "docs" / "scenario.schema.json").read_text())
    assert committed == printed, (
        "docs/scenario.schema.json is stale: socklab scenario schema > docs/scenario.schema.json"
    )
