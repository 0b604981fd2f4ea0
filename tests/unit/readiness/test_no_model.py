"""The no-model rule: a TF Serving container that runs, is not ready, and logs that it found
no version under its base path fails after a short grace; anything else leaves it alone."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from ci_plugins.verify.readiness import no_model
from ci_plugins.verify.readiness.model import Obj, Status, Timers
from ci_plugins.verify.readiness.policy import Policy

# TF Serving's own lines (sources/storage_path/file_system_storage_path_source.cc), as
# tensorflow_model_server prints them.
EMPTY = (
    "2026-12-02 01:00:00.000000: W tensorflow_serving/sources/storage_path/"
    "file_system_storage_path_source.cc:263] No versions of servable digits found under "
    "base path /models/digits. Did you forget to name your leaf directory as a number "
    "(eg. '/1/')?"
)
MISSING = (
    "2026-12-02 01:00:00.000000: E tensorflow_serving/sources/storage_path/"
    "file_system_storage_path_source.cc:353] FileSystemStoragePathSource encountered a "
    "filesystem access error: Could not find base path /models/model for servable digits "
    "with error NOT_FOUND: /models/model not found"
)
LOADING = (
    "2026-12-02 01:00:01.000000: I tensorflow_serving/core/loader_harness.cc:66] "
    "Approving load for servable version {name: digits version: 3}"
)
START = (
    "I tensorflow_serving/model_servers/server.cc:74] Building single TensorFlow model file config"
)


def serving_pod(*, ready: bool = False, image: str = "tensorflow/serving:2.14.1") -> Obj:
    return {
        "metadata": {"name": "digits-7f9c-x"},
        "spec": {
            "containers": [
                {"name": "model-server", "image": image, "args": ["--model_name=digits"]},
                {"name": "sidecar", "image": "busybox"},
            ]
        },
        "status": {
            "phase": "Running",
            "containerStatuses": [
                {"name": "model-server", "ready": ready, "state": {"running": {}}},
                {"name": "sidecar", "ready": True, "state": {"running": {}}},
            ],
        },
    }


def classify_at(pod: Obj, log: str, times: list[float], *, grace: float = 3.0) -> list[Any]:
    """The rule's verdict at each time, on one set of timers (as verify's loop keeps them)."""
    timers = Timers()
    policy = Policy(no_model_grace=grace)
    verdicts = []
    for now in times:
        timers.now = now
        logs = dict.fromkeys(no_model.waiting_servers(pod), log)
        verdicts.append(no_model.classify_no_model(pod, logs, policy, timers))
    return verdicts


@pytest.mark.parametrize(
    ("line", "base_path"),
    [
        pytest.param(EMPTY, "/models/digits", id="empty-base-path"),
        pytest.param(MISSING, "/models/model", id="missing-base-path"),
    ],
)
def test_a_server_still_logging_no_version_after_the_grace_fails_naming_model_and_path(
    line: str, base_path: str
) -> None:
    log = "\n".join([START, line, line, line])
    first, last = classify_at(serving_pod(), log, [10.0, 13.0])
    assert first.status is Status.IN_PROGRESS
    assert last.status is Status.FAILED
    assert last.reason == "NoModel"
    assert last.message.startswith(
        f"no model: TF Serving found no version of digits under {base_path} "
    )
    assert "pod digits-7f9c-x container model-server" in last.message
    assert last.pod == "digits-7f9c-x"


def test_before_the_grace_the_rule_still_waits() -> None:
    verdicts = classify_at(serving_pod(), EMPTY, [10.0, 11.0, 12.9])
    assert [v.status for v in verdicts] == [Status.IN_PROGRESS] * 3
    assert "found no version of digits under /models/digits yet" in verdicts[-1].message


def test_the_line_present_but_the_container_became_ready_is_not_failed() -> None:
    pod = serving_pod()
    timers = Timers(now=10.0)
    policy = Policy(no_model_grace=3.0)
    waiting = no_model.classify_no_model(pod, {"model-server": EMPTY}, policy, timers)
    assert waiting is not None
    assert waiting.status is Status.IN_PROGRESS
    ready = serving_pod(ready=True)
    timers.now = 20.0
    assert no_model.waiting_servers(ready) == []
    assert no_model.classify_no_model(ready, {"model-server": EMPTY}, policy, timers) is None


def test_a_model_that_arrived_after_the_warning_is_not_failed() -> None:
    # a model copied in late: the latest version line is the load, not the warning
    log = "\n".join([START, EMPTY, EMPTY, LOADING])
    assert classify_at(serving_pod(), log, [10.0, 20.0]) == [None, None]


def test_the_grace_restarts_when_the_warning_goes_away_and_comes_back() -> None:
    pod = serving_pod()
    timers = Timers()
    policy = Policy(no_model_grace=3.0)
    for now, log in [(10.0, EMPTY), (11.0, LOADING), (12.0, EMPTY), (14.0, EMPTY)]:
        timers.now = now
        verdict = no_model.classify_no_model(pod, {"model-server": log}, policy, timers)
    assert verdict is not None
    assert verdict.status is Status.IN_PROGRESS


@pytest.mark.parametrize(
    "container",
    [
        pytest.param({"name": "model-server", "image": "tensorflow/serving"}, id="image"),
        pytest.param(
            {"name": "model-server", "image": "registry.example.com/tensorflow/serving@sha256:ab"},
            id="mirrored-image",
        ),
        pytest.param(
            {
                "name": "model-server",
                "image": "ml/server:1",
                "command": ["tensorflow_model_server"],
            },
            id="command",
        ),
        pytest.param(
            {"name": "model-server", "image": "ml/server:1", "args": ["--model_base_path=/m"]},
            id="flags",
        ),
    ],
)
def test_serving_containers_are_known_by_image_command_or_flags(container: Obj) -> None:
    assert no_model.is_serving_container(container)


def test_other_containers_are_never_read_nor_failed() -> None:
    pod = copy.deepcopy(serving_pod(image="ml/web:1"))
    pod["spec"]["containers"][0]["args"] = ["8501"]
    assert no_model.waiting_servers(pod) == []
    timers = Timers(now=100.0)
    logs = {"model-server": EMPTY}
    assert no_model.classify_no_model(pod, logs, Policy(no_model_grace=0), timers) is None


def test_a_server_that_crashed_is_left_to_the_crash_loop_rule() -> None:
    pod = serving_pod()
    pod["status"]["containerStatuses"][0]["state"] = {"waiting": {"reason": "CrashLoopBackOff"}}
    assert no_model.waiting_servers(pod) == []
