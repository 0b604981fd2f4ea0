"""A small in-memory snapshot of a cluster for the pure rules (our own interface, not HTTP)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from ci_plugins.verify.readiness.evaluate import Checked, Evaluator
from ci_plugins.verify.readiness.model import Obj, ObjectRef
from ci_plugins.verify.readiness.policy import Policy

FIXTURES = Path(__file__).parent / "fixtures"


def load(name: str) -> Any:
    return yaml.safe_load((FIXTURES / name).read_text(encoding="utf-8"))


@dataclass
class FakeSnapshot:
    objects: dict[ObjectRef, Obj] = field(default_factory=dict)
    all_pods: list[Obj] = field(default_factory=list)
    sets: list[Obj] = field(default_factory=list)
    slices: list[Obj] = field(default_factory=list)
    event_map: dict[str, list[Obj]] = field(default_factory=dict)

    def get(self, ref: ObjectRef) -> Obj | None:
        return self.objects.get(ref)

    def pods(self, namespace: str) -> Sequence[Obj]:
        return self.all_pods

    def replicasets(self, namespace: str) -> Sequence[Obj]:
        return self.sets

    def endpoint_slices(self, namespace: str, service: str) -> Sequence[Obj]:
        return self.slices

    def events(self, namespace: str, name: str) -> Sequence[Obj]:
        return self.event_map.get(name, [])


def ref_of(obj: Mapping[str, Any]) -> ObjectRef:
    return ObjectRef(
        str(obj.get("apiVersion", "v1")),
        str(obj["kind"]),
        "ns",
        str(obj["metadata"]["name"]),
    )


def evaluate_twice(
    committed: dict[ObjectRef, Obj],
    snap: FakeSnapshot,
    *,
    at: float = 0.0,
    policy: Mapping[str, Any] | None = None,
) -> list[Checked]:
    """Evaluate at t=0 (conditions first seen), then at t=at."""
    evaluator = Evaluator(Policy(**(policy or {})), committed)
    evaluator.evaluate(snap, 0.0)
    return evaluator.evaluate(snap, at)
