"""The change promote makes to the environment repo: one release, guarded by pin and
downgrade rules, re-run on every fresh state of the branch (see publish.push_change).

Into an environment with `rollout.strategy: canary` that already runs a release, the
release is written as the candidate at the first step, next to the stable one (the
plan's `canary` renders both tracks); `ci-plugins rollout` takes it from there.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass

from ci_plugins.envrepo import guards
from ci_plugins.envrepo.checkout import EnvRepoCheckout
from ci_plugins.envrepo.publish import Change, Commit, Refusal
from ci_plugins.envrepo.record import ReleaseRecord, dump_release


@dataclass(frozen=True)
class Plan:
    """One release to write: where, what, and from which environment."""

    env: str
    app: str
    record: ReleaseRecord
    files: Mapping[str, bytes]
    allow_downgrade: bool
    # (stable, candidate) -> the record and manifests of a canary's first step; None:
    # the release replaces what runs (rollout.strategy: replace).
    canary: StartCanary | None = None


StartCanary = Callable[[ReleaseRecord, ReleaseRecord], tuple[ReleaseRecord, Mapping[str, bytes]]]


def change_for(plan: Plan) -> Change:
    """The change that writes plan's release (None: it is already there; a Refusal when
    the app is pinned or the release is a downgrade)."""

    def change(repo: EnvRepoCheckout) -> Commit | Refusal | None:
        current = repo.read_release(plan.env, plan.app)
        if plan.canary is not None and current is not None:
            return _start_canary(repo, plan, plan.canary, current)
        existing = repo.manifest_bytes(plan.env, plan.app)
        unchanged = current is not None and guards.same_release(current, plan.record)
        if unchanged and existing == dict(plan.files):
            return None
        pinned = _pinned(repo, plan)
        if pinned is not None:
            return pinned
        if current and not plan.allow_downgrade:
            reason = guards.downgrade_reason(plan.record, current)
            if reason:
                return Refusal(
                    f"refusing to downgrade {plan.env}/{plan.app}: {reason} "
                    "(pass --allow-downgrade to do it anyway)"
                )
        record = plan.record
        if current and guards.same_release(current, record):
            # Only the manifests change: keep when and by which pipeline it was released.
            keep = {"released_at": current.released_at, "pipeline_url": current.pipeline_url}
            record = record.model_copy(update=keep)
        repo.write_app(plan.env, plan.app, release=dump_release(record), manifests=plan.files)
        verb = f"promote {plan.app} {record.model.version} to {plan.env}"
        if record.promoted_from:
            verb += f" from {record.promoted_from}"
        return Commit(verb, guards.trailers(record))

    return change


def _pinned(repo: EnvRepoCheckout, plan: Plan) -> Refusal | None:
    """The refusal for an app pinned in plan's environment (rollback or rollout pinned it)."""
    pin = repo.read_pin(plan.env, plan.app)
    if pin is None:
        return None
    return Refusal(
        f"{plan.app} is pinned in {plan.env} by {pin.pinned_by or 'someone'}"
        f" ({pin.reason or 'no reason given'}); run `ci-plugins unpin --env "
        f"{plan.env} --app {plan.app}` to let promotions resume"
    )


def _start_canary(
    repo: EnvRepoCheckout, plan: Plan, start: StartCanary, current: ReleaseRecord
) -> Commit | Refusal | None:
    """Write plan's release as the candidate next to current (the stable release)."""
    running = current.canary
    if running is not None and guards.same_release(running.release, plan.record):
        return None  # this candidate's canary runs already: `ci-plugins rollout` drives it
    pinned = _pinned(repo, plan)
    if pinned is not None:
        return pinned
    if running is not None:
        return Refusal(
            f"a canary of {plan.app} {running.release.model.version} runs in {plan.env} "
            f"(at {running.weight}%): let `ci-plugins rollout --env {plan.env}` finish it "
            "before promoting another candidate"
        )
    if guards.same_release(current, plan.record):
        return None  # the stable release already is this one
    if not plan.allow_downgrade:
        reason = guards.downgrade_reason(plan.record, current)
        if reason:
            return Refusal(
                f"refusing to downgrade {plan.env}/{plan.app}: {reason} "
                "(pass --allow-downgrade to do it anyway)"
            )
    record, files = start(current, plan.record)
    repo.write_app(plan.env, plan.app, release=dump_release(record), manifests=files)
    assert record.canary is not None
    verb = (
        f"canary {plan.app} {plan.record.model.version} in {plan.env}: "
        f"{record.canary.weight}% of traffic next to {current.model.version}"
    )
    if plan.record.promoted_from:
        verb += f" (from {plan.record.promoted_from})"
    trailers = guards.trailers(plan.record, **{"Canary-Weight": str(record.canary.weight)})
    return Commit(verb, trailers, result=record.canary)
