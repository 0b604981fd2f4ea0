"""The monitor's decision record: one annotated tag per retraining it started.

`refs/tags/ci-plugins/retrain/<env>/<app>/<n>` (n = 1, 2, ...) points at the environment
repo commit that recorded the release judged, and its message is a small YAML document
(when, why, which model, what was started). Tags leave the branch and its history alone,
so Argo CD / Flux see nothing. Git refuses to create a tag that exists, which makes the
claim atomic: two runs that both see decision n-1 both try to create n, and only one
push succeeds; the other reads the winner's record and starts nothing.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import yaml

from ci_plugins.config.names import check_app, check_env
from ci_plugins.envrepo.checkout import EnvRepoCheckout
from ci_plugins.errors import PushRejectedError

TAG_PREFIX = "refs/tags/ci-plugins/retrain"


@dataclass(frozen=True)
class Decision:
    """A recorded retraining decision for env/app."""

    number: int
    decided_at: float  # unix seconds
    reason: str
    model_version: str = ""
    trigger: dict[str, Any] = field(default_factory=dict)

    @property
    def when(self) -> str:
        return datetime.fromtimestamp(self.decided_at, UTC).isoformat(timespec="seconds")

    def message(self, *, run: str) -> str:
        data = {
            "run": run,
            "decided_at": self.when,
            "decided_at_unix": round(self.decided_at, 3),
            "reason": self.reason,
            "model_version": self.model_version,
            "trigger": self.trigger,
        }
        subject = f"ci-plugins monitor: retrain ({self.reason[:60]})"
        return subject + "\n\n" + yaml.safe_dump(data, sort_keys=True)


def tag_name(env: str, app: str, number: int) -> str:
    return f"{TAG_PREFIX}/{check_env(env)}/{check_app(app)}/{number}"


def latest_decision(repo: EnvRepoCheckout, env: str, app: str) -> Decision | None:
    """The newest decision recorded on the remote for env/app, None when there is none."""
    numbers = _numbers(repo, env, app)
    if not numbers:
        return None
    number = max(numbers)
    tag = tag_name(env, app, number)
    repo.git.run("fetch", "--quiet", "--no-tags", "origin", "--", f"+{tag}:{tag}")
    fmt = "--format=%(taggerdate:unix)%00%(contents:body)"
    tagged, _, body = repo.git.run("tag", "-l", fmt, "--", _short(tag)).stdout.partition("\0")
    data = _record(body)
    return Decision(
        number=number,
        # A record edited by hand may lack its time: the tag's own date then counts.
        decided_at=float(data.get("decided_at_unix") or tagged.strip() or 0),
        reason=str(data.get("reason", "")),
        model_version=str(data.get("model_version", "")),
        trigger=dict(data.get("trigger") or {}),
    )


def claim(repo: EnvRepoCheckout, env: str, app: str, decision: Decision) -> bool:
    """Push decision's tag; False when another run created that tag first."""
    tag = tag_name(env, app, decision.number)
    identity = []
    if not repo.git.run("config", "user.email", check=False).stdout.strip():
        identity = ["-c", "user.name=ci-plugins", "-c", "user.email=ci-plugins@localhost"]
    # A run id makes every claim a distinct tag object: two runs with the same record must
    # not both see their push of an identical tag succeed.
    message = decision.message(run=uuid.uuid4().hex)
    repo.git.run(*identity, "tag", "-a", "-F", "-", "--", _short(tag), "HEAD", input=message)
    try:
        repo.git.push(f"{tag}:{tag}")
    except PushRejectedError:
        repo.git.run("tag", "-d", "--", _short(tag))
        return False
    return True


def withdraw(repo: EnvRepoCheckout, env: str, app: str, number: int) -> None:
    """Delete our own decision tag again (the trigger failed: nothing was started)."""
    repo.git.push(f":{tag_name(env, app, number)}")


def _numbers(repo: EnvRepoCheckout, env: str, app: str) -> list[int]:
    prefix = tag_name(env, app, 0)[: -len("0")]
    lines = repo.git.run("ls-remote", "origin", "--", prefix + "*").stdout.splitlines()
    numbers = []
    for line in lines:
        ref = line.split()[-1] if line.strip() else ""
        suffix = ref.removeprefix(prefix)
        if ref.startswith(prefix) and suffix.isdigit():
            numbers.append(int(suffix))
    return numbers


def _record(body: str) -> dict[str, Any]:
    try:
        data = yaml.safe_load(body)
    except yaml.YAMLError:
        return {}
    return data if isinstance(data, dict) else {}


def _short(tag: str) -> str:
    return tag.removeprefix("refs/tags/")
