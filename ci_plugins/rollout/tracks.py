"""The manifests of one canary step: the stable and the candidate track, rendered together.

How a step's weight reaches requests is the environment's `rollout.traffic`:

- `replicas`: the Service selects both Deployments, so the weight is the candidate's share
  of the ready pods. The environment's `replicaCount` is the pod budget N; at weight w the
  candidate runs round(N * w / 100) pods (at least 1) and stable the rest (at least 1
  below 100, none at 100). A weight the pods cannot express exactly is logged with the
  share they give.
- `gateway-api` / `istio`: the route (an HTTPRoute's backendRefs, a VirtualService's
  destinations) carries the weight exactly, over one Service per track. Stable keeps all N
  pods, so an abort moves every request back at once; the candidate runs
  ceil(N * w / 100) pods (at least 1).

Every rendered step is checked: the objects must express the weight (a chart of the
user's own that renders no route, or ignores canary.weight, is refused before a commit).
"""

from __future__ import annotations

import math
import tempfile
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ci_plugins import safe_read
from ci_plugins.config import names
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
    """Pods of each track for weight percent of a budget of total pods (traffic: replicas)."""
    if weight >= 100:
        return Split(weight, 0, max(1, total))
    candidate = max(1, round(total * weight / 100))
    return Split(weight, max(1, total - candidate), candidate)


def routed_split(total: int, weight: int) -> Split:
    """Pods of each track when a route carries the weight: stable keeps all total pods."""
    return Split(weight, max(1, total), max(1, math.ceil(total * weight / 100)))


def split_for(traffic: str, total: int, weight: int) -> Split:
    return routed_split(total, weight) if traffic in WEIGHTED_KIND else replica_split(total, weight)


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
    traffic = config.environment(env).rollout.traffic
    split = split_for(traffic, _pod_budget(config, env, stable), weight)
    canary: dict[str, Any] = {
        "enabled": True,
        "replicaCount": split.candidate,
        "model": chart.computed_values(guards.manifest_of(candidate))["model"],
    }
    if traffic in WEIGHTED_KIND:
        canary["weight"] = weight
    overrides = {"replicaCount": split.stable, "canary": canary}
    with tempfile.TemporaryDirectory(prefix="ci-plugins-canary-") as tmp:
        chart.render(config, manifest, env, Path(tmp), overrides=overrides)
        rendered = guards.read_rendered(Path(tmp))
    check_traffic(config, env, rendered.files, weight=weight)
    return StepManifests(rendered.files, split)


def render_stable(config: Config, env: str, *, release: ReleaseRecord) -> Mapping[str, bytes]:
    """The manifests of release alone (the canary ended: promoted or aborted)."""
    with tempfile.TemporaryDirectory(prefix="ci-plugins-stable-") as tmp:
        chart.render(config, guards.manifest_of(release), env, Path(tmp))
        files = guards.read_rendered(Path(tmp)).files
    check_traffic(config, env, files, weight=0)
    return files


def check_traffic(config: Config, env: str, files: Mapping[str, bytes], *, weight: int) -> None:
    """Refuse rendered manifests whose route does not send weight percent to the
    candidate's Service and the rest to stable's (traffic: gateway-api or istio)."""
    traffic = config.environment(env).rollout.traffic
    kind = WEIGHTED_KIND.get(traffic)
    if kind is None:
        return
    objects = [
        obj
        for name, data in files.items()
        for obj in parse_objects(safe_read.decode(data, source=name), file=name)
    ]
    where = f"environments.{env}.rollout.traffic: {traffic}"
    routes = [obj for obj in objects if obj.get("kind") == kind]
    if not routes:
        kinds = sorted({str(obj.get("kind")) for obj in objects})
        raise InputError(
            f"{where} sets the candidate's weight on a {kind}, but the chart rendered for "
            f"{env} has none (it renders {', '.join(kinds)})",
            hint="use traffic: replicas, or a chart that renders the "
            f"{kind} from traffic.mode and canary.weight (the shipped chart does)",
        )
    services = track_services(objects)
    wanted = {names.STABLE_TRACK: 100 - weight}
    if weight:
        wanted[names.CANDIDATE_TRACK] = weight
    missing = sorted(set(wanted) - set(services))
    if missing:
        raise InputError(
            f"{where}: the chart rendered for {env} has no Service selecting the "
            f"{' and the '.join(missing)} track's pods (ci-plugins.dev/track) for the "
            f"{kind} to send requests to",
            hint="render one Service per track, as the shipped chart does",
        )
    found = [dict(_weights(route, services)) for route in routes]
    if not any(_sends(weights, wanted) for weights in found):
        seen = "; ".join(
            ", ".join(f"{track} {share:g}%" for track, share in sorted(weights.items()))
            or "no track"
            for weights in found
        )
        expected = ", ".join(f"{track} {share}%" for track, share in sorted(wanted.items()))
        raise InputError(
            f"{where}: no {kind} in the chart rendered for {env} sends {expected} (found: {seen})",
            hint="the chart must set the route's weights from canary.weight",
        )


def track_services(objects: list[dict[str, Any]]) -> dict[str, str]:
    """track -> the name of the Service that selects only that track's pods."""
    found: dict[str, str] = {}
    for obj in objects:
        if obj.get("kind") != "Service":
            continue
        selector = (obj.get("spec") or {}).get("selector") or {}
        track = selector.get(names.TRACK_LABEL)
        if track in (names.STABLE_TRACK, names.CANDIDATE_TRACK):
            found[str(track)] = str((obj.get("metadata") or {}).get("name"))
    return found


def _weights(route: dict[str, Any], services: Mapping[str, str]) -> Iterator[tuple[str, float]]:
    """(track, percent) for each track the route's first weighted rule sends to."""
    by_name = {name: track for track, name in services.items()}
    spec = route.get("spec") or {}
    if route.get("kind") == "HTTPRoute":
        rules = [rule.get("backendRefs") or [] for rule in spec.get("rules") or []]
        refs = [[(str(ref.get("name")), ref.get("weight", 1)) for ref in rule] for rule in rules]
    else:  # VirtualService: a destination's host is the Service's name, or its FQDN
        refs = [
            [
                (str((dest.get("destination") or {}).get("host", "")).split(".")[0],
                 dest.get("weight", 100 if len(http.get("route") or []) == 1 else 0))
                for dest in http.get("route") or []
            ]
            for http in spec.get("http") or []
        ]  # fmt: skip
    for rule in refs:
        tracked = [(by_name[name], weight) for name, weight in rule if name in by_name]
        if not tracked:
            continue
        total = sum(float(weight or 0) for _, weight in rule)
        for track, weight in tracked:
            yield track, 100.0 * float(weight or 0) / total if total else 0.0
        return


def _sends(weights: Mapping[str, float], wanted: Mapping[str, int]) -> bool:
    """The route's shares are the wanted ones (a track with no weight: 0%)."""
    tracks = set(weights) | set(wanted)
    return all(abs(weights.get(t, 0.0) - wanted.get(t, 0)) < 0.01 for t in tracks)


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
