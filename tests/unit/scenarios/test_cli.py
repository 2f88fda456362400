"""``socklab scenario check`` and ``run`` with a bad file: exit 2, each problem with its place, nothing started."""

from __future__ import annotations

from pathlib import Path

import pytest

from socklab.cli.main import main
from socklab.paths import ROOT


def test_check_shows_the_plan_of_a_good_file(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["scenario", "check", str(ROOT / "scenarios" / "partition-during-swap.scenario.yaml")]) == 0
    out = capsys.readouterr().out
    assert "partition during a version swap: valid; 6 steps, end at 14 s" in out
    assert "5.000s  undo: its time ran out on server" in out


@pytest.mark.parametrize("command", ["check", "run"])
def test_a_misspelt_field_is_exit_2_with_its_line_and_nothing_starts(
    command: str, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    import docker

    def no_engine(*args: object, **kwargs: object) -> None:
        raise AssertionError("a bad scenario reached for the Docker engine")

    monkeypatch.setattr(docker, "from_env", no_engine)
    bad = tmp_path / "bad.scenario.yaml"
    bad.write_text("name: t\nlab: {server: s:1}\nmethod:\n  - at: 1s\n    fault: pause\n    tagret: server\n")
    assert main(["scenario", command, str(bad)]) == 2
    err = capsys.readouterr().err
    assert "the scenario cannot run (1 problem)" in err
    assert f"{bad}:6:5: method[0].tagret: unknown field 'tagret'; did you mean 'target'?" in err
