"""Phase D: the fail-fast pod classifier (new-revision pods; containers and init containers).

Pods show CrashLoopBackOff, OOMKilled or ErrImagePull long before a Deployment's progress
deadline (600 s) expires, which is all Argo CD, Flux and Argo Rollouts wait for. Reading
pods first lets a broken model fail in seconds.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence

from ci_plugins.verify.readiness.model import Obj, Result, Timers, failed, get, progressing
from ci_plugins.verify.readiness.policy import Policy

NOT_FOUND_PATTERN = re.compile(
    r"not found|manifest unknown|unauthorized|denied|does not exist|no such host|"
    r"repository .* not exist|pull access denied",
    re.IGNORECASE,
)
CREATE_ERRORS = {
    "CreateContainerError",
    "RunContainerError",
    "PreStartHookError",
    "PostStartHookError",
}
ADMISSION_REASONS = ("UnexpectedAdmissionError", "NodeAffinity", "TopologyAffinityError")
TRANSIENT_REASONS = ("Evicted", "Preempting")
GPU_RESOURCE = re.compile(r"Insufficient ([\w./-]*gpu[\w./-]*)", re.IGNORECASE)


def pod_name(pod: Obj) -> str:
    return str(get(pod, "metadata", "name", default="?"))


def classify_containers(pod: Obj, policy: Policy, timers: Timers) -> Result | None:
    """A Failed result for the first container (init first) in a fail-fast state, else None."""
    name = pod_name(pod)
    for init in (True, False):
        key = "initContainerStatuses" if init else "containerStatuses"
        for status in get(pod, "status", key, default=[]):
            verdict = _classify_container(name, status, policy, timers, init=init)
            if verdict is not None:
                return verdict
    return None


def _classify_container(
    pod: str, status: Obj, policy: Policy, timers: Timers, *, init: bool
) -> Result | None:
    container = str(status.get("name", "?"))
    waiting = get(status, "state", "waiting", default={})
    terminated = get(status, "state", "terminated", default={})
    last = get(status, "lastState", "terminated", default={})
    restarts = int(status.get("restartCount") or 0)
    reason = str(waiting.get("reason") or "")
    message = str(waiting.get("message") or "")
    where = f"pod {pod} {'init container' if init else 'container'} {container}"
    verdict: Result | None = None
    if "OOMKilled" in (terminated.get("reason"), last.get("reason")):
        if restarts >= policy.tolerate_oom_restarts:
            verdict = failed("OOMKilled", f"{where} was OOMKilled{_exit(last or terminated)}")
    elif reason == "CrashLoopBackOff":
        verdict = failed("CrashLoop", f"{where} is in CrashLoopBackOff{_exit(last)}")
    elif reason in ("ErrImagePull", "ImagePullBackOff"):
        if NOT_FOUND_PATTERN.search(message):
            verdict = failed("ImageNotFound", f"{where}: {reason}: {message}")
        elif timers.age(f"{pod}/{container}/pull") >= policy.image_pull_grace:
            verdict = failed("ImagePullBackOff", f"{where}: {reason}: {message}")
    elif reason in ("InvalidImageName", "ErrImageNeverPull"):
        verdict = failed("InvalidImage", f"{where}: {reason}: {message}")
    elif reason == "CreateContainerConfigError":
        transient = "failed to sync" in message and "cache" in message
        if not transient and timers.age(f"{pod}/{container}/config") >= policy.config_grace:
            verdict = failed("ContainerConfigError", f"{where}: {message}")
    elif reason in CREATE_ERRORS:
        verdict = failed("ContainerCreateError", f"{where}: {reason}: {message}")
    elif terminated.get("reason") in ("ContainerCannotRun", "StartError"):
        if terminated.get("exitCode") != 128 or restarts > 0:
            detail = terminated.get("message") or terminated.get("reason")
            verdict = failed("ContainerCreateError", f"{where}: {detail}")
    elif init and terminated and terminated.get("exitCode") not in (0, None) and restarts > 0:
        verdict = failed("InitContainerFailed", f"{where} failed{_exit(terminated)}")
    if verdict is not None and init:
        return failed("InitContainerFailed", f"{verdict.reason}: {verdict.message}", pod=pod)
    if verdict is not None:
        return failed(verdict.reason, verdict.message, pod=pod)
    return None


def _exit(terminated: Obj) -> str:
    if not terminated:
        return ""
    parts = [f"exit code {terminated.get('exitCode')}"]
    if terminated.get("reason"):
        parts.append(f"reason {terminated['reason']}")
    return " (last termination: " + ", ".join(parts) + ")"


def classify_unschedulable(
    pod: Obj,
    events: Sequence[Obj],
    policy: Policy,
    timers: Timers,
    *,
    surge_deadlock: bool = False,
) -> Result | None:
    """The GPU-aware Unschedulable policy; None when the pod is scheduled."""
    cond = next(
        (
            c
            for c in get(pod, "status", "conditions", default=[])
            if c.get("type") == "PodScheduled" and c.get("status") == "False"
        ),
        None,
    )
    if cond is None or cond.get("reason") != "Unschedulable":
        return None
    name = pod_name(pod)
    message = str(cond.get("message") or "")
    gpu = GPU_RESOURCE.search(message)
    if gpu and surge_deadlock:
        return failed(
            "GpuSurgeDeadlock",
            f"pod {name} cannot schedule ({message}) while old pods hold the "
            f"{gpu.group(1)} and the rollout has maxUnavailable: 0; use maxSurge: 0, "
            "maxUnavailable: 1 or the Recreate strategy",
            pod=name,
        )
    age = timers.age(f"{name}/unschedulable")
    reasons = [str(e.get("reason")) for e in events]
    if "TriggeredScaleUp" in reasons or "Nominated" in reasons:
        if age < policy.scale_up_grace:
            return progressing("Unschedulable", f"pod {name}: {message}; scale-up triggered")
        return failed("Unschedulable", f"pod {name} still unschedulable after scale-up: {message}")
    no_scale_up = [str(e.get("message")) for e in events if e.get("reason") == "NotTriggerScaleUp"]
    if age >= policy.unschedulable_grace:
        detail = "; ".join([message, *no_scale_up[-1:]])
        return failed(
            "UnschedulableNoScaleUp", f"pod {name} cannot be scheduled: {detail}", pod=name
        )
    return progressing("Unschedulable", f"pod {name}: {message}")


def admission_rejections(pods: Sequence[Obj]) -> list[Obj]:
    """New-revision pods the kubelet rejected (phase Failed with an admission reason)."""
    rejected = []
    for pod in pods:
        reason = str(get(pod, "status", "reason", default=""))
        if get(pod, "status", "phase") != "Failed":
            continue
        if reason.startswith(("OutOf", *ADMISSION_REASONS, *TRANSIENT_REASONS)):
            rejected.append(pod)
    return rejected


def classify_admission(pods: Sequence[Obj], policy: Policy) -> Result | None:
    """AdmissionRejected when enough pods were rejected, or none of the new pods runs."""
    rejected = admission_rejections(pods)
    if not rejected:
        return None
    running = [p for p in pods if get(p, "status", "phase") == "Running"]
    admission = [
        p for p in rejected if not str(get(p, "status", "reason")).startswith(TRANSIENT_REASONS)
    ]
    if len(rejected) >= policy.admission_failures_max or (admission and not running):
        sample = rejected[-1]
        return failed(
            "AdmissionRejected",
            f"{len(rejected)} new pod(s) rejected, e.g. {pod_name(sample)}: "
            f"{get(sample, 'status', 'reason')}: {get(sample, 'status', 'message', default='')}",
            pod=pod_name(sample),
        )
    return None


def describe_pod(pod: Obj) -> str:
    """A short state for progress lines: ContainerCreating, Running (not ready), Pending..."""
    for key in ("initContainerStatuses", "containerStatuses"):
        for status in get(pod, "status", key, default=[]):
            waiting = get(status, "state", "waiting", "reason")
            if waiting:
                return str(waiting)
            if key == "initContainerStatuses" and get(status, "state", "running"):
                return f"Init:{status.get('name')}"
    phase = str(get(pod, "status", "phase", default="Pending"))
    if phase == "Running" and not is_ready(pod):
        return "Running, not ready"
    return phase


def is_ready(pod: Obj) -> bool:
    return any(
        c.get("type") == "Ready" and c.get("status") == "True"
        for c in get(pod, "status", "conditions", default=[])
    )


def classify_pods(
    pods: Sequence[Obj],
    events_for: Mapping[str, Sequence[Obj]],
    policy: Policy,
    timers: Timers,
    *,
    surge_deadlock: bool = False,
) -> Result | None:
    """Phase D over the new-revision pods: the first Failed verdict, else a waiting reason."""
    waiting: Result | None = None
    admission = classify_admission(pods, policy)
    if admission is not None:
        return admission
    for pod in pods:
        if get(pod, "metadata", "deletionTimestamp") or get(pod, "status", "phase") == "Failed":
            continue
        verdict = classify_containers(pod, policy, timers) or classify_unschedulable(
            pod,
            events_for.get(pod_name(pod), []),
            policy,
            timers,
            surge_deadlock=surge_deadlock,
        )
        if verdict is not None and verdict.final:
            return verdict
        waiting = waiting or verdict
    return waiting
