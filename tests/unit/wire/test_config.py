"""wire.config: each knob's one rule, and to_env/from_env as each other's inverse. No Docker."""

from __future__ import annotations

import dataclasses

import pytest

from wire.compose import ComposeVariables
from wire.config import ClientConfig, ServerConfig
from wire.knobs import ConfigError, Knobs, check_fields, load

NAN, INF = float("nan"), float("inf")

# field -> (good values, bad values): every field with a rule, NaN and infinities for every number of seconds.
SERVER_RULES: dict[str, tuple[list[object], list[object]]] = {
    "transport": (["tcp", "unix"], ["sctp", ""]),
    "port": ([0, 1, 65535], [-1, 65536]),
    "backlog": ([0, 5, 65535], [-3]),
    "delay": ([0.0, 0.25, 5.0, 86400.0], [-1.0, -0.001, NAN, INF, -INF, 86400.5]),
    "idle_timeout": ([0.5, 30.0], [0.0, -1.0, NAN, INF]),
    "grace": ([0.0, 10.0], [-1.0, NAN, INF]),
    "model": (["fork", "thread", "async", "epoll", "serial"], ["fibers", ""]),
    "log": (["connections", "summary", "off"], ["loud"]),
    "workers": ([1], [0, 65]),
}
CLIENT_RULES: dict[str, tuple[list[object], list[object]]] = {
    "transport": (["tcp", "udp", "unix"], ["sctp"]),
    "server": (["server", "10.0.0.2"], [""]),
    "port": ([1, 65535], [0, 65536]),
    "char": (["A", " ", "0x41", "0xff"], ["", "AB", "€", "0x100", "0xg1"]),
    "connect_deadline": ([0.1, 30.0], [0.0, -1.0, NAN, INF]),
    "reply_timeout": ([0.1, 60.0], [0.0, -1.0, NAN, INF]),
    "repeat": ([1, 1000], [0, -1]),
    "interval": ([0.0, 0.05], [-0.1, NAN, INF]),
    "udp_resend": ([0.0, 0.5], [-0.5, NAN, INF]),
}


def _cases(cls: type[Knobs], rules: dict[str, tuple[list[object], list[object]]], good: bool) -> list[object]:
    return [
        pytest.param(cls, name, value, id=f"{cls.__name__}.{name}={value!r}")
        for name, (ok, bad) in rules.items()
        for value in (ok if good else bad)
    ]


@pytest.mark.parametrize(
    ("cls", "name", "value"), _cases(ServerConfig, SERVER_RULES, True) + _cases(ClientConfig, CLIENT_RULES, True)
)
def test_a_good_value_is_kept(cls: type[Knobs], name: str, value: object) -> None:
    assert getattr(cls(**{name: value}), name) == value


@pytest.mark.parametrize(
    ("cls", "name", "value"), _cases(ServerConfig, SERVER_RULES, False) + _cases(ClientConfig, CLIENT_RULES, False)
)
def test_a_bad_value_is_refused_naming_the_field(cls: type[Knobs], name: str, value: object) -> None:
    with pytest.raises(ValueError, match=name):
        cls(**{name: value})


def test_every_field_of_a_number_or_a_name_has_its_rule() -> None:
    """A new knob without a rule would take NaN or nonsense silently; booleans and free text need none."""
    free = {"bind", "socket_path"}  # any address or path; the transport decides whether it must be set
    for cls in (ServerConfig, ClientConfig):
        for field in dataclasses.fields(cls):
            if field.type in ("bool", bool) or field.name in free:
                continue
            assert field.metadata.get("rule") is not None, f"{cls.__name__}.{field.name} has no rule"


@pytest.mark.parametrize("text", ["nan", "NaN", "inf", "-inf", "-1", "1e9"])
def test_the_delay_from_the_environment_is_refused_as_from_a_flag(text: str) -> None:
    with pytest.raises(ConfigError, match=r"delay .* must be a finite number of seconds in 0\.\.86400"):
        ServerConfig.from_env({"SOCKLAB_DELAY": text})
    with pytest.raises(ConfigError, match="delay"):
        load(ServerConfig, [f"--delay={text}"], environ={})


def test_rules_between_fields_still_hold() -> None:
    with pytest.raises(ValueError, match="needs model epoll"):
        ServerConfig(workers=4)
    with pytest.raises(ValueError, match="udp is served by async"):
        ServerConfig(transport="udp")
    assert ServerConfig(transport="udp", model="async").transport == "udp"
    with pytest.raises(ValueError, match="socket_path"):
        ClientConfig(transport="unix", socket_path="")


def test_to_env_writes_what_was_set_and_not_the_defaults() -> None:
    """An image keeps its own defaults: a model image's SOCKLAB_MODEL survives ServerConfig(delay=...)."""
    assert ServerConfig(delay=0.5).to_env() == {"SOCKLAB_DELAY": "0.5"}
    assert ServerConfig(delay=5.0, port=9736).to_env() == {"SOCKLAB_DELAY": "5", "SOCKLAB_PORT": "9736"}
    assert ClientConfig(json=True, wait_for_go=False).to_env() == {
        "SOCKLAB_JSON": "true",
        "SOCKLAB_WAIT_FOR_GO": "false",
    }
    assert ServerConfig().to_env() == {}


def test_the_variables_keep_their_names() -> None:
    """compose.yaml, stack.yaml, the C peers and users spell these; a renamed field must not rename them."""
    assert ServerConfig.variable("idle_timeout") == "SOCKLAB_IDLE_TIMEOUT"
    assert ClientConfig.variable("connect_deadline") == "SOCKLAB_CONNECT_DEADLINE"
    assert ComposeVariables(server_image="x", host_port=1, clients=2).to_env() == {
        "SERVER_IMAGE": "x",
        "SOCKLAB_HOST_PORT": "1",
        "SOCKLAB_CLIENTS": "2",
    }


FULL_SERVER = ServerConfig(
    transport="unix", bind="::", port=0, socket_path="/tmp/s.sock", backlog=65535, delay=0.1 + 0.2,
    idle_timeout=1e-3, grace=0.0, model="thread", resolve_names=False, log_probes=True, log="summary", workers=1,
)  # fmt: skip
FULL_CLIENT = ClientConfig(
    transport="udp", server="udp-server", port=1, socket_path="", char="0xff", connect_deadline=2.5,
    reply_timeout=1 / 3, json=True, repeat=7, interval=0.05, retry_cut=True, udp_resend=0.25, wait_for_go=True,
)  # fmt: skip


@pytest.mark.parametrize(
    "config", [FULL_SERVER, FULL_CLIENT, ServerConfig(delay=0), ClientConfig(), ComposeVariables(clients=9)]
)
def test_from_env_reads_back_what_to_env_wrote(config: Knobs) -> None:
    written = config.to_env()
    read = type(config).from_env(written)
    assert read == config
    assert read.to_env() == written  # and writes the same variables again: nothing added, nothing lost


def test_floats_round_trip_exactly() -> None:
    """0.1 + 0.2 is not 0.3: `:g` would write 0.3; the exact text comes back as the same number."""
    written = FULL_SERVER.to_env()["SOCKLAB_DELAY"]
    assert float(written) == FULL_SERVER.delay and float(written) != 0.3


def test_from_env_ignores_what_is_not_its_own() -> None:
    assert ServerConfig.from_env({"SOCKLAB_CHAR": "B", "PATH": "/bin"}) == ServerConfig()


def test_check_fields_works_on_any_dataclass_with_rules() -> None:
    """The host's command options reuse the server's delay rule (socklab run, trace, swarm up)."""
    from socklab.swarm.run import SwarmUpOptions

    with pytest.raises(ValueError, match="delay nan"):
        SwarmUpOptions(delay=NAN)
    check_fields(SwarmUpOptions(delay=0.5))
