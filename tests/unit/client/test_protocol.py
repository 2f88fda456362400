import pytest

from client.protocol import (
    LocalProtocolError,
    RemoteProtocolError,
    check_answer,
    expected_answer,
    parse_char,
    request,
    show,
)


@pytest.mark.parametrize(("text", "byte"), [("A", 0x41), (" ", 0x20), ("0x41", 0x41), ("0xff", 0xFF), ("0x0", 0)])
def test_a_char_is_one_character_or_a_hex_byte(text, byte):
    assert parse_char(text) == byte


@pytest.mark.parametrize("text", ["", "AB", "€", "0x100", "0xg1"])
def test_anything_else_is_our_misuse(text):
    with pytest.raises(LocalProtocolError):
        parse_char(text)


def test_the_expected_answer_wraps():
    assert expected_answer(0x41) == 0x42
    assert expected_answer(0xFF) == 0x00
    assert request(0x41) == b"A"


def test_a_wrong_answer_is_the_peers_fault_and_says_what_was_expected():
    assert check_answer(0x41, 0x42) == 0x42
    with pytest.raises(RemoteProtocolError, match="sent 0x41, got 0x41, expected 0x42"):
        check_answer(0x41, 0x41)


def test_show_prints_like_percent_c_but_escapes_the_unprintable():
    assert show(0x42) == "B"
    assert show(0x00) == "\\x00"
