"""Which model serves which transport, and the host's own statement of the protocol."""

from __future__ import annotations

import pytest

from wire import MODELS, UnsupportedPair, check_pair, expected_reply, models_for


def test_every_model_serves_stream_transports_and_the_event_loop_also_udp():
    for model in MODELS:
        check_pair(model, "tcp")
        check_pair(model, "unix")
    assert models_for("udp") == ("async",)


def test_an_unsupported_pair_names_what_would_work():
    with pytest.raises(UnsupportedPair, match="model fork does not serve udp; udp is served by async"):
        check_pair("fork", "udp")


@pytest.mark.parametrize(("model", "transport"), [("forks", "tcp"), ("fork", "sctp")])
def test_unknown_names_are_refused_with_the_choices(model, transport):
    with pytest.raises(UnsupportedPair, match="choose one of"):
        check_pair(model, transport)


def test_the_oracle_is_plus_one_modulo_256():
    assert [expected_reply(b) for b in range(256)] == [*range(1, 256), 0]
    with pytest.raises(ValueError):
        expected_reply(256)
