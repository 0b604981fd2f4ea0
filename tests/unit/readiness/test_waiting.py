"""The waiting loop with an injected clock and an in-memory fake of our Kube adapter (polling).

Time-based rules (grace windows, budgets) fire on resyncs; no test really sleeps.
"""

from __future__ import annotations

import io
from dataclasses import dataclass, field
from typing import Any

from ci_plugins.config.models import VerifyConfig
from ci_plugins.output import Output
from ci_plugins.step import StepContext
from ci_plugins.verify.committed import Committed
from ci_plugins.verify.readiness.model import ObjectRef
from ci_plugins.verify.waiting import Verification
from tests.support.clock import FakeClock

DEPLOY = ObjectRef("apps/v1", "Deployment", "ns", "digits")
TEMPLATE = {
    "metadata": {"labels": {"app": "digits"}},
    "spec": {"containers": [{"name": "m", "image": "i"}]},
}


@dataclass
class FakeKube:
    """Answers like our adapter does, from dicts; `clock` is shared with the step."""

    clock: FakeClock
    objects: dict[tuple[str, str], list[dict[str, Any]]] = field(default_factory=dict)
    events_list: list[dict[str, Any]] = field(default_factory=list)
    watch_error: Exception | None = None
    calls: int = 0
    logs: dict[tuple[str, str], str] = field(default_factory=dict)
    log_reads: list[float] = field(default_factory=list)

    def list_objects(
        self, api: str, kind: str, ns: str, **_: Any
    ) -> tuple[list[dict[str, Any]], str]:
        self.calls += 1
        return list(self.objects.get((api, kind), [])), "1"

    def get(self, ref: ObjectRef) -> dict[str, Any] | None:
        items = self.objects.get((ref.api_version, ref.kind), [])
        return next((o for o in items if o["metadata"]["name"] == ref.name), None)

    def events(self, namespace: str) -> list[dict[str, Any]]:
        return self.events_list

    def pod_log(self, namespace: str, pod: str, container: str, *, previous: bool) -> str:
        self.log_reads.append(self.clock.now)
        return self.logs.get((pod, container), "")


def deployment_rolling() -> dict[str, Any]:
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {
            "name": "digits",
            "uid": "d",
            "generation": 1,
            "annotations": {"deployment.kubernetes.io/revision": "1"},
        },
        "spec": {"replicas": 1, "template": TEMPLATE},
        "status": {"observedGeneration": 1, "replicas": 1, "updatedReplicas": 1},
    }


def setup(**verify: Any) -> tuple[Verification, FakeKube, FakeClock, io.StringIO]:
    clock = FakeClock(now=1000.0)
    kube = FakeKube(clock)
    committed_obj = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "digits", "namespace": "ns"},
        "spec": {"replicas": 1, "template": TEMPLATE},
    }
    committed = Committed(
        "repo", "main", "c0ffee", "dev", ["digits"], {DEPLOY: committed_obj}, {DEPLOY: "digits"}
    )
    log = io.StringIO()
    ctx = StepContext(
        config_path=__import__("pathlib").Path("none.yaml"),
        out=Output(environ={}, stream=log),
        clock=clock,
    )
    vcfg = VerifyConfig.model_validate({"watch": False, **verify})
    run = Verification(ctx, vcfg, committed, kube, start=clock.time(), deadline=clock.time() + 3600)  # type: ignore[arg-type]
    return run, kube, clock, log


def test_a_rollout_that_never_finishes_times_out_with_its_last_reason() -> None:
    run, kube, clock, log = setup(rollout_timeout=60)
    kube.objects[("apps/v1", "Deployment")] = [deployment_rolling()]
    checked = run.phases_b_to_d()
    assert run.verdict(checked) == "timeout"
    assert checked[0].result.reason == "WaitingAvailable"
    assert 1060 <= clock.now < 1071
    assert "giving up in" in log.getvalue()


def test_unschedulable_fails_after_the_grace_on_the_injected_clock() -> None:
    run, kube, clock, _log = setup(unschedulable_grace=120)
    kube.objects[("apps/v1", "Deployment")] = [deployment_rolling()]
    kube.objects[("apps/v1", "ReplicaSet")] = [
        {
            "metadata": {
                "name": "rs",
                "uid": "rs",
                "annotations": {"deployment.kubernetes.io/revision": "1"},
                "ownerReferences": [{"uid": "d"}],
            }
        }
    ]
    kube.objects[("v1", "Pod")] = [
        {
            "metadata": {"name": "digits-x", "ownerReferences": [{"uid": "rs"}]},
            "status": {
                "phase": "Pending",
                "conditions": [
                    {
                        "type": "PodScheduled",
                        "status": "False",
                        "reason": "Unschedulable",
                        "message": "0/2 nodes are available: 2 Insufficient nvidia.com/gpu.",
                    }
                ],
            },
        }
    ]
    checked = run.phases_b_to_d()
    assert run.verdict(checked) == "failed"
    assert checked[0].result.reason == "UnschedulableNoScaleUp"
    assert 1120 <= clock.now <= 1135  # failed at the first resync after the grace


NO_VERSION = (
    "W file_system_storage_path_source.cc:263] No versions of servable digits found under "
    "base path /models/digits. Did you forget to name your leaf directory as a number (eg. '/1/')?"
)


def serving_pod_not_ready() -> dict[str, Any]:
    return {
        "metadata": {"name": "digits-x", "ownerReferences": [{"uid": "rs"}]},
        "spec": {"containers": [{"name": "m", "image": "tensorflow/serving:2.14.1"}]},
        "status": {
            "phase": "Running",
            "containerStatuses": [
                {"name": "m", "ready": False, "state": {"running": {"startedAt": "now"}}}
            ],
        },
    }


def test_a_model_server_without_a_model_fails_within_seconds_reading_its_log_once_a_second() -> (
    None
):
    run, kube, clock, _log = setup(resync_interval=10, progress_interval=5)
    kube.objects[("apps/v1", "Deployment")] = [deployment_rolling()]
    kube.objects[("apps/v1", "ReplicaSet")] = [
        {
            "metadata": {
                "name": "rs",
                "uid": "rs",
                "annotations": {"deployment.kubernetes.io/revision": "1"},
                "ownerReferences": [{"uid": "d"}],
            }
        }
    ]
    kube.objects[("v1", "Pod")] = [serving_pod_not_ready()]
    kube.logs[("digits-x", "m")] = NO_VERSION
    checked = run.phases_b_to_d()
    assert run.verdict(checked) == "failed"
    assert checked[0].result.reason == "NoModel"
    assert checked[0].result.message.startswith(
        "no model: TF Serving found no version of digits under /models/digits"
    )
    assert 1003 <= clock.now <= 1005  # the 3 s grace, not the 10 s resync or a probe's minute
    gaps = [b - a for a, b in zip(kube.log_reads, kube.log_reads[1:], strict=False)]
    assert len(kube.log_reads) <= 5
    assert all(gap >= 1.0 for gap in gaps)
