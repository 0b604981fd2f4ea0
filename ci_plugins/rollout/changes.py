"""The environment-repo changes of a canary, each one commit (publish.push_change):
start (promote into a canary environment), advance to the next weight, promote the
candidate to stable at the end, abort (stable serves everything, the app is pinned).

Each change reads the fresh state of the branch and does nothing when the state it
would write is already there, so every one is safe to run twice.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import UTC, datetime

from ci_plugins.config.models import Config
from ci_plugins.envrepo import guards
from ci_plugins.envrepo.checkout import EnvRepoCheckout, Pin
from ci_plugins.envrepo.publish import Change, Commit, Refusal
from ci_plugins.envrepo.record import Canary, ReleaseRecord, dump_release
from ci_plugins.rollout import tracks

Files = Mapping[str, bytes]


def start(
    config: Config, env: str
) -> Callable[[ReleaseRecord, ReleaseRecord], tuple[ReleaseRecord, Files]]:
    """For promote: (stable, candidate) -> the record and manifests of the first step."""
    steps = list(config.environment(env).rollout.steps)

    def first_step(stable: ReleaseRecord, candidate: ReleaseRecord) -> tuple[ReleaseRecord, Files]:
        manifests = tracks.render_step(
            config, env, stable=stable, candidate=candidate, weight=steps[0]
        )
        canary = Canary(release=candidate.without_canary(), steps=steps, weight=steps[0])
        return stable.model_copy(update={"canary": canary}), manifests.files

    return first_step


def advance(config: Config, env: str, app: str, *, candidate_digest: str, weight: int) -> Change:
    """Move the running canary of candidate_digest to weight."""

    def change(repo: EnvRepoCheckout) -> Commit | Refusal | None:
        current, refusal = _running(repo, env, app, candidate_digest)
        if refusal or current is None or current.canary is None:
            return refusal
        if current.canary.weight == weight:
            return None
        step = tracks.render_step(
            config, env, stable=current, candidate=current.canary.release, weight=weight
        )
        canary = current.canary.model_copy(update={"weight": weight})
        record = current.model_copy(update={"canary": canary})
        repo.write_app(env, app, release=dump_release(record), manifests=step.files)
        version = current.canary.release.model.version
        return Commit(
            f"canary {app} {version} in {env}: {weight}% of traffic "
            f"({step.split.candidate} candidate, {step.split.stable} stable pods)",
            guards.trailers(current.canary.release, **{"Canary-Weight": str(weight)}),
        )

    return change


def promote_candidate(config: Config, env: str, app: str, *, candidate_digest: str) -> Change:
    """One commit: the candidate becomes the stable release, the canary ends."""

    def change(repo: EnvRepoCheckout) -> Commit | Refusal | None:
        current, refusal = _running(repo, env, app, candidate_digest)
        if refusal or current is None:
            return refusal
        if current.canary is None:
            return None  # already promoted (a re-run)
        record = current.canary.release
        files = tracks.render_stable(config, env, release=record)
        repo.write_app(env, app, release=dump_release(record), manifests=files)
        return Commit(
            f"canary {app} {record.model.version} in {env}: promoted to stable "
            f"(replaces {current.model.version})",
            guards.trailers(record, **{"Canary-Weight": "100", "Canary-Result": "promoted"}),
        )

    return change


def abort(
    config: Config, env: str, app: str, *, candidate_digest: str, reason: str, actor: str
) -> Change:
    """One commit: the candidate is removed (stable serves everything) and the app pinned."""

    def change(repo: EnvRepoCheckout) -> Commit | Refusal | None:
        current, refusal = _running(repo, env, app, candidate_digest)
        if refusal or current is None or current.canary is None:
            return refusal
        candidate = current.canary.release
        stable = current.without_canary()
        files = tracks.render_stable(config, env, release=stable)
        repo.write_app(env, app, release=dump_release(stable), manifests=files)
        repo.write_pin(
            env,
            app,
            Pin(
                app=app,
                environment=env,
                pinned_by=actor,
                reason=f"canary of {candidate.model.version} aborted: {reason}",
                pinned_at=datetime.now(UTC).isoformat(timespec="seconds"),
                model_version=stable.model.version,
            ),
        )
        return Commit(
            f"canary {app} {candidate.model.version} in {env}: aborted, "
            f"{stable.model.version} serves all traffic",
            guards.trailers(candidate, **{"Canary-Result": "aborted"}),
            body=reason,
        )

    return change


def _running(
    repo: EnvRepoCheckout, env: str, app: str, digest: str
) -> tuple[ReleaseRecord | None, Refusal | None]:
    """The current record when its canary (or, once promoted, its release) is digest's."""
    current = repo.read_release(env, app)
    if current is None:
        return None, Refusal(f"{env} has no release of {app}")
    if current.canary is not None and current.canary.release.model.digest == digest:
        return current, None
    if current.canary is None and current.model.digest == digest:
        return current, None
    running = current.canary.release.model.version if current.canary else "no canary"
    return None, Refusal(
        f"{env}/{app} changed while the canary ran: it now has {running} "
        f"(stable {current.model.version}); this rollout stops"
    )
