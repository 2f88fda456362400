import pytest

from server.config import ServerConfig
from wire.knobs import ConfigError, load


def test_defaults_are_the_original_numbers():
    config = ServerConfig()
    assert (config.bind, config.port, config.backlog, config.delay, config.model) == ("0.0.0.0", 9736, 5, 5.0, "fork")


def test_zero_and_fractional_delays_are_allowed():
    assert load(ServerConfig, ["--delay", "0"], environ={}).delay == 0
    assert load(ServerConfig, [], environ={"SOCKLAB_DELAY": "0.25"}).delay == 0.25


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--port", "70000"], "outside 0-65535"),
        (["--delay", "-1"], "delay -1.0 must be"),
        (["--delay", "nan"], "delay nan must be"),
        (["--idle-timeout", "0"], "idle_timeout 0"),
        (["--model", "fibers"], "unknown model 'fibers'"),
        (["--backlog", "-3"], "backlog -3"),
        (["--transport", "sctp"], "unknown transport 'sctp'; choose one of tcp, unix, udp"),
        (["--transport", "udp", "--model", "thread"], "model thread does not serve udp; udp is served by async"),
        (["--transport", "unix", "--socket-path", ""], "socket_path must name a file"),
    ],
)
def test_bad_values_are_named(argv, message):
    with pytest.raises(ConfigError, match=message):
        load(ServerConfig, argv, environ={})
