"""The manifests of one canary step: the stable and the candidate track, rendered together.

`traffic: replicas` is the only mode the chart expresses: the Service selects both
Deployments, so a step's weight is the candidate's share of the ready pods. The
environment's `replicaCount` is the pod budget N; at weight w the candidate runs
round(N * w / 100) pods (at least 1) and stable the rest (at least 1 below 100, none at
100). A weight the pods cannot express exactly is logged with the share they give.
"""

from __future__ import annotations

import tempfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ci_plugins import safe_read
from ci_plugins.config.models import Config
from ci_plugins.envrepo import guards
from ci_plugins.envrepo.record import ReleaseRecord
from ci_plugins.errors import InputError
from ci_plugins.render import chart
from ci_plugins.render.manifests import parse_objects

# The object a traffic mode would need in the rendered output to set a weight on.
WEIGHTED_KIND = {"gateway-api": "HTTPRoute", "istio": "VirtualService"}


@dataclass(frozen=True)
class Split:
    """Pods per track at one step."""

    weight: int  # the step's percentage
    stable: int
    candidate: int

    @property
    def share(self) -> float:
        """The candidate's share of the pods, in percent (what the weight really is)."""
        return 100.0 * self.candidate / (self.stable + self.candidate)


def replica_split(total: int, weight: int) -> Split:
    """Pods of each track for weight percent of a budget of total pods."""
    if weight >= 100:
        return Split(weight, 0, max(1, total))
    candidate = max(1, round(total * weight / 100))
    return Split(weight, max(1, total - candidate), candidate)


@dataclass(frozen=True)
class StepManifests:
    """What a canary step writes: the manifests and the split they express."""

    files: Mapping[str, bytes]
    split: Split


def render_step(
    config: Config, env: str, *, stable: ReleaseRecord, candidate: ReleaseRecord, weight: int
) -> StepManifests:
    """Render both tracks for env at weight (InputError for a traffic mode the rendered
    objects cannot express; ExternalError when helm fails)."""
    manifest = guards.manifest_of(stable)
    total = _pod_budget(config, env, stable)
    split = replica_split(total, weight)
    overrides = {
        "replicaCount": split.stable,
        "canary": {
            "enabled": True,
            "replicaCount": split.candidate,
            "model": chart.computed_values(guards.manifest_of(candidate))["model"],
        },
    }
    with tempfile.TemporaryDirectory(prefix="ci-plugins-canary-") as tmp:
        chart.render(config, manifest, env, Path(tmp), overrides=overrides)
        rendered = guards.read_rendered(Path(tmp))
    check_traffic(config, env, rendered.files)
    return StepManifests(rendered.files, split)


def render_stable(config: Config, env: str, *, release: ReleaseRecord) -> Mapping[str, bytes]:
    """The manifests of release alone (the canary ended: promoted or aborted)."""
    with tempfile.TemporaryDirectory(prefix="ci-plugins-stable-") as tmp:
        chart.render(config, guards.manifest_of(release), env, Path(tmp))
        return guards.read_rendered(Path(tmp)).files


def check_traffic(config: Config, env: str, files: Mapping[str, bytes]) -> None:
    """Refuse a traffic mode whose weighted object the rendered manifests lack."""
    traffic = config.environment(env).rollout.traffic
    kind = WEIGHTED_KIND.get(traffic)
    if kind is None:
        return
    kinds = {
        obj.get("kind")
        for name, data in files.items()
        for obj in parse_objects(safe_read.decode(data, source=name), file=name)
    }
    where = f"environments.{env}.rollout.traffic: {traffic}"
    if kind not in kinds:
        raise InputError(
            f"{where} sets the candidate's weight on a {kind}, but the chart rendered for "
            f"{env} has none (it renders {', '.join(sorted(str(k) for k in kinds))})",
            hint="use traffic: replicas (the shipped chart splits traffic by pod count), "
            f"or a chart (chart.path) that renders the {kind}",
        )
    raise InputError(
        f"{where}: setting {kind} weights is not built yet; only traffic: replicas is",
        hint="use traffic: replicas",
    )


def _pod_budget(config: Config, env: str, stable: ReleaseRecord) -> int:
    """The environment's replicaCount (its values, then chart.values, then the chart's)."""
    values = chart.layered_values(config, guards.manifest_of(stable), env)
    if "replicaCount" in values:
        return _count(values["replicaCount"], where=f"environments.{env}.values.replicaCount")
    defaults = chart.resolve_chart(config) / "values.yaml"
    data: Any = safe_read.load(safe_read.read_text(defaults) or "") or {}
    return _count(data.get("replicaCount", 1), where=str(defaults))


def _count(value: object, *, where: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise InputError(f"{where}: a canary needs at least 1 replica, got {value!r}")
    return value
