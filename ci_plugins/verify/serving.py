"""TensorFlow Serving checks through the API server's service proxy (none of the anchors do this).

`GET /v1/models/<name>` must list the expected version as AVAILABLE; an optional smoke
request sends golden inputs to `:predict` and compares the outputs within a tolerance.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ci_plugins.config import names
from ci_plugins.config.models import ModelCheckConfig
from ci_plugins.render.manifests import MODEL_VERSION
from ci_plugins.verify.readiness.model import Obj, get

if TYPE_CHECKING:  # the kubernetes client loads only when verify talks to a cluster
    from ci_plugins.adapters.kube import Kube


@dataclass(frozen=True)
class ModelTarget:
    """Where the model server answers, and which version it must serve."""

    namespace: str
    service: str
    port: str
    name: str
    version: str


def find_target(
    committed: Mapping[tuple[str, str, str], Obj], cfg: ModelCheckConfig, *, app: str
) -> ModelTarget | None:
    """Derive the target from the committed manifests (and config); None when not applicable."""
    if cfg.enabled is False:
        return None
    workloads = [o for (kind, _, _), o in committed.items() if kind in ("Deployment", "Rollout")]
    services = [o for (kind, _, _), o in committed.items() if kind == "Service"]
    version = next(
        (
            str(v)
            for w in workloads
            if (v := get(w, "spec", "template", "metadata", "annotations", MODEL_VERSION))
        ),
        None,
    )
    if version is None or not services:
        return None
    # A canary with a routed traffic mode adds a Service per track; the model's own Service
    # is the one that selects both (its selector names no track).
    both = [s for s in services if names.TRACK_LABEL not in get(s, "spec", "selector", default={})]
    service = next(
        (s for s in services if get(s, "metadata", "name") == cfg.service), (both or services)[0]
    )
    return ModelTarget(
        namespace=str(get(service, "metadata", "namespace", default="default")),
        service=cfg.service or str(get(service, "metadata", "name")),
        port=cfg.port or _port(service),
        name=cfg.name or _model_name(workloads) or app,
        version=version,
    )


def _port(service: Obj) -> str:
    ports = get(service, "spec", "ports", default=[])
    for port in ports:
        if port.get("name") == "http":
            return "http"
    return str(ports[0].get("port")) if ports else "8501"


def _model_name(workloads: Sequence[Obj]) -> str | None:
    for workload in workloads:
        for container in get(workload, "spec", "template", "spec", "containers", default=[]):
            for arg in container.get("args") or []:
                if str(arg).startswith("--model_name="):
                    return str(arg).split("=", 1)[1]
    return None


def model_status(kube: Kube, target: ModelTarget) -> tuple[bool, str]:
    """(ok, what was seen): the expected version is AVAILABLE."""
    code, body = kube.proxy(target.namespace, target.service, target.port, _path(target))
    if code != 200 or not isinstance(body, dict):
        return False, f"model status answered HTTP {code}: {str(body)[:200]}"
    states = {
        str(v.get("version")): str(v.get("state")) for v in body.get("model_version_status") or []
    }
    state = states.get(target.version)
    if state == "AVAILABLE":
        return True, f"model {target.name} version {target.version} AVAILABLE"
    seen = ", ".join(f"{v}={s}" for v, s in sorted(states.items())) or "none"
    return False, f"model {target.name} version {target.version} is {state or 'absent'} ({seen})"


def smoke(kube: Kube, target: ModelTarget, cfg: ModelCheckConfig) -> tuple[bool, str]:
    """(ok, message): the golden inputs give the expected predictions within tolerance."""
    if cfg.smoke is None:
        return True, "no smoke request configured"
    code, body = kube.proxy(
        target.namespace,
        target.service,
        target.port,
        _path(target) + ":predict",
        body={"instances": cfg.smoke.inputs},
    )
    if code != 200 or not isinstance(body, dict) or "predictions" not in body:
        return False, f"smoke request answered HTTP {code}: {str(body)[:200]}"
    diff = max_difference(body["predictions"], cfg.smoke.expected)
    if diff is None:
        return False, "smoke predictions do not have the expected shape"
    if diff > cfg.smoke.tolerance:
        return False, f"smoke predictions differ by {diff:.6g} (tolerance {cfg.smoke.tolerance})"
    return True, f"smoke predictions within {cfg.smoke.tolerance} (max difference {diff:.3g})"


def max_difference(got: Any, want: Any) -> float | None:
    """Largest absolute difference between two nested lists of numbers; None on shape mismatch."""
    if isinstance(want, list):
        if not isinstance(got, list) or len(got) != len(want):
            return None
        diffs = [max_difference(g, w) for g, w in zip(got, want, strict=True)]
        if any(d is None for d in diffs):
            return None
        return max((d for d in diffs if d is not None), default=0.0)
    if isinstance(want, bool) or not isinstance(want, int | float):
        return 0.0 if got == want else math.inf
    if isinstance(got, bool) or not isinstance(got, int | float):
        return None
    return abs(float(got) - float(want))


def _path(target: ModelTarget) -> str:
    return f"v1/models/{target.name}"
