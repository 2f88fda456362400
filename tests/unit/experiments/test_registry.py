from __future__ import annotations

import json

import pytest

from socklab.cli.main import main
from socklab.experiments.registry import UnknownExperiment, experiments, get

ISSUED = {"backlog", "blocking", "zombies", "pipe", "order"}
ISSUE_20 = {"crash", "time-wait", "nagle", "zero-window", "half-close", "congestion"}


def test_every_experiment_has_a_claim_and_a_summary():
    found = experiments()
    assert set(found) >= ISSUED | ISSUE_20
    for experiment in found.values():
        assert experiment.claim and experiment.summary and callable(experiment.module.run)


def test_an_unknown_name_lists_the_known_ones():
    with pytest.raises(UnknownExperiment, match="backlog"):
        get("nope")


def test_experiment_list_names_them(capsys):
    assert main(["experiment", "list", "--json"]) == 0
    names = {row["name"] for row in json.loads(capsys.readouterr().out)}
    assert names >= ISSUED | ISSUE_20


def test_an_unknown_experiment_is_a_usage_error(capsys):
    assert main(["experiment", "nope"]) == 2
    assert "no experiment 'nope'" in capsys.readouterr().err
