"""Phase D: the fail-fast classifier on the new ReplicaSet's pods of a rolling Deployment."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from ci_plugins.verify.readiness.model import Obj, ObjectRef
from tests.unit.readiness.fake import FakeSnapshot, evaluate_twice, load

REVISION = "deployment.kubernetes.io/revision"


def rolling_deployment(strategy: dict[str, Any] | None) -> Obj:
    spec: dict[str, Any] = {
        "replicas": 2,
        "selector": {"matchLabels": {"app": "digits"}},
        "template": {
            "metadata": {"labels": {"app": "digits"}},
            "spec": {"containers": [{"name": "model-server", "image": "i"}]},
        },
    }
    if strategy:
        spec["strategy"] = strategy
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {
            "name": "digits",
            "uid": "dep",
            "generation": 2,
            "annotations": {REVISION: "2"},
        },
        "spec": spec,
        "status": {"observedGeneration": 2, "replicas": 3, "updatedReplicas": 1},
    }


def replica_set(name: str, revision: str) -> Obj:
    return {
        "metadata": {
            "name": name,
            "uid": name,
            "annotations": {REVISION: revision},
            "ownerReferences": [{"uid": "dep", "kind": "Deployment", "name": "digits"}],
        }
    }


def pod(name: str, owner: str, status: dict[str, Any]) -> Obj:
    return {
        "metadata": {"name": name, "ownerReferences": [{"uid": owner, "kind": "ReplicaSet"}]},
        "status": {"phase": "Running", **copy.deepcopy(status)},
    }


@pytest.mark.parametrize("case", [pytest.param(c, id=c["id"]) for c in load("pods.yaml")["cases"]])
def test_pod_classifier(case: dict[str, Any]) -> None:
    deploy = rolling_deployment(case.get("strategy"))
    new_pods = [pod(f"digits-new-{i}", "rs-new", s) for i, s in enumerate(case["pods"])]
    old_pods = [pod(f"digits-old-{i}", "rs-old", s) for i, s in enumerate(case.get("old_pods", []))]
    events = {f"digits-new-{i}": e for i, e in (case.get("events") or {}).items()}
    ref = ObjectRef("apps/v1", "Deployment", "ns", "digits")
    snap = FakeSnapshot(
        {ref: deploy},
        all_pods=new_pods + old_pods,
        sets=[replica_set("rs-new", "2"), replica_set("rs-old", "1")],
        event_map=events,
    )
    result = evaluate_twice({ref: deploy}, snap, at=case.get("at", 0), policy=case.get("policy"))[
        0
    ].result
    status, reason, *message = case["expect"]
    assert (result.status.value, result.reason) == (status, reason), result.message
    for part in message:
        assert part in result.message


def test_old_replica_set_pods_are_not_classified() -> None:
    deploy = rolling_deployment(None)
    crashing = {
        "containerStatuses": [{"name": "m", "state": {"waiting": {"reason": "CrashLoopBackOff"}}}]
    }
    ref = ObjectRef("apps/v1", "Deployment", "ns", "digits")
    snap = FakeSnapshot(
        {ref: deploy},
        all_pods=[pod("digits-old-0", "rs-old", crashing)],
        sets=[replica_set("rs-new", "2"), replica_set("rs-old", "1")],
    )
    result = evaluate_twice({ref: deploy}, snap)[0].result
    assert result.reason == "UpdatingReplicas"
