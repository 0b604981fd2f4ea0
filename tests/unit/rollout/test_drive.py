"""The canary loop's decisions, with an in-memory fake of our own actions (verify,
analyse, push): which commit follows which verdict, and where the loop stops."""

from __future__ import annotations

from dataclasses import dataclass, field

from ci_plugins.analysis.evaluate import Analysis
from ci_plugins.envrepo.record import Canary, ModelRef, ReleaseRecord
from ci_plugins.rollout.drive import Actions, drive
from ci_plugins.rollout.health import Health

CANDIDATE = ReleaseRecord(
    app="digits", environment="prod", model=ModelRef(version="4", digest="sha256:" + "4" * 64)
)


def analysis(verdict: str, why: str = "") -> Analysis:
    return Analysis(
        verdict=verdict,  # type: ignore[arg-type]
        why=[why] if why else [],
        window=10,
        end=0,
        judged="candidate",
        tracks=("candidate", "stable"),
        readings=(),
        checks=(),
        queries_run=0,
        decided_after=0,
    )


@dataclass
class World:
    """Scripted verdicts per weight; records every commit the loop asks for."""

    verdicts: dict[int, str]
    health: str = "healthy"
    commits: list[str] = field(default_factory=list)
    analysed: list[int] = field(default_factory=list)

    def actions(self) -> Actions:
        def analyse(weight: int) -> Analysis:
            self.analysed.append(weight)
            return analysis(self.verdicts[weight], f"reason at {weight}")

        def commit(what: str) -> str:
            self.commits.append(what)
            return f"sha-{len(self.commits)}"

        return Actions(
            verify=lambda: Health(self.health, "head", ["pod crashed"]),
            analyse=analyse,
            advance=lambda weight: commit(f"advance {weight}"),
            promote=lambda: commit("promote"),
            abort=lambda reason: commit(f"abort: {reason}"),
            log=lambda line: None,
        )


def canary(weight: int, steps: list[int]) -> Canary:
    return Canary(release=CANDIDATE, steps=steps, weight=weight)


def test_a_candidate_passing_every_step_is_advanced_then_promoted() -> None:
    world = World({50: "passed", 100: "passed"})

    outcome = drive(canary(50, [50, 100]), world.actions())

    assert outcome.verdict == "promoted"
    assert world.commits == ["advance 100", "promote"]
    assert outcome.commits == ["sha-1", "sha-2"]
    assert [step.weight for step in outcome.steps] == [50, 100]


def test_a_failed_analysis_aborts_at_that_step_and_goes_no_further() -> None:
    world = World({10: "passed", 50: "failed"})

    outcome = drive(canary(10, [10, 50, 100]), world.actions())

    assert outcome.verdict == "aborted"
    assert world.commits == ["advance 50", "abort: step 50%: analysis failed: reason at 50"]
    assert world.analysed == [10, 50]


def test_inconclusive_commits_nothing_and_stays_at_the_step() -> None:
    world = World({50: "inconclusive"})

    outcome = drive(canary(50, [50, 100]), world.actions())

    assert outcome.verdict == "inconclusive"
    assert world.commits == []
    assert "the environment stays at 50%" in outcome.why


def test_a_rerun_continues_from_the_recorded_step() -> None:
    world = World({100: "passed"})

    outcome = drive(canary(100, [10, 50, 100]), world.actions())

    assert world.analysed == [100]
    assert world.commits == ["promote"]
    assert outcome.verdict == "promoted"


def test_an_unhealthy_step_aborts_without_analysis_and_a_timeout_waits() -> None:
    failed = World({}, health="failed")
    outcome = drive(canary(50, [50, 100]), failed.actions())
    assert outcome.verdict == "aborted"
    assert failed.commits == ["abort: step 50%: unhealthy: pod crashed"]
    assert failed.analysed == []

    slow = World({}, health="timeout")
    outcome = drive(canary(50, [50, 100]), slow.actions())
    assert outcome.verdict == "inconclusive"
    assert slow.commits == []
