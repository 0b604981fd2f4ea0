"""Phase C: readiness rules per kind (docs/readiness.md section 4), on live objects as dicts."""

from __future__ import annotations

from collections.abc import Sequence

from ci_plugins.verify.readiness.model import (
    Obj,
    Result,
    Status,
    Timers,
    condition,
    condition_is,
    current,
    failed,
    get,
    progressing,
)
from ci_plugins.verify.readiness.policy import Policy

MAX_INT32 = 2147483647
REVISION = "deployment.kubernetes.io/revision"


def _generation(obj: Obj) -> Result | None:
    generation = get(obj, "metadata", "generation")
    observed = get(obj, "status", "observedGeneration")
    if generation is not None and (observed is None or _behind(observed, generation)):
        return progressing(
            "GenerationNotObserved", f"observed generation {observed}, want {generation}"
        )
    return None


def _behind(observed: object, generation: object) -> bool:
    # Argo Rollouts once reported observedGeneration as a string (or a hash): compare as text.
    try:
        return int(str(observed)) < int(str(generation))
    except ValueError:
        return str(observed) != str(generation)


def deployment(obj: Obj, policy: Policy, timers: Timers, new_rs: Obj | None = None) -> Result:
    """kubectl rollout status + kstatus + krane, strictest of each."""
    spec = get(obj, "spec", default={})
    status = get(obj, "status", default={})
    replicas = spec.get("replicas", 1) if spec.get("replicas") is not None else 1
    if (waiting := _generation(obj)) is not None:
        return waiting
    if spec.get("paused"):
        return (
            failed("Paused", "the Deployment is paused")
            if policy.fail_on_paused
            else Result(Status.SUSPENDED, "Paused", "the Deployment is paused")
        )
    progressing_cond = condition(obj, "Progressing") or {}
    if progressing_cond.get("reason") == "ProgressDeadlineExceeded":
        return failed("ProgressDeadlineExceeded", str(progressing_cond.get("message", "")))
    for holder in (obj, new_rs or {}):
        rf = condition(holder, "ReplicaFailure")
        key = f"{get(holder, 'metadata', 'name')}/replicafailure"
        if rf and rf.get("status") == "True":
            if timers.age(key) >= policy.replicafailure_grace:
                return failed("ReplicaCreateFailure", str(rf.get("message", "")))
            return progressing("ReplicaCreateFailure", str(rf.get("message", "")))
        timers.forget(key)
    updated = status.get("updatedReplicas") or 0
    total = status.get("replicas") or 0
    available = status.get("availableReplicas") or 0
    ready = status.get("readyReplicas") or 0
    if updated < replicas:
        return progressing("UpdatingReplicas", f"{updated}/{replicas} updated")
    if total > updated:
        return progressing(
            "OldReplicasPending", f"{total - updated} old replicas pending termination"
        )
    if available < updated or ready < replicas:
        return progressing("WaitingAvailable", f"{available}/{replicas} available, {ready} ready")
    deadline = spec.get("progressDeadlineSeconds")
    settled = condition_is(obj, "Available") and (
        deadline in (None, MAX_INT32) or progressing_cond.get("reason") == "NewReplicaSetAvailable"
    )
    if not settled:
        return progressing("ConditionsNotSettled", "Available/Progressing conditions not settled")
    if policy.require_terminated_old_pods and (status.get("terminatingReplicas") or 0) > 0:
        return progressing("OldPodsTerminating", f"{status['terminatingReplicas']} terminating")
    return current("Ready", f"{ready}/{replicas} ready")


def find_new_replicaset(deploy: Obj, replicasets: Sequence[Obj]) -> Obj | None:
    """The RS owned by the Deployment (by UID) whose revision equals the Deployment's."""
    uid = get(deploy, "metadata", "uid")
    revision = get(deploy, "metadata", "annotations", REVISION)
    owned = [
        rs
        for rs in replicasets
        if any(ref.get("uid") == uid for ref in get(rs, "metadata", "ownerReferences", default=[]))
    ]
    for rs in owned:
        if revision is not None and get(rs, "metadata", "annotations", REVISION) == revision:
            return rs
    return None


def statefulset(obj: Obj, policy: Policy) -> Result:
    spec = get(obj, "spec", default={})
    status = get(obj, "status", default={})
    replicas = spec.get("replicas") if spec.get("replicas") is not None else 1
    if status.get("observedGeneration") is None:
        return progressing("GenerationNotObserved", "no observed generation yet")
    if (waiting := _generation(obj)) is not None:
        return waiting
    updated = status.get("updatedReplicas") or 0
    ondelete = get(spec, "updateStrategy", "type") == "OnDelete"
    if ondelete and policy.ondelete_requires_updated and updated < replicas:
        return progressing("UpdatingReplicas", f"{updated}/{replicas} updated (OnDelete)")
    ready = status.get("readyReplicas") or 0
    if ready < replicas:
        return progressing("WaitingAvailable", f"{ready}/{replicas} ready")
    if (spec.get("minReadySeconds") or 0) > 0 and (status.get("availableReplicas") or 0) < replicas:
        return progressing(
            "WaitingAvailable", f"{status.get('availableReplicas') or 0}/{replicas} available"
        )
    if get(spec, "updateStrategy", "type") != "OnDelete":
        partition = max(0, get(spec, "updateStrategy", "rollingUpdate", "partition", default=0))
        want = max(0, replicas - partition)
        if updated < want:
            return progressing(
                "UpdatingReplicas", f"{updated}/{want} updated (partition {partition})"
            )
        if partition == 0 and status.get("currentRevision") != status.get("updateRevision"):
            return progressing(
                "UpdatingReplicas", "current revision is not the update revision yet"
            )
    if (status.get("replicas") or 0) > replicas:
        return progressing("OldReplicasPending", "extra replicas pending termination")
    return current("Ready", f"{ready}/{replicas} ready")


def daemonset(obj: Obj, policy: Policy) -> Result:
    status = get(obj, "status", default={})
    if get(obj, "metadata", "generation") is None or status.get("observedGeneration") is None:
        return progressing("GenerationNotObserved", "no observed generation yet")
    if (waiting := _generation(obj)) is not None:
        return waiting
    desired = status.get("desiredNumberScheduled")
    if desired is None:
        return progressing("WaitingAvailable", "desiredNumberScheduled not reported yet")
    updated = status.get("updatedNumberScheduled") or 0
    ondelete = get(obj, "spec", "updateStrategy", "type") == "OnDelete"
    if updated < desired and (not ondelete or policy.ondelete_requires_updated):
        return progressing("UpdatingReplicas", f"{updated}/{desired} updated")
    for key in ("numberAvailable", "numberReady"):
        if (status.get(key) or 0) < desired:
            return progressing(
                "WaitingAvailable", f"{status.get(key) or 0}/{desired} {key[6:].lower()}"
            )
    return current("Ready", f"{desired}/{desired} ready")


def replicaset(obj: Obj, policy: Policy, timers: Timers) -> Result:
    if (waiting := _generation(obj)) is not None:
        return waiting
    rf = condition(obj, "ReplicaFailure")
    if (
        rf
        and rf.get("status") == "True"
        and (
            timers.age(f"{get(obj, 'metadata', 'name')}/replicafailure")
            >= policy.replicafailure_grace
        )
    ):
        return failed("ReplicaCreateFailure", str(rf.get("message", "")))
    replicas = get(obj, "spec", "replicas", default=1)
    available = get(obj, "status", "availableReplicas", default=0)
    if available < replicas:
        return progressing("WaitingAvailable", f"{available}/{replicas} available")
    return current("Ready", f"{available}/{replicas} available")


def pod(obj: Obj) -> Result:
    phase = get(obj, "status", "phase", default="Pending")
    if phase == "Succeeded":
        return current("Succeeded")
    if phase == "Failed":
        statuses = get(obj, "status", "containerStatuses", default=[])
        detail = [
            f"{s.get('name')}: exit code {get(s, 'state', 'terminated', 'exitCode')} "
            f"{get(s, 'state', 'terminated', 'reason', default='')}".rstrip()
            for s in statuses
            if get(s, "state", "terminated")
        ]
        message = "; ".join(detail) or str(get(obj, "status", "reason", default=""))
        return failed("PodFailed", message, pod=str(get(obj, "metadata", "name")))
    if condition_is(obj, "Ready"):
        return current("Ready")
    return progressing("WaitingAvailable", f"pod is {phase}, not ready")


def job(obj: Obj) -> Result:
    if condition_is(obj, "Complete") or condition_is(obj, "SuccessCriteriaMet"):
        return current("Complete")
    for kind in ("Failed", "FailureTarget"):
        cond = condition(obj, kind)
        if cond and cond.get("status") == "True":
            return failed("JobFailed", f"{cond.get('reason', '')}: {cond.get('message', '')}")
    if get(obj, "spec", "suspend"):
        return Result(Status.SUSPENDED, "Suspended", "the Job is suspended")
    return progressing("JobRunning", f"{get(obj, 'status', 'active', default=0)} active")


def pvc(obj: Obj) -> Result:
    phase = get(obj, "status", "phase", default="Pending")
    if phase == "Bound":
        return current("Bound")
    if phase == "Lost":
        return failed("ClaimLost", "the volume claim lost its volume")
    return progressing("ClaimPending", "claim is Pending (WaitForFirstConsumer waits for a pod)")


def service(obj: Obj, slices: Sequence[Obj], new_pods: set[str] | None) -> Result:
    """Addresses assigned, and (when it selects our workload) a ready new-revision endpoint."""
    spec = get(obj, "spec", default={})
    if spec.get("type") == "ExternalName":
        return current("ExternalName")
    if not spec.get("clusterIP"):
        return progressing("NoClusterIP", "no cluster IP assigned yet")
    if spec.get("type") == "LoadBalancer" and not (
        get(obj, "status", "loadBalancer", "ingress") or spec.get("externalIPs")
    ):
        return progressing("LoadBalancerPending", "no load balancer ingress yet")
    if new_pods is None:
        return current("Ready")
    ready = [
        get(ep, "targetRef", "name")
        for s in slices
        for ep in s.get("endpoints") or []
        if get(ep, "conditions", "ready") is not False
    ]
    if any(name in new_pods for name in ready):
        return current("Ready", f"{len(ready)} ready endpoint(s)")
    return progressing("NoReadyEndpoints", "no ready endpoint points at a new-revision pod")


HPA_METRIC_REASONS = ("FailedGet", "FailedComputeMetricsReplicas")


def hpa(obj: Obj, policy: Policy, timers: Timers) -> Result:
    """Argo CD's Degraded reasons, with a grace for metric fetches (KEDA transients)."""
    for cond in get(obj, "status", "conditions", default=[]):
        if cond.get("status") != "False":
            continue
        reason = str(cond.get("reason", ""))
        message = str(cond.get("message", ""))
        if "missing request for" in message:
            return failed("HPAConfigError", message)
        if reason.startswith(HPA_METRIC_REASONS):
            key = f"{get(obj, 'metadata', 'name')}/metrics"
            if timers.age(key) >= policy.hpa_metrics_grace:
                return failed("HPAMetricsUnavailable", f"{reason}: {message}")
            return progressing("HPAMetricsUnavailable", f"{reason}: {message}")
        if cond.get("type") == "AbleToScale" and reason.startswith("Failed"):
            return failed("HPAUnableToScale", f"{reason}: {message}")
    timers.forget(f"{get(obj, 'metadata', 'name')}/metrics")
    if condition_is(obj, "AbleToScale"):
        return current("Ready")
    return progressing("WaitingAvailable", "AbleToScale not reported yet")


def crd(obj: Obj) -> Result:
    if condition_is(obj, "NamesAccepted", "False"):
        return failed(
            "NamesNotAccepted", str((condition(obj, "NamesAccepted") or {}).get("message"))
        )
    if condition_is(obj, "Established"):
        return current("Established")
    return progressing("NotEstablished", "CRD not established yet")


def rollout(obj: Obj) -> Result:
    """Argo Rollouts: as the Argo CD health Lua."""
    if (waiting := _generation(obj)) is not None:
        return waiting
    workload_gen = get(obj, "status", "workloadObservedGeneration")
    stale = workload_gen is not None and str(workload_gen) != str(
        get(obj, "metadata", "generation")
    )
    if stale and get(obj, "spec", "workloadRef"):
        return progressing("GenerationNotObserved", "workload generation not observed")
    phase = get(obj, "status", "phase", default="")
    message = str(get(obj, "status", "message", default=""))
    if phase == "Healthy":
        return current("Healthy", message)
    if phase == "Paused":
        return Result(Status.SUSPENDED, "Paused", message)
    if phase == "Degraded":
        reason = "RolloutAborted" if "abort" in message.lower() else "ProgressDeadlineExceeded"
        return failed(reason, message)
    return progressing("RolloutProgressing", message or phase or "no phase yet")


def inference_service(obj: Obj) -> Result:
    model = get(obj, "status", "modelStatus", default={})
    transition = model.get("transitionStatus")
    target = get(model, "states", "targetModelState")
    if transition in ("BlockedByFailedLoad", "InvalidSpec") or target == "FailedToLoad":
        info = model.get("lastFailureInfo") or {}
        return failed(str(info.get("reason") or "ModelLoadFailed"), str(info.get("message", "")))
    if condition_is(obj, "Stopped"):
        return Result(Status.SUSPENDED, "Stopped", "the InferenceService is stopped")
    if (
        condition_is(obj, "Ready")
        and transition == "UpToDate"
        and get(model, "states", "activeModelState") == "Loaded"
        and target in (None, "", "Loaded")
    ):
        return current("Ready")
    return progressing("ModelLoading", f"transition {transition}, target {target}")


def route(obj: Obj, timers: Timers, policy: Policy, key: str) -> Result:
    """Gateway API routes (HTTPRoute, GRPCRoute): per parent in status.parents (its
    RouteParentStatus), Accepted and ResolvedRefs, at the route's generation.

    Accepted False fails at once with the controller's reason (NotAllowedByListeners,
    NoMatchingParent...), except Pending. ResolvedRefs False (BackendNotFound,
    RefNotPermitted...) fails once it has lasted unknown_grace: a controller can see the
    route a moment before the Services it names. No parent status after unknown_grace:
    Unknown (no Gateway controller picked the route up)."""
    generation = get(obj, "metadata", "generation")
    parents = get(obj, "status", "parents", default=[]) or []
    if not parents:
        if timers.age(f"{key}/unknown") >= policy.unknown_grace:
            return Result(
                Status.UNKNOWN,
                "NotAccepted",
                "no Gateway controller has written status.parents (is a controller running "
                "for the Gateway in parentRefs?)",
            )
        return progressing("NotAccepted", "waiting for a Gateway controller to accept the route")
    for parent in parents:
        gateway = str(get(parent, "parentRef", "name", default="?"))
        found = {c.get("type"): c for c in parent.get("conditions") or []}
        for kind in ("Accepted", "ResolvedRefs"):
            cond = found.get(kind)
            if cond is None or _behind(cond.get("observedGeneration", generation), generation):
                return progressing(f"{kind}Pending", f"Gateway {gateway}: {kind} not reported")
            if cond.get("status") == "False":
                reason = str(cond.get("reason") or f"Not{kind}")
                message = f"Gateway {gateway}: {cond.get('message', '')}".strip()
                transient = reason == "Pending" or kind == "ResolvedRefs"
                if transient and timers.age(f"{key}/{kind}") < policy.unknown_grace:
                    return progressing(reason, message)
                return failed(reason, message)
            timers.forget(f"{key}/{kind}")
            if cond.get("status") != "True":
                return progressing(f"{kind}Pending", f"Gateway {gateway}: {kind} unknown")
    return current("Accepted")


def generic(obj: Obj, timers: Timers, policy: Policy, key: str) -> Result:
    """Custom resources: observedGeneration, Reconciling/Stalled, Ready; Unknown otherwise."""
    if (waiting := _generation(obj)) is not None:
        return waiting
    if condition_is(obj, "Reconciling"):
        return progressing("Reconciling", str((condition(obj, "Reconciling") or {}).get("message")))
    if condition_is(obj, "Stalled"):
        return failed("Stalled", str((condition(obj, "Stalled") or {}).get("message")))
    ready = condition(obj, "Ready")
    if ready is not None:
        if ready.get("status") == "True":
            return current("Ready")
        if ready.get("status") == "False" and timers.age(f"{key}/notready") >= policy.unknown_grace:
            return failed("NotReady", str(ready.get("message", "")))
        return progressing("NotReady", str(ready.get("message", "")))
    if timers.age(f"{key}/unknown") >= policy.unknown_grace:
        return Result(
            Status.UNKNOWN, "NoRecognisableStatus", "no Ready/Stalled/Reconciling condition"
        )
    return progressing("NoRecognisableStatus", "waiting for a recognisable status")


ALWAYS_CURRENT = {
    "ConfigMap",
    "Secret",
    "PodDisruptionBudget",
    "ServiceAccount",
    "Role",
    "RoleBinding",
    "ClusterRole",
    "ClusterRoleBinding",
    "NetworkPolicy",
    "Namespace",
    "LimitRange",
    "ResourceQuota",
    "PriorityClass",
    "StorageClass",
    "Ingress",
    "CronJob",
    "ServiceMonitor",
    "PodMonitor",
    "PrometheusRule",
    # Istio writes no status on a VirtualService unless its config status is enabled
    # (istiod PILOT_ENABLE_STATUS), and Argo CD has no health check for it either.
    "VirtualService",
    "DestinationRule",
}
