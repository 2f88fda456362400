"""Docker's errors become one sentence a user can act on."""

from __future__ import annotations

import docker.errors
import requests

from socklab.errors import MissingImage, explain


class _Response:
    def __init__(self, status: int, reason: str = "") -> None:
        self.status_code, self.reason, self.url = status, reason, "http://docker/x"


def test_a_missing_image_of_ours_says_how_to_build_it():
    message = explain(MissingImage("socklab/server:async"))
    assert "socklab/server:async" in message and "cannot be pulled" in message and "socklab images" in message


def test_a_missing_foreign_image_says_how_to_bring_it():
    assert "docker load" in explain(MissingImage("registry.example/other:2"))


def test_a_failed_pull_is_named_as_a_missing_image_not_as_a_broken_engine():
    error = docker.errors.APIError("500", response=_Response(500), explanation="pull access denied for nothere")
    assert "no registry can be reached" in explain(error)


def test_a_name_conflict_points_at_clean():
    error = docker.errors.APIError("409", response=_Response(409), explanation='name "x" is already in use')
    assert "socklab clean" in explain(error)


def test_an_unreachable_engine_says_so():
    assert "cannot use the Docker engine" in explain(requests.exceptions.ConnectionError("refused"))
