"""The result model of rollout verification: statuses, reason codes, aggregation."""

from __future__ import annotations

import enum
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

Obj = Mapping[str, Any]


class Status(enum.Enum):
    """kstatus-style status of one object (docs/readiness.md section 1)."""

    CURRENT = "Current"
    IN_PROGRESS = "InProgress"
    FAILED = "Failed"
    SUSPENDED = "Suspended"
    UNKNOWN = "Unknown"
    NOT_FOUND = "NotFound"


@dataclass(frozen=True)
class Result:
    """The verdict on one object: status, a stable reason code, and what supports it."""

    status: Status
    reason: str = ""
    message: str = ""
    evidence: tuple[str, ...] = ()
    pod: str | None = None  # the pod the reason is about, for log tails

    @property
    def final(self) -> bool:
        return self.status is Status.FAILED


def current(reason: str = "Ready", message: str = "") -> Result:
    return Result(Status.CURRENT, reason, message)


def progressing(reason: str, message: str = "") -> Result:
    return Result(Status.IN_PROGRESS, reason, message)


def failed(reason: str, message: str = "", *, pod: str | None = None) -> Result:
    return Result(Status.FAILED, reason, message, pod=pod)


@dataclass(frozen=True)
class ObjectRef:
    """A Kubernetes object named in the committed manifests."""

    api_version: str
    kind: str
    namespace: str
    name: str

    @property
    def group(self) -> str:
        return self.api_version.rpartition("/")[0]

    @property
    def version(self) -> str:
        return self.api_version.rpartition("/")[2]

    def __str__(self) -> str:
        return f"{self.kind.lower()}/{self.name}"


@dataclass
class Timers:
    """First-seen times of conditions, so grace windows can be checked by pure rules."""

    now: float = 0.0
    _since: dict[str, float] = field(default_factory=dict)

    def age(self, key: str) -> float:
        """Seconds since `key` was first seen (0 the first time)."""
        return self.now - self._since.setdefault(key, self.now)

    def forget(self, prefix: str) -> None:
        for key in [k for k in self._since if k.startswith(prefix)]:
            del self._since[key]


def aggregate(statuses: Iterable[Status]) -> Status:
    """kstatus aggregation: any Failed, else any Unknown, else all Current, else InProgress."""
    seen = list(statuses)
    if Status.FAILED in seen:
        return Status.FAILED
    if Status.UNKNOWN in seen:
        return Status.UNKNOWN
    if all(status is Status.CURRENT for status in seen):
        return Status.CURRENT
    return Status.IN_PROGRESS


def get(obj: Obj | None, *path: str, default: Any = None) -> Any:
    """obj['a']['b']... or default when any step is missing or None."""
    value: Any = obj
    for key in path:
        if not isinstance(value, Mapping):
            return default
        value = value.get(key)
        if value is None:
            return default
    return value


def condition(obj: Obj, kind: str) -> Obj | None:
    """The status condition of that type, or None."""
    for cond in get(obj, "status", "conditions", default=[]):
        if cond.get("type") == kind:
            return dict(cond)
    return None


def condition_is(obj: Obj, kind: str, status: str = "True") -> bool:
    cond = condition(obj, kind)
    return cond is not None and cond.get("status") == status
