"""The client's result line: written by the client image, read back by the host, keys kept compatible."""

from __future__ import annotations

import json

import pytest

from wire import ClientResult, MalformedResult, parse_results


def a_result(**overrides: object) -> ClientResult:
    fields: dict[str, object] = {
        "host": "c1",
        "address": "172.18.0.3:40122",
        "server": "172.18.0.2:9736",
        "sent": 0x41,
        "received": 0x42,
        "connect_seconds": 0.01,
        "answer_seconds": 5.0,
        "connected_at": 1_700_000_000.25,
        "answered_at": 1_700_000_005.25,
        "attempts": 1,
        "outcome": "ok",
        "exit_code": 0,
        **overrides,
    }
    return ClientResult(**fields)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "result",
    [
        a_result(),
        a_result(sent=0xFF, received=0x00),
        a_result(received=None, outcome="timeout", exit_code=4, error="no answer within 1 s", answered_at=None),
        a_result(transport="unix", address=None, server="/run/socklab/socklab.sock", retried_cuts=3),
        a_result(transport="udp", sent=0, received=1),
    ],
)
def test_a_result_reads_back_as_written(result):
    assert ClientResult.from_json(result.to_json()) == result


def test_the_json_keys_stay_those_the_client_always_printed():
    data = json.loads(a_result().to_json())
    assert data["sent"] == "A" and data["received"] == "B"
    assert data["sent_byte"] == 0x41 and data["received_byte"] == 0x42
    for key in ("host", "address", "server", "connect_seconds", "answer_seconds", "connected_at", "answered_at"):
        assert key in data
    assert (data["outcome"], data["exit_code"], data["error"]) == ("ok", 0, None)


def test_a_line_from_a_client_before_transports_reads_as_tcp_without_retries():
    old = (
        '{"host": "c1", "address": "172.18.0.3:1", "server": "172.18.0.2:9736", "sent": "A", "received": "B",'
        ' "connect_seconds": 0.1, "answer_seconds": 5, "connected_at": 1.0, "answered_at": 6.0, "attempts": 2,'
        ' "outcome": "ok", "exit_code": 0, "error": null, "sent_byte": 65, "received_byte": 66}'
    )
    result = ClientResult.from_json(old)
    assert (result.transport, result.retried_cuts, result.sent, result.received) == ("tcp", 0, 0x41, 0x42)
    assert result.answer_seconds == 5.0 and result.ok and result.received_char == "B"


@pytest.mark.parametrize(
    "line",
    [
        "char from server = B",
        "[1, 2]",
        '{"outcome": "ok"}',
        a_result().to_json().replace('"attempts": 1', '"attempts": "one"'),
        a_result().to_json().replace('"sent_byte": 65', '"sent_byte": 300'),
        a_result().to_json().replace('"exit_code": 0', '"exit_code": true'),
    ],
)
def test_a_malformed_line_is_a_named_error(line):
    with pytest.raises(MalformedResult):
        ClientResult.from_json(line)


def test_parse_results_reads_every_result_line_and_skips_the_rest():
    first, second = a_result(), a_result(outcome="closed", exit_code=5, received=None)
    stdout = "\n".join(
        [
            "socklab client: ready, waiting for SIGUSR1",
            first.to_json(),
            "char from server = B  [host c1]",
            '{"not": "a result"}',
            "{broken json",
            second.to_json(),
        ]
    )
    assert parse_results(stdout) == [first, second]


def test_a_broken_result_line_in_a_clients_output_is_not_silently_dropped():
    with pytest.raises(MalformedResult):
        parse_results('{"outcome": "ok", "host": 3}\n')
