"""Phases B-D over the whole set of committed objects, against one snapshot of the cluster."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Protocol

from ci_plugins.verify.readiness import kinds, pods
from ci_plugins.verify.readiness.fingerprint import fingerprint, pinned_digest
from ci_plugins.verify.readiness.model import (
    Obj,
    ObjectRef,
    Result,
    Status,
    Timers,
    current,
    failed,
    get,
    progressing,
)
from ci_plugins.verify.readiness.policy import Policy

WORKLOADS = ("Deployment", "StatefulSet", "DaemonSet", "ReplicaSet", "Job", "Pod", "Rollout")


class Snapshot(Protocol):
    """What the rules may look at: live objects, pods, ReplicaSets, slices, events."""

    def get(self, ref: ObjectRef) -> Obj | None: ...

    def pods(self, namespace: str) -> Sequence[Obj]: ...

    def replicasets(self, namespace: str) -> Sequence[Obj]: ...

    def endpoint_slices(self, namespace: str, service: str) -> Sequence[Obj]: ...

    def events(self, namespace: str, name: str) -> Sequence[Obj]: ...


@dataclass(frozen=True)
class Checked:
    """One object's result, plus the new-revision pods it owns (for evidence and services)."""

    ref: ObjectRef
    result: Result
    new_pods: tuple[Obj, ...] = ()


@dataclass
class Evaluator:
    """Applies the rules; keeps the first-seen timers across re-evaluations."""

    policy: Policy
    committed: Mapping[ObjectRef, Obj]
    timers: Timers = field(default_factory=Timers)

    def evaluate(self, snap: Snapshot, now: float) -> list[Checked]:
        self.timers.now = now
        checked = {
            ref: self._workload(ref, obj, snap)
            for ref, obj in self.committed.items()
            if ref.kind != "Service"
        }
        for ref, _obj in self.committed.items():
            if ref.kind == "Service":
                checked[ref] = self._service(ref, snap, checked)
        return [checked[ref] for ref in self.committed]

    def _workload(self, ref: ObjectRef, want: Obj, snap: Snapshot) -> Checked:
        live = snap.get(ref)
        key = f"{ref.kind}/{ref.namespace}/{ref.name}"
        if live is None:
            if self.timers.age(f"{key}/missing") >= self.policy.missing_grace:
                return Checked(ref, failed("Missing", missing_message(ref)))
            return Checked(ref, Result(Status.NOT_FOUND, "NotFound", not_yet_message(ref)))
        self.timers.forget(f"{key}/missing")
        if get(live, "metadata", "deletionTimestamp"):
            return Checked(ref, progressing("Terminating", "is being deleted"))
        drift = self._spec(ref, want, live)
        if drift is not None:
            return Checked(ref, drift)
        new_pods = self._new_pods(ref, live, snap)
        result = self._kind_rule(ref, live, snap, key)
        if result.status is not Status.CURRENT and ref.kind in WORKLOADS:
            events = {
                pods.pod_name(p): snap.events(ref.namespace, pods.pod_name(p))
                for p in new_pods
                if _unscheduled(p)
            }
            verdict = pods.classify_pods(
                new_pods,
                events,
                self.policy,
                self.timers,
                surge_deadlock=self._surge_deadlock(ref, live, snap),
            )
            if verdict is not None and (verdict.final or result.status is Status.IN_PROGRESS):
                result = (
                    verdict
                    if verdict.final
                    else replace(result, message=f"{result.message}; {verdict.message}")
                )
        if result.status is Status.IN_PROGRESS and new_pods:
            states = ", ".join(
                f"pod {pods.pod_name(p)}: {pods.describe_pod(p)}" for p in new_pods[:3]
            )
            result = replace(result, message=f"{result.message}; {states}")
        if result.status is Status.CURRENT:
            result = _digest_check(want, new_pods) or result
        return Checked(ref, result, tuple(new_pods))

    def _spec(self, ref: ObjectRef, want: Obj, live: Obj) -> Result | None:
        expected = fingerprint(want)
        actual = fingerprint(live)
        key = f"{ref.kind}/{ref.namespace}/{ref.name}/spec"
        if expected is None or actual is None:
            return None
        problems = expected.mismatches(actual)
        if not problems:
            self.timers.forget(key)
            return None
        message = "does not run the committed pod template: " + "; ".join(problems)
        if self.timers.age(key) >= self.policy.spec_drift_grace:
            return failed("SpecDrift", message)
        return progressing("SpecNotApplied", message)

    def _kind_rule(self, ref: ObjectRef, live: Obj, snap: Snapshot, key: str) -> Result:
        kind = ref.kind
        if kind == "Deployment":
            new_rs = kinds.find_new_replicaset(live, snap.replicasets(ref.namespace))
            return kinds.deployment(live, self.policy, self.timers, new_rs)
        if kind == "StatefulSet":
            return kinds.statefulset(live, self.policy)
        if kind == "DaemonSet":
            return kinds.daemonset(live, self.policy)
        if kind == "ReplicaSet":
            return kinds.replicaset(live, self.policy, self.timers)
        if kind == "Pod":
            return kinds.pod(live)
        if kind == "Job":
            return kinds.job(live)
        if kind == "PersistentVolumeClaim":
            return kinds.pvc(live)
        if kind == "HorizontalPodAutoscaler":
            return kinds.hpa(live, self.policy, self.timers)
        if kind == "CustomResourceDefinition":
            return kinds.crd(live)
        if kind == "Rollout":
            return kinds.rollout(live)
        if kind == "InferenceService":
            return kinds.inference_service(live)
        if kind in ("HTTPRoute", "GRPCRoute") and ref.api_version.startswith(
            "gateway.networking.k8s.io/"
        ):
            return kinds.route(live, self.timers, self.policy, key)
        if kind in kinds.ALWAYS_CURRENT:
            return current("Exists")
        return kinds.generic(live, self.timers, self.policy, key)

    def _new_pods(self, ref: ObjectRef, live: Obj, snap: Snapshot) -> list[Obj]:
        if ref.kind == "Pod":
            return [live]
        if ref.kind not in WORKLOADS:
            return []
        all_pods = snap.pods(ref.namespace)
        if ref.kind == "Deployment":
            new_rs = kinds.find_new_replicaset(live, snap.replicasets(ref.namespace))
            return _owned(all_pods, new_rs) if new_rs is not None else []
        owned = _owned(all_pods, live)
        if ref.kind == "StatefulSet":
            revision = get(live, "status", "updateRevision")
            return [
                p
                for p in owned
                if get(p, "metadata", "labels", "controller-revision-hash") == revision
            ]
        return owned

    def _surge_deadlock(self, ref: ObjectRef, live: Obj, snap: Snapshot) -> bool:
        """Old pods hold the GPUs and maxUnavailable 0 forbids freeing one first."""
        if ref.kind != "Deployment":
            return False
        strategy = get(live, "spec", "strategy", default={})
        if strategy.get("type", "RollingUpdate") != "RollingUpdate":
            return False
        if str(get(strategy, "rollingUpdate", "maxUnavailable", default="25%")) not in ("0", "0%"):
            return False
        new_rs = kinds.find_new_replicaset(live, snap.replicasets(ref.namespace))
        uid = get(live, "metadata", "uid")
        old_sets = [
            rs
            for rs in snap.replicasets(ref.namespace)
            if rs is not new_rs
            and any(o.get("uid") == uid for o in get(rs, "metadata", "ownerReferences", default=[]))
        ]
        all_pods = snap.pods(ref.namespace)
        return any(
            get(p, "status", "phase") == "Running" for rs in old_sets for p in _owned(all_pods, rs)
        )

    def _service(
        self, ref: ObjectRef, snap: Snapshot, checked: dict[ObjectRef, Checked]
    ) -> Checked:
        live = snap.get(ref)
        key = f"Service/{ref.namespace}/{ref.name}"
        if live is None:
            if self.timers.age(f"{key}/missing") >= self.policy.missing_grace:
                return Checked(ref, failed("Missing", missing_message(ref)))
            return Checked(ref, Result(Status.NOT_FOUND, "NotFound", not_yet_message(ref)))
        selector = get(live, "spec", "selector", default={})
        selected: set[str] | None = None
        for other, result in checked.items():
            want = self.committed[other]
            labels = get(want, *_template_labels(other.kind), default={})
            replicas = get(want, "spec", "replicas", default=1)
            if (
                other.namespace == ref.namespace
                and selector
                and replicas
                and _matches(selector, labels)
            ):
                selected = (selected or set()) | {pods.pod_name(p) for p in result.new_pods}
        slices = snap.endpoint_slices(ref.namespace, ref.name) if selected is not None else []
        return Checked(ref, kinds.service(live, slices, selected))


def _unscheduled(pod: Obj) -> bool:
    return any(
        c.get("type") == "PodScheduled" and c.get("status") == "False"
        for c in get(pod, "status", "conditions", default=[])
    )


def _template_labels(kind: str) -> tuple[str, ...]:
    if kind == "Pod":
        return ("metadata", "labels")
    return ("spec", "template", "metadata", "labels")


def _matches(selector: dict[str, str], labels: dict[str, str]) -> bool:
    return all(labels.get(k) == v for k, v in selector.items())


def _owned(all_pods: Sequence[Obj], owner: Obj) -> list[Obj]:
    uid = get(owner, "metadata", "uid")
    return [
        p
        for p in all_pods
        if uid
        and any(o.get("uid") == uid for o in get(p, "metadata", "ownerReferences", default=[]))
    ]


def _digest_check(want: Obj, new_pods: Sequence[Obj]) -> Result | None:
    """Running new pods agree on image digests, and match a digest pinned in the manifest."""
    expected = fingerprint(want)
    if expected is None:
        return None
    seen: dict[str, set[str]] = {}
    for pod in new_pods:
        for status in get(pod, "status", "containerStatuses", default=[]):
            image_id = str(status.get("imageID") or "")
            if "@" in image_id:
                seen.setdefault(str(status.get("name")), set()).add(image_id.rpartition("@")[2])
    for name, digests in seen.items():
        pinned = pinned_digest(expected.images.get(name, ""))
        if len(digests) > 1 or (pinned and digests != {pinned}):
            return failed(
                "ImageDigestMismatch",
                f"container {name} runs {', '.join(sorted(digests))}"
                + (f", manifest pins {pinned}" if pinned else ""),
            )
    return None


def missing_message(ref: ObjectRef) -> str:
    """Missing after the grace: where verify looked (#17)."""
    return f"does not exist in namespace {ref.namespace}"


def not_yet_message(ref: ObjectRef) -> str:
    return f"not created yet in namespace {ref.namespace}"
