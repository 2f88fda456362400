"""Removal waits out what the engine is still doing, within its deadline, and no longer."""

from __future__ import annotations

import time

import docker.errors
import pytest
import requests

from socklab.lab.labels import _retrying


def _refusal(status: int, text: str) -> docker.errors.APIError:
    response = requests.Response()
    response.status_code = status
    return docker.errors.APIError(text, response=response, explanation=text)


def test_a_refusal_that_ends_is_waited_out():
    calls = []

    def remove() -> None:
        calls.append(time.monotonic())
        if len(calls) < 3:
            raise _refusal(409, "volume is in use")

    _retrying(time.monotonic() + 10, remove)
    assert len(calls) == 3


def test_a_refusal_that_lasts_is_raised_at_the_deadline():
    def remove() -> None:
        raise _refusal(409, "removal of container x is already in progress")

    started = time.monotonic()
    with pytest.raises(docker.errors.APIError, match="in progress"):
        _retrying(started + 0.6, remove)
    assert 0.6 <= time.monotonic() - started < 2


def test_not_found_is_not_retried():
    calls = []

    def remove() -> None:
        calls.append(1)
        response = requests.Response()
        response.status_code = 404
        raise docker.errors.NotFound("no such container", response=response)

    with pytest.raises(docker.errors.NotFound):
        _retrying(time.monotonic() + 10, remove)
    assert calls == [1]
