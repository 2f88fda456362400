from __future__ import annotations

import json

import pytest

from socklab.cli.main import ExitCode, build_parser, main


def test_every_command_and_flag_has_help():
    parser = build_parser()
    sub = next(a for a in parser._actions if a.dest == "command")
    for name, command in sub.choices.items():
        for action in command._actions:
            if action.dest != "help":
                assert action.help, f"socklab {name} {action.option_strings or action.dest} has no help"


def test_clients_must_be_positive(capsys):
    assert main(["run", "--clients", "0"]) == ExitCode.USAGE
    assert "--clients must be at least 1" in capsys.readouterr().err


@pytest.mark.lab
def test_run_compares_versions_and_draws_their_timeline(lab_images, tmp_path, capsys):
    picture = tmp_path / "timeline.png"
    code = main(
        [
            "run", "--clients", "3", "--delay", "2", "--json", "--timeline", str(picture),
            "--server-image", lab_images.servers["thread"], "--server-image", lab_images.servers["c-fork"],
            "--client-image", lab_images.client,
        ]
    )  # fmt: skip
    reports = json.loads(capsys.readouterr().out)
    assert code == ExitCode.OK
    assert [r["server_image"] for r in reports] == [lab_images.servers["thread"], lab_images.servers["c-fork"]]
    assert all(r["verdict"]["concurrent"] and len(r["clients"]) == 3 for r in reports)
    assert picture.read_bytes().startswith(b"\x89PNG")
