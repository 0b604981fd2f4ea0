"""Change the environment repo safely: one commit per change, re-applied when others push.

A change is a function that looks at a fresh checkout and writes the files it wants (or
says "nothing to do", or refuses). When the push is rejected because someone else pushed
first, the clone is reset to the new remote state and the *change* runs again on top of
it (not a text rebase of stale files), a bounded number of times with jittered
exponential backoff (the one retry policy, adapters/retry.py). Nothing is ever
force-pushed; history stays linear.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

from ci_plugins import signals
from ci_plugins.adapters import retry
from ci_plugins.envrepo.checkout import (
    RELEASE_FILE,
    EnvRepoCheckout,
    app_path,
    mark_verified,
    release_from_text,
    verified_tag,
)
from ci_plugins.envrepo.record import ReleaseRecord
from ci_plugins.errors import ExternalError, PushRejectedError
from ci_plugins.output import Output
from ci_plugins.step import Clock

__all__ = ["mark_verified", "push_change", "release_history", "verified_commits"]

DEFAULT_PUSH_ATTEMPTS = 8
BACKOFF_BASE = 0.1  # seconds; attempt n waits uniform(0, min(CAP, BASE * 2**n))
BACKOFF_CAP = 4.0
HISTORY_LIMIT = 100  # releases looked at by rollback and status --history


@dataclass(frozen=True)
class Commit:
    """The change wrote its files: commit them with this message."""

    subject: str
    trailers: Mapping[str, str] = field(default_factory=dict)
    body: str = ""
    result: object = None  # what the change decided, handed back in Outcome.result

    @property
    def message(self) -> str:
        lines = [self.subject, ""]
        if self.body:
            lines += [self.body.rstrip(), ""]
        lines += [f"{key}: {value}" for key, value in self.trailers.items() if value]
        return "\n".join(lines) + "\n"


@dataclass(frozen=True)
class Refusal:
    """The change must not be made (pin, downgrade...): a check said no (exit 1)."""

    reason: str


Change = Callable[[EnvRepoCheckout], Commit | Refusal | None]


@dataclass(frozen=True)
class Outcome:
    """What a change did: the pushed commit (None: nothing changed), or the refusal."""

    commit: str | None = None
    refusal: str | None = None
    attempts: int = 1
    merge_request: str | None = None  # the MR/PR opened or updated (approval promotions)
    result: object = None  # the pushed Commit's result (the change's decision)


def push_change(
    repo: EnvRepoCheckout,
    change: Change,
    *,
    paths: Sequence[str],
    clock: Clock,
    out: Output,
    attempts: int = DEFAULT_PUSH_ATTEMPTS,
    depth: int | None = 1,
    rng: random.Random | None = None,
) -> Outcome:
    """Apply change, commit paths, push; on rejection re-apply on the new state and retry.

    Returns the pushed commit (None when nothing changed) or the refusal. Raises
    ExternalError (exit 3) when the push is still rejected after `attempts` tries; the
    remote then holds nothing of ours.
    """
    rng = rng or random.Random()  # jitter, not cryptography

    def attempt_change(attempt: int) -> Outcome:
        if attempt > 1:
            repo.refresh(depth=depth)  # re-apply on the new state of the branch
        result = change(repo)
        if not isinstance(result, Commit):
            refusal = result.reason if isinstance(result, Refusal) else None
            return Outcome(refusal=refusal, attempts=attempt)
        sha = repo.commit(paths, result.message)
        if sha is None:
            return Outcome(attempts=attempt)
        with signals.held():  # pushed or not, never "interrupted" halfway (#17)
            repo.push()
        return Outcome(commit=sha, attempts=attempt, result=result.result)

    def wait(attempt: int, _exc: BaseException) -> float:
        return rng.uniform(0, min(BACKOFF_CAP, BACKOFF_BASE * 2**attempt))

    def on_retry(attempt: int, exc: BaseException, delay: float) -> None:
        out.info(
            f"push rejected ({_reason(exc)}); re-applying on the new state of "
            f"{repo.branch} in {delay:.1f}s (attempt {attempt + 1} of {attempts})"
        )

    policy = retry.Policy(
        retry_if=lambda exc: isinstance(exc, PushRejectedError),
        wait=wait,
        clock=clock,
        attempts=attempts,
        on_retry=on_retry,
    )
    try:
        return retry.call(policy, attempt_change)
    except retry.GaveUp as exc:
        lines = exc.last.remote_lines if isinstance(exc.last, PushRejectedError) else []
        said = "".join(f"\n  {line}" for line in lines)
        raise ExternalError(
            f"push to {repo.url} ({repo.branch}) was still rejected after {exc.attempts} "
            "attempts; nothing of this change was pushed"
            + (f"; the server said:{said}" if said else ""),
            hint=f"last rejection: {_last_line(str(exc.last))}",
        ) from exc.last


def _reason(exc: BaseException) -> str:
    """What the server said about a rejected push (its `remote:` lines), else git's last line."""
    lines = exc.remote_lines if isinstance(exc, PushRejectedError) else []
    return "; ".join(lines) or _last_line(str(exc))


def _last_line(text: str) -> str:
    lines = [line.strip() for line in text.strip().splitlines() if line.strip()]
    return lines[-1] if lines else text


# -- history and verification records ------------------------------------------------------
@dataclass(frozen=True)
class HistoryEntry:
    """One commit that changed an app's release.yaml, and the record it wrote."""

    commit: str
    when: str
    subject: str
    record: ReleaseRecord | None  # None: the commit removed the release
    trailers: Mapping[str, str]


def release_history(
    repo: EnvRepoCheckout, env: str, app: str, *, limit: int = HISTORY_LIMIT
) -> list[HistoryEntry]:
    """The last `limit` commits that changed env/app's release.yaml, newest first, with the
    record each wrote (needs a deep clone; in a partial clone each record is one fetch)."""
    relpath = f"{app_path(env, app)}/{RELEASE_FILE}"
    return [
        HistoryEntry(c, when, subject, record_at(repo, c, relpath), trailers)
        for c, when, subject, trailers in log_entries(repo, relpath, limit=limit)
    ]


def log_entries(
    repo: EnvRepoCheckout, path: str, *, limit: int = HISTORY_LIMIT
) -> list[tuple[str, str, str, dict[str, str]]]:
    """(sha, ISO time, subject, trailers) of the last `limit` commits touching path."""
    if not repo.head:
        return []
    fmt = "%H%x1f%cI%x1f%s%x1f%(trailers:only,unfold)%x1e"
    text = repo.git.run("log", f"-n{limit}", f"--format={fmt}", "HEAD", "--", path).stdout
    entries = []
    for chunk in text.split("\x1e"):
        parts = chunk.strip("\n").split("\x1f")
        if len(parts) != 4:
            continue
        sha, when, subject, raw = parts
        trailers = {}
        for line in raw.splitlines():
            key, sep, value = line.partition(": ")
            if sep:
                trailers[key.strip()] = value.strip()
        entries.append((sha, when, subject, trailers))
    return entries


def record_at(repo: EnvRepoCheckout, commit: str, relpath: str) -> ReleaseRecord | None:
    """The release record at relpath in commit, None when absent there."""
    text = repo.read_text(relpath, commit=commit)
    if text is None:
        return None
    return release_from_text(text, source=f"{relpath} at {commit[:12]}")


def verified_commits(repo: EnvRepoCheckout, env: str, app: str) -> list[str]:
    """Commits whose release of env/app verify recorded as healthy (from the remote's tags)."""
    prefix = verified_tag(env, app, "")
    lines = repo.git.run("ls-remote", "origin", "--", prefix + "*").stdout.splitlines()
    return [line.split()[1].removeprefix(prefix) for line in lines if line.strip()]
