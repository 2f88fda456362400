from __future__ import annotations

from dataclasses import dataclass

import pytest

from wire.knobs import ConfigError, env_name, flag_name, load, option


@dataclass(frozen=True)
class Knobs:
    delay: float = option(5.0, "seconds")
    port: int = option(9736, "port")
    name: str = option("server", "host")
    verbose: bool = option(False, "talk more")

    def __post_init__(self) -> None:
        if self.port <= 0:
            raise ValueError(f"port {self.port} must be positive")


def test_names_follow_the_field():
    assert env_name("idle_timeout") == "SOCKLAB_IDLE_TIMEOUT"
    assert flag_name("idle_timeout") == "--idle-timeout"


def test_defaults_when_nothing_is_set():
    assert load(Knobs, [], environ={}) == Knobs()


def test_environment_overrides_defaults_and_flags_override_environment():
    env = {"SOCKLAB_DELAY": "0.25", "SOCKLAB_PORT": "7000", "SOCKLAB_VERBOSE": "yes"}
    assert load(Knobs, [], environ=env) == Knobs(delay=0.25, port=7000, verbose=True)
    assert load(Knobs, ["--port", "8000", "--no-verbose"], environ=env) == Knobs(delay=0.25, port=8000)


def test_other_prefixes_are_ignored():
    assert load(Knobs, [], environ={"OTHER_DELAY": "1", "DELAY": "2"}) == Knobs()


@pytest.mark.parametrize(
    ("env", "named"),
    [({"SOCKLAB_DELAY": "soon"}, "SOCKLAB_DELAY='soon'"), ({"SOCKLAB_VERBOSE": "maybe"}, "SOCKLAB_VERBOSE")],
)
def test_a_bad_environment_value_names_the_variable(env, named):
    with pytest.raises(ConfigError, match=named):
        load(Knobs, [], environ=env)


def test_the_dataclass_validation_becomes_a_config_error():
    with pytest.raises(ConfigError, match="port -1 must be positive"):
        load(Knobs, ["--port", "-1"], environ={})


def test_a_malformed_flag_exits_with_usage_status(capsys):
    with pytest.raises(SystemExit) as exit_info:
        load(Knobs, ["--port", "many"], environ={})
    assert exit_info.value.code == 2
    assert "--port" in capsys.readouterr().err


def test_help_shows_the_environment_variable_and_default(capsys):
    with pytest.raises(SystemExit):
        load(Knobs, ["--help"], environ={"SOCKLAB_PORT": "7000"})
    out = capsys.readouterr().out
    assert "[default 7000; env SOCKLAB_PORT]" in out
