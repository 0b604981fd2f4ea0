"""Watch a training Job until the chief succeeds, or fail fast with the reason (pure rules
over API-shaped dicts, plus the loop that reads them).

Reuses verify's pod classifier (CrashLoopBackOff, OOMKilled, image pulls, Unschedulable
naming the missing resource) and adds what only a Job has: a worker that exited with a
code that is never retried, the Job's own Failed condition, and no progress.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime

from ci_plugins.training.kubernetes.render import CONTAINER, NON_RETRYABLE_EXITS
from ci_plugins.verify.readiness.model import Obj, Timers, get
from ci_plugins.verify.readiness.pods import classify_pods, describe_pod, pod_name
from ci_plugins.verify.readiness.policy import Policy

INDEX_ANNOTATION = "batch.kubernetes.io/job-completion-index"


@dataclass(frozen=True)
class Verdict:
    """done: the chief succeeded; failed: stop (exit_code says how); else keep waiting."""

    state: str  # "running" | "done" | "failed"
    reason: str = ""
    message: str = ""
    exit_code: int = 3
    pod: str | None = None
    pending: tuple[str, ...] = ()


def index_of(pod: Obj) -> str:
    annotations = get(pod, "metadata", "annotations", default={}) or {}
    labels = get(pod, "metadata", "labels", default={}) or {}
    return str(annotations.get(INDEX_ANNOTATION) or labels.get(INDEX_ANNOTATION) or "?")


def judge(
    job: Obj,
    pods: Sequence[Obj],
    events_for: Mapping[str, Sequence[Obj]],
    policy: Policy,
    timers: Timers,
) -> Verdict:
    """The Job's state now, from the Job, its pods and their events."""
    conditions = [
        c for c in get(job, "status", "conditions", default=[]) or [] if c.get("status") == "True"
    ]
    if any(c.get("type") in ("Complete", "SuccessCriteriaMet") for c in conditions):
        return Verdict("done")
    for pod in sorted(pods, key=_finished_at):  # the first failure is the cause
        if _oom_killed(pod):  # a retry gets the same memory limit: fail now
            return Verdict(
                "failed",
                "OOMKilled",
                f"worker {index_of(pod)} (pod {pod_name(pod)}) was OOMKilled: raise "
                "train.kubernetes.resources.memory or lower the batch size",
                pod=pod_name(pod),
            )
        exited = _worker_exit(pod)
        if exited is not None and exited in NON_RETRYABLE_EXITS:
            return Verdict(
                "failed",
                "WorkerFailed",
                f"worker {index_of(pod)} (pod {pod_name(pod)}) exited with code {exited}, "
                "which is never retried",
                exit_code=exited,
                pod=pod_name(pod),
            )
    failed = [c for c in conditions if c.get("type") == "Failed"]
    if failed and failed[0].get("reason") == "DeadlineExceeded":  # activeDeadlineSeconds
        return over_budget(float(get(job, "spec", "activeDeadlineSeconds", default=0) or 0))
    if failed:  # after the pods: a worker's own reason says more than BackoffLimitExceeded
        return _job_failed(failed[0], pods)
    live = [p for p in pods if get(p, "status", "phase") not in ("Succeeded", "Failed")]
    result = classify_pods(live, events_for, policy, timers)
    if result is not None and result.final:
        return Verdict("failed", result.reason, result.message, pod=result.pod)
    pending = tuple(
        f"worker {index_of(p)} ({pod_name(p)}): {_why_pending(p)}"
        for p in live
        if get(p, "status", "phase", default="Pending") == "Pending"
    )
    return Verdict("running", pending=pending)


def over_budget(time_budget: float) -> Verdict:
    """The verdict when the run outlives train.kubernetes.time_budget (ours or the Job's)."""
    return Verdict(
        "failed",
        "TimeBudget",
        f"training ran past {time_budget:.0f}s (train.kubernetes.time_budget)",
    )


def running_for(job: Obj | None, *, wall: float) -> float:
    """Seconds since the Job started (status.startTime), 0 for a new or unstarted one.

    A re-run that attaches keeps the Job's own budget instead of starting a fresh one.
    """
    stamp = get(job or {}, "status", "startTime") or get(job or {}, "metadata", "creationTimestamp")
    if not stamp:
        return 0.0
    try:
        started = datetime.fromisoformat(str(stamp).replace("Z", "+00:00"))
    except ValueError:
        return 0.0
    return max(0.0, wall - started.timestamp())


def _job_failed(condition: Obj, pods: Sequence[Obj]) -> Verdict:
    reason = str(condition.get("reason") or "Failed")
    message = str(condition.get("message") or "")
    failed = [p for p in pods if get(p, "status", "phase") == "Failed"]
    codes = [c for c in (_worker_exit(p) for p in failed) if c is not None]
    exit_code = codes[-1] if codes and codes[-1] in NON_RETRYABLE_EXITS else 3
    return Verdict(
        "failed",
        f"Job{reason}",
        f"the Job failed: {reason}{': ' + message if message else ''}",
        exit_code=exit_code,
        pod=pod_name(failed[-1]) if failed else None,
    )


def _worker_exit(pod: Obj) -> int | None:
    if get(pod, "status", "phase") != "Failed":
        return None
    for status in get(pod, "status", "containerStatuses", default=[]) or []:
        if status.get("name") == CONTAINER:
            code = get(status, "state", "terminated", "exitCode")
            return int(code) if code is not None else None
    return None


def _oom_killed(pod: Obj) -> bool:
    statuses = get(pod, "status", "containerStatuses", default=[]) or []
    return get(pod, "status", "phase") == "Failed" and any(
        get(s, "state", "terminated", "reason") == "OOMKilled" for s in statuses
    )


def _finished_at(pod: Obj) -> str:
    for status in get(pod, "status", "containerStatuses", default=[]) or []:
        finished = get(status, "state", "terminated", "finishedAt")
        if finished:
            return str(finished)
    return "~"  # still running: after every finished one


def _why_pending(pod: Obj) -> str:
    for condition in get(pod, "status", "conditions", default=[]) or []:
        if condition.get("type") == "PodScheduled" and condition.get("status") == "False":
            return f"{condition.get('reason')}: {condition.get('message')}"
    return describe_pod(pod)


def chief(pods: Sequence[Obj]) -> Obj | None:
    """The newest pod of index 0 (a retried chief replaces a failed one)."""
    zero = [p for p in pods if index_of(p) == "0"]
    zero.sort(key=lambda p: str(get(p, "metadata", "creationTimestamp", default="")))
    return zero[-1] if zero else None
