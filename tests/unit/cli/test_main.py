"""The host CLI as a user meets it: help for every command, one clear line and exit 2 for bad values."""

from __future__ import annotations

import dataclasses

import pytest

from socklab.cli.lab import RunOptions, SwapOptions
from socklab.cli.main import ExitCode, build_parser, command_names, main
from socklab.cli.setup import ImagesOptions


@pytest.mark.parametrize("command", command_names())
def test_every_command_has_help_that_names_each_flag_its_default_and_variable(command, capsys):
    with pytest.raises(SystemExit) as exited:
        main([command, "--help"])
    assert exited.value.code == 0
    out = " ".join(capsys.readouterr().out.split())
    assert out.startswith(f"usage: socklab {command}")
    assert out.count("[default ") == out.count("; env ")


@pytest.mark.parametrize(
    ("options", "flag", "variable"),
    [(RunOptions, "--client-image", "CLIENT_IMAGE"), (SwapOptions, "--exchanges", "SOCKLAB_EXCHANGES")],
)
def test_help_shows_the_variable_that_sets_a_flag(options, flag, variable, capsys):
    command = {RunOptions: "run", SwapOptions: "swap"}[options]
    with pytest.raises(SystemExit):
        main([command, "--help"])
    out = " ".join(capsys.readouterr().out.split())
    assert flag in out and f"env {variable}]" in out


@pytest.mark.parametrize(
    ("argv", "env", "message"),
    [
        (["run", "--clients", "0"], {}, "clients 0 must be at least 1"),
        (["run"], {"SOCKLAB_DELAY": "soon"}, "SOCKLAB_DELAY='soon'"),
        (["run"], {"SOCKLAB_CLIENTS": "-3"}, "clients -3 must be at least 1"),
        (["swap", "a", "b", "--exchanges", "0"], {}, "exchanges 0 must be at least 1"),
        # One rule for the delay, the server's (wire.config.DELAY), in every command that takes it.
        *[
            (argv, {"SOCKLAB_DELAY": value}, f"delay {value} must be a finite number of seconds in 0..86400")
            for argv in (["run"], ["matrix"], ["swap", "a", "b"], ["trace"], ["swarm", "up"])
            for value in ("nan", "inf", "-1.0")
        ],
    ],
)
def test_a_bad_value_is_one_line_and_exit_2(argv, env, message, capsys, monkeypatch):
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    assert main(argv) == ExitCode.USAGE
    err = capsys.readouterr().err
    assert message in err
    assert err.count("\n") == 1 and "Traceback" not in err


def test_trace_takes_the_delays_the_server_takes() -> None:
    """`socklab trace` had a rule of its own (0..60 s); now it is the server's, so 90 s is a delay like any."""
    from socklab.cli.trace import TraceOptions

    assert TraceOptions(delay=90.0).delay == 90.0


def test_a_bad_variable_does_not_break_other_commands_help(capsys, monkeypatch):
    monkeypatch.setenv("SOCKLAB_DELAY", "soon")
    with pytest.raises(SystemExit) as exited:
        main(["images", "--help"])
    assert exited.value.code == 0


def test_a_malformed_flag_is_a_usage_error(capsys):
    with pytest.raises(SystemExit) as exited:
        main(["run", "--clients", "many"])
    assert exited.value.code == 2
    assert "--clients" in capsys.readouterr().err


def test_the_base_image_follows_compose_s_variable(monkeypatch):
    from socklab.cli.options import options_from

    monkeypatch.setenv("BASE_IMAGE", "python:3.11-slim")
    parser = build_parser()
    args = parser.parse_args(["images"])
    assert options_from(args, ImagesOptions).base_image == "python:3.11-slim"
    assert [f.name for f in dataclasses.fields(ImagesOptions)] == ["base_image", "c", "install_missing", "only"]
