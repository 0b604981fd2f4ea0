"""The training Job's verdict from the Job, its pods and events (pure rules)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from ci_plugins.training.kubernetes.watching import chief, judge, running_for
from ci_plugins.verify.readiness.model import Timers
from ci_plugins.verify.readiness.policy import Policy

POLICY = Policy(unschedulable_grace=10)
GPU = "0/3 nodes are available: 3 Insufficient nvidia.com/gpu."


def job(*conditions: tuple[str, str, str]) -> dict[str, Any]:
    return {
        "status": {
            "conditions": [
                {"type": kind, "status": "True", "reason": reason, "message": message}
                for kind, reason, message in conditions
            ]
        }
    }


def pod(index: int, phase: str = "Running", **status: Any) -> dict[str, Any]:
    return {
        "metadata": {
            "name": f"digits-train-1-{index}-abcde",
            "annotations": {"batch.kubernetes.io/job-completion-index": str(index)},
            "creationTimestamp": f"2026-01-01T00:00:0{index}Z",
        },
        "status": {"phase": phase, **status},
    }


def exited(index: int, code: int) -> dict[str, Any]:
    terminated = {"terminated": {"exitCode": code, "reason": "Error"}}
    return pod(index, "Failed", containerStatuses=[{"name": "worker", "state": terminated}])


def test_the_job_is_done_when_its_success_criteria_are_met() -> None:
    done = job(("SuccessCriteriaMet", "SuccessPolicy", ""), ("Complete", "", ""))
    assert judge(done, [pod(0, "Succeeded")], {}, POLICY, Timers()).state == "done"


def test_a_worker_exit_that_is_never_retried_fails_at_once_with_its_code() -> None:
    verdict = judge(job(), [pod(0), exited(1, 2)], {}, POLICY, Timers())
    assert (verdict.state, verdict.reason, verdict.exit_code) == ("failed", "WorkerFailed", 2)
    assert verdict.message == (
        "worker 1 (pod digits-train-1-1-abcde) exited with code 2, which is never retried"
    )


def test_a_retryable_exit_keeps_waiting_for_the_job_controller() -> None:
    assert judge(job(), [pod(0), exited(1, 137)], {}, POLICY, Timers()).state == "running"


def test_the_jobs_failed_condition_is_exit_3_unless_a_worker_exited_1_or_2() -> None:
    failed = job(("Failed", "BackoffLimitExceeded", "Job has reached the specified backoff limit"))
    verdict = judge(failed, [exited(1, 137)], {}, POLICY, Timers())
    assert (verdict.reason, verdict.exit_code) == ("JobBackoffLimitExceeded", 3)
    assert verdict.message == (
        "the Job failed: BackoffLimitExceeded: Job has reached the specified backoff limit"
    )


def unschedulable(index: int) -> dict[str, Any]:
    condition = {
        "type": "PodScheduled",
        "status": "False",
        "reason": "Unschedulable",
        "message": GPU,
    }
    return pod(index, "Pending", conditions=[condition])


def test_a_pending_worker_is_reported_with_the_missing_resource_then_fails() -> None:
    timers = Timers(now=0.0)
    pending = [pod(0), unschedulable(1)]
    verdict = judge(job(), pending, {}, POLICY, timers)
    assert verdict.state == "running"
    assert verdict.pending == (f"worker 1 (digits-train-1-1-abcde): Unschedulable: {GPU}",)
    timers.now = 11.0
    verdict = judge(job(), pending, {}, POLICY, timers)
    assert (verdict.state, verdict.reason) == ("failed", "UnschedulableNoScaleUp")
    assert "Insufficient nvidia.com/gpu" in verdict.message


def test_a_crash_looping_or_oom_killed_worker_fails_fast() -> None:
    waiting = {"waiting": {"reason": "CrashLoopBackOff"}}
    looping = pod(1, containerStatuses=[{"name": "worker", "state": waiting, "restartCount": 3}])
    assert judge(job(), [pod(0), looping], {}, POLICY, Timers()).reason == "CrashLoop"
    oom = {"terminated": {"reason": "OOMKilled", "exitCode": 137}}
    killed = pod(0, containerStatuses=[{"name": "worker", "state": oom}])
    assert judge(job(), [killed], {}, POLICY, Timers()).reason == "OOMKilled"


def test_an_image_that_cannot_be_pulled_fails_fast() -> None:
    waiting = {"waiting": {"reason": "ErrImagePull", "message": "manifest unknown"}}
    broken = pod(0, "Pending", containerStatuses=[{"name": "worker", "state": waiting}])
    assert judge(job(), [broken], {}, POLICY, Timers()).reason == "ImageNotFound"


def test_the_chief_is_the_newest_pod_of_index_0() -> None:
    first, retried = pod(0, "Failed"), pod(0)
    retried["metadata"]["creationTimestamp"] = "2026-01-01T00:01:00Z"
    assert chief([pod(1), first, retried]) is retried
    assert chief([pod(1)]) is None


def test_an_oom_killed_worker_that_the_job_would_retry_fails_at_once() -> None:
    oom = {"terminated": {"reason": "OOMKilled", "exitCode": 137}}
    killed = pod(1, "Failed", containerStatuses=[{"name": "worker", "state": oom}])
    verdict = judge(job(), [pod(0), killed], {}, POLICY, Timers())
    assert (verdict.state, verdict.reason, verdict.exit_code) == ("failed", "OOMKilled", 3)
    assert verdict.message.startswith("worker 1 (pod digits-train-1-1-abcde) was OOMKilled")


def test_the_jobs_own_deadline_is_the_time_budget_verdict() -> None:
    # the Job controller's words when activeDeadlineSeconds (= time_budget) passes
    late = job(("Failed", "DeadlineExceeded", "Job was active longer than specified deadline"))
    late["spec"] = {"activeDeadlineSeconds": 3600}
    verdict = judge(late, [pod(0), pod(1)], {}, POLICY, Timers())
    assert (verdict.state, verdict.reason, verdict.exit_code) == ("failed", "TimeBudget", 3)
    assert verdict.message == "training ran past 3600s (train.kubernetes.time_budget)"


def test_a_job_that_started_earlier_has_used_part_of_its_budget() -> None:
    wall = datetime(2026, 1, 1, 1, 0, 0, tzinfo=UTC).timestamp()
    started = {"status": {"startTime": "2026-01-01T00:50:00Z"}}
    assert running_for(started, wall=wall) == 600.0
    assert running_for(None, wall=wall) == 0.0  # created just now
    assert running_for({"status": {"startTime": "2026-01-01T01:00:30Z"}}, wall=wall) == 0.0
