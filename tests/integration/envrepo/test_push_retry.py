"""push_change: re-applied on the new state after a rejection, bounded, with jitter."""

from __future__ import annotations

import io
import random
from pathlib import Path

import pytest

from ci_plugins.envrepo import checkout as envrepo
from ci_plugins.envrepo.publish import BACKOFF_CAP, Change, Commit, Refusal, push_change
from ci_plugins.errors import ExternalError
from ci_plugins.output import Output
from tests.support.clock import FakeClock
from tests.support.envrepo import install_hook, remote_files, remote_head, seed_files


def write_change(name: str, seen: list[str]) -> Change:
    """A change that records the head it was applied on and writes one file."""

    def change(repo: envrepo.EnvRepoCheckout) -> Commit | Refusal | None:
        seen.append(repo.head)
        target = repo.root / "environments" / "staging" / name / "release.yaml"
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(f"app: {name}\n")
        return Commit(f"write {name}", {"App": name})

    return change


def test_a_change_is_reapplied_on_the_new_state_after_someone_else_pushed(
    tmp_path: Path, env_repo: Path
) -> None:
    seed_files(env_repo, {"README.md": "x\n"})
    clock, seen = FakeClock(), list[str]()
    stream = io.StringIO()
    with envrepo.checkout(str(env_repo)) as repo:
        other = seed_files(env_repo, {"environments/staging/other/release.yaml": "app: other\n"})
        outcome = push_change(
            repo,
            write_change("mine", seen),
            paths=["environments/staging/mine"],
            clock=clock,
            out=Output(environ={}, stream=stream),
            rng=random.Random(1),
        )
    assert outcome.attempts == 2
    assert seen[1] == other, "the second attempt ran on the other writer's commit"
    files = remote_files(env_repo, under="environments")
    assert set(files) == {
        "environments/staging/mine/release.yaml",
        "environments/staging/other/release.yaml",
    }
    assert remote_head(env_repo) == outcome.commit
    assert len(clock.sleeps) == 1
    assert 0 <= clock.sleeps[0] <= BACKOFF_CAP
    assert "push rejected" in stream.getvalue()


def test_retries_are_bounded_and_the_remote_keeps_nothing(tmp_path: Path, env_repo: Path) -> None:
    before = seed_files(env_repo, {"README.md": "x\n"})
    install_hook(env_repo, "pre-receive", "echo 'branch is frozen' >&2; exit 1")
    clock, seen = FakeClock(), list[str]()
    with envrepo.checkout(str(env_repo)) as repo, pytest.raises(ExternalError) as info:
        push_change(
            repo,
            write_change("mine", seen),
            paths=["environments/staging/mine"],
            clock=clock,
            out=Output(environ={}, stream=io.StringIO()),
            attempts=4,
        )
    assert "still rejected after 4 attempts" in str(info.value)
    assert len(seen) == 4
    assert len(clock.sleeps) == 3
    assert all(0 <= s <= BACKOFF_CAP for s in clock.sleeps)
    assert len(set(clock.sleeps)) == 3, "jittered"
    assert remote_head(env_repo) == before
