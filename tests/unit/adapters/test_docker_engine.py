"""ci_plugins.adapters.docker_engine: reading the push stream (no engine needed)."""

from __future__ import annotations

import pytest

from ci_plugins.adapters import docker_engine
from ci_plugins.errors import ExternalError

DIGEST = "sha256:" + "d" * 64


def test_the_digest_comes_from_the_aux_event() -> None:
    events = [
        {"status": "Pushing", "progressDetail": {}},
        {"status": "3: digest: ... size: 1234"},
        {"aux": {"Tag": "3", "Digest": DIGEST, "Size": 1234}},
    ]
    assert docker_engine._pushed_digest(events, "r.example.com/ml/digits:3") == DIGEST


def test_an_error_event_is_exit_3_with_the_registrys_words() -> None:
    events = [
        {"status": "Pushing"},
        {"error": "denied: requested access to the resource is denied"},
    ]
    with pytest.raises(ExternalError, match="denied: requested access") as caught:
        docker_engine._pushed_digest(events, "r.example.com/ml/digits:3")
    assert caught.value.exit_code == 3


def test_a_stream_without_a_digest_is_exit_3() -> None:
    with pytest.raises(ExternalError, match="returned no image digest"):
        docker_engine._pushed_digest([{"status": "done"}], "r.example.com/ml/digits:3")


def test_engine_address_prefers_docker_host() -> None:
    assert docker_engine.engine_address({"DOCKER_HOST": "tcp://10.0.0.5:2376"}) == (
        "tcp://10.0.0.5:2376"
    )
    assert docker_engine.engine_address({}) == "unix:///var/run/docker.sock"
