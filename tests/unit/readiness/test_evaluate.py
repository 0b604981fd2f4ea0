"""Phase B (committed pod template vs live), services, missing objects, digests, aggregation."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from ci_plugins.verify.readiness.model import Obj, ObjectRef, Status, aggregate
from tests.unit.readiness.fake import FakeSnapshot, evaluate_twice, load

F = load("evaluate.yaml")
REF = ObjectRef("apps/v1", "Deployment", "ns", "digits")


def _live_pod(image_id: str, *, ready: bool = True) -> Obj:
    return {
        "metadata": {"name": f"digits-{image_id[-4:]}", "ownerReferences": [{"uid": "rs"}]},
        "status": {
            "phase": "Running",
            "conditions": [{"type": "Ready", "status": "True" if ready else "False"}],
            "containerStatuses": [{"name": "model-server", "imageID": image_id, "ready": ready}],
        },
    }


def _rs() -> Obj:
    return {
        "metadata": {
            "name": "digits-rs",
            "uid": "rs",
            "annotations": {"deployment.kubernetes.io/revision": "1"},
            "ownerReferences": [{"uid": "dep"}],
        }
    }


def _with_revision(obj: Obj) -> dict[str, Any]:
    copied: dict[str, Any] = copy.deepcopy(dict(obj))
    copied["metadata"]["annotations"] = {"deployment.kubernetes.io/revision": "1"}
    return copied


@pytest.mark.parametrize(
    ("at", "expect"),
    [
        pytest.param(0, ("InProgress", "SpecNotApplied"), id="old-version-waits-at-first"),
        pytest.param(61, ("Failed", "SpecDrift"), id="old-version-healthy-never-passes"),
    ],
)
def test_old_release_that_rolled_out_fine_does_not_pass(at: float, expect: tuple[str, str]) -> None:
    snap = FakeSnapshot({REF: F["live_old_version"]})
    result = evaluate_twice({REF: F["committed"]}, snap, at=at)[0].result
    assert (result.status.value, result.reason) == expect
    assert "ci-plugins.dev/model-version='3', want '4'" in result.message


def test_annotations_added_in_the_cluster_are_fine() -> None:
    live = _with_revision(F["live_with_extra_annotation"])
    snap = FakeSnapshot({REF: live}, all_pods=[_live_pod("x@sha256:1111")], sets=[_rs()])
    result = evaluate_twice({REF: F["committed"]}, snap)[0].result
    assert result.status is Status.CURRENT


def test_pinned_digest_must_match_running_pods() -> None:
    live = _with_revision(F["live_with_extra_annotation"])
    snap = FakeSnapshot({REF: live}, all_pods=[_live_pod("x@sha256:9999")], sets=[_rs()])
    result = evaluate_twice({REF: F["committed"]}, snap)[0].result
    assert (result.status, result.reason) == (Status.FAILED, "ImageDigestMismatch")


def test_missing_object_waits_then_fails() -> None:
    assert evaluate_twice({REF: F["committed"]}, FakeSnapshot(), at=10)[0].result.status is (
        Status.NOT_FOUND
    )
    late = evaluate_twice({REF: F["committed"]}, FakeSnapshot(), at=61)[0].result
    assert (late.status, late.reason) == (Status.FAILED, "Missing")


def _service() -> tuple[ObjectRef, Obj]:
    svc = {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": "digits"},
        "spec": {"clusterIP": "10.0.0.1", "selector": {"app": "digits"}},
    }
    return ObjectRef("v1", "Service", "ns", "digits"), svc


@pytest.mark.parametrize(
    ("endpoint_pod", "expect"),
    [
        pytest.param("digits-1111", "Current", id="endpoint-on-new-pod"),
        pytest.param("digits-old0", "InProgress", id="endpoint-on-old-pod-only"),
    ],
)
def test_service_needs_a_ready_endpoint_on_a_new_pod(endpoint_pod: str, expect: str) -> None:
    committed = copy.deepcopy(F["committed"])
    committed["spec"]["template"]["metadata"]["labels"] = {"app": "digits"}
    live = dict(_with_revision(committed))
    live["status"] = F["live_old_version"]["status"]
    svc_ref, svc = _service()
    slices: list[Obj] = [
        {"endpoints": [{"conditions": {"ready": True}, "targetRef": {"name": endpoint_pod}}]}
    ]
    snap = FakeSnapshot(
        {REF: live, svc_ref: svc},
        all_pods=[_live_pod("x@sha256:1111")],
        sets=[_rs()],
        slices=slices,
    )
    checked = evaluate_twice({REF: committed, svc_ref: svc}, snap)
    assert checked[1].result.status.value == expect


@pytest.mark.parametrize(
    ("statuses", "expect"),
    [
        pytest.param([Status.CURRENT, Status.FAILED, Status.UNKNOWN], Status.FAILED, id="failed"),
        pytest.param(
            [Status.CURRENT, Status.UNKNOWN, Status.IN_PROGRESS], Status.UNKNOWN, id="unk"
        ),
        pytest.param([Status.CURRENT, Status.CURRENT], Status.CURRENT, id="all-current"),
        pytest.param([Status.CURRENT, Status.NOT_FOUND], Status.IN_PROGRESS, id="in-progress"),
    ],
)
def test_kstatus_aggregation(statuses: list[Status], expect: Status) -> None:
    assert aggregate(statuses) is expect
