"""The emulator's object shapes deserialize with the official client's typed models."""

from __future__ import annotations

import json

from ci_plugins_emulator.shapes import container_status, event, pod_conditions, replace_patch
from kubernetes import client

from ci_plugins.verify.serving import max_difference


def test_replace_patch_removes_keys_missing_from_the_new_object() -> None:
    old = {"metadata": {"annotations": {"ci-plugins.dev/simulate": "crashloop", "a": "1"}}}
    new = {"metadata": {"annotations": {"a": "2"}}}
    assert replace_patch(old, new) == {
        "metadata": {"annotations": {"ci-plugins.dev/simulate": None, "a": "2"}}
    }


def test_pod_status_deserializes_with_typed_models() -> None:
    container = {"name": "m", "image": "registry.example.com/tfs:2.15"}
    pod = {
        "metadata": {"name": "p", "namespace": "ns"},
        "spec": {"containers": [container]},
        "status": {
            "phase": "Running",
            "conditions": pod_conditions(scheduled=True, initialized=True, ready=False),
            "containerStatuses": [container_status(container, "crashloop", restarts=1)],
        },
    }
    typed = client.ApiClient().deserialize(json.dumps(pod), "V1Pod", "application/json")
    status = typed.status.container_statuses[0]
    assert status.state.waiting.reason == "CrashLoopBackOff"
    assert status.image_id.startswith("registry.example.com/tfs@sha256:")
    ev = event(pod, "BackOff", "Back-off", "kubelet", warning=True)
    typed_event = client.ApiClient().deserialize(json.dumps(ev), "CoreV1Event", "application/json")
    assert typed_event.involved_object.name == "p"


def test_smoke_comparison_is_within_tolerance_per_number() -> None:
    assert max_difference([[0.1, 0.9]], [[0.1, 0.8]]) == 0.09999999999999998
    assert max_difference([[0.1]], [[0.1, 0.2]]) is None
    assert max_difference(["cat"], ["dog"]) == float("inf")
