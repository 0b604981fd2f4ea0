"""The canary loop: per step, health, then analysis, then one commit (or none).

Pure decisions over three injected actions (verify a step, analyse a step, push a
change), so the order of things is one readable function:

    healthy + passed       -> commit the next weight (at 100: the candidate becomes stable)
    unhealthy or failed    -> commit the abort (stable serves everything, app pinned), exit 1
    timeout or inconclusive-> no commit, the environment stays at its step, exit 1
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal

from ci_plugins.analysis.evaluate import Analysis
from ci_plugins.envrepo.record import Canary
from ci_plugins.rollout.health import Health

Verdict = Literal["promoted", "aborted", "inconclusive"]


@dataclass
class StepRecord:
    """What happened at one weight."""

    weight: int
    verdict: str  # passed, failed, inconclusive (analysis) or unhealthy, timeout (health)
    health: Health
    analysis: Analysis | None = None

    def as_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "weight": self.weight,
            "verdict": self.verdict,
            "commit": self.health.commit,
            "health": self.health.verdict,
            "metrics": {},
        }
        if self.health.reasons:
            data["health_reasons"] = self.health.reasons
        if self.analysis is not None:
            data.update({k: v for k, v in self.analysis.as_json().items() if k != "verdict"})
        return data


@dataclass
class Outcome:
    verdict: Verdict
    why: str
    steps: list[StepRecord] = field(default_factory=list)
    commits: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class Actions:
    """What the loop does to the world (the step wires the real ones)."""

    verify: Callable[[], Health]
    analyse: Callable[[int], Analysis]  # weight -> the analysis of that step's window
    advance: Callable[[int], str | None]  # weight -> the pushed commit
    promote: Callable[[], str | None]
    abort: Callable[[str], str | None]  # reason -> the pushed commit
    log: Callable[[str], None]


def drive(canary: Canary, actions: Actions) -> Outcome:
    """Drive the canary from its current weight to the end, or to the first "no"."""
    outcome = Outcome("inconclusive", "")
    weight = canary.weight
    while True:
        actions.log(f"step {weight}%: waiting for the sync and health of this step's commit")
        health = actions.verify()
        if health.verdict != "healthy":
            step = StepRecord(
                weight, "unhealthy" if health.verdict == "failed" else "timeout", health
            )
            outcome.steps.append(step)
            if health.verdict == "failed":
                return _abort(
                    outcome, actions, f"step {weight}%: unhealthy: " + "; ".join(health.reasons)
                )
            outcome.why = (
                f"step {weight}%: not healthy within the timeout; "
                f"the environment stays at {weight}%"
            )
            return outcome
        analysis = actions.analyse(weight)
        outcome.steps.append(StepRecord(weight, analysis.verdict, health, analysis))
        if analysis.verdict == "failed":
            return _abort(
                outcome, actions, f"step {weight}%: analysis failed: " + "; ".join(analysis.why)
            )
        if analysis.verdict == "inconclusive":
            outcome.why = (
                f"step {weight}%: analysis inconclusive: {'; '.join(analysis.why)}; "
                f"the environment stays at {weight}%"
            )
            return outcome
        later = [s for s in canary.steps if s > weight]
        if not later:
            _note(outcome, actions.promote())
            outcome.verdict, outcome.why = "promoted", "the candidate is the stable release"
            return outcome
        weight = later[0]
        actions.log(f"analysis passed: moving the candidate to {weight}%")
        _note(outcome, actions.advance(weight))


def _abort(outcome: Outcome, actions: Actions, reason: str) -> Outcome:
    _note(outcome, actions.abort(reason))
    outcome.verdict, outcome.why = "aborted", reason
    return outcome


def _note(outcome: Outcome, commit: str | None) -> None:
    if commit:
        outcome.commits.append(commit)
