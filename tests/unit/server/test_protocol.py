import pytest

from server.protocol import LocalProtocolError, answer, reply_for


def test_every_byte_value_is_answered_plus_one_modulo_256():
    assert [answer(b) for b in range(256)] == [*range(1, 256), 0]


def test_the_classic_exchange_and_the_wrap():
    assert reply_for(b"A") == b"B"
    assert reply_for(b"\xff") == b"\x00"


def test_only_the_first_byte_counts():
    assert reply_for(b"AZ") == b"B"


def test_answering_nothing_is_our_misuse():
    with pytest.raises(LocalProtocolError):
        reply_for(b"")
    with pytest.raises(LocalProtocolError):
        answer(256)
