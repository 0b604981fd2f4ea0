"""One canary step's health: wait until the cluster runs the step's commit (both tracks)
and it is healthy, with verify's own waiting and rules (ci_plugins.verify.waiting)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from ci_plugins.config.models import Config
from ci_plugins.step import StepContext
from ci_plugins.verify import evidence
from ci_plugins.verify.committed import read_committed
from ci_plugins.verify.waiting import Verification


@dataclass(frozen=True)
class Health:
    verdict: str  # healthy, failed, timeout (verify's verdicts)
    commit: str  # the env-repo commit the cluster was checked against
    reasons: list[str]


def verify_step(
    ctx: StepContext,
    config: Config,
    *,
    url: str,
    env: str,
    app: str,
    kubeconfig: Path | None,
    timeout: float,
) -> Health:
    """Verify the committed release of env/app (the candidate's pods among its objects)."""
    from ci_plugins.adapters.kube import Kube, load_client  # the client loads only here

    committed = read_committed(url, branch=config.env_repo.branch, env=env, app=app, config=config)
    start = ctx.clock.time()
    deadline = start + timeout
    kube = Kube(load_client(kubeconfig), clock=ctx.clock, deadline=deadline)
    try:
        verification = Verification(
            ctx, config.verify, committed, kube, start=start, deadline=deadline
        )
        checked = verification.phase_a()
        if checked is None:
            checked = verification.phases_b_to_d()
        verdict = verification.verdict(checked)
        reasons: list[str] = []
        if verdict != "healthy":
            found = evidence.gather_evidence(kube, checked)
            reasons = evidence.failure_lines(checked, found)
    finally:
        kube.close()
    return Health(verdict, committed.commit, reasons)
