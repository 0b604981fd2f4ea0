"""A reviewer's summary of what a render changes against an earlier one (for the MR).

Reads two directories of rendered manifests (one object per *.yaml file) and reports what
people ask about in review: objects added or removed, images, replicas, resources, the
model version, and any change to RBAC objects (with the rules).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ci_plugins.errors import InputError
from ci_plugins.render.manifests import (
    MODEL_VERSION,
    ManifestFile,
    object_key,
    objects_of,
    read_manifest_dir,
)

RBAC_KINDS = frozenset(
    {"Role", "ClusterRole", "RoleBinding", "ClusterRoleBinding", "ServiceAccount"}
)
WORKLOAD_KINDS = frozenset({"Deployment", "StatefulSet", "DaemonSet", "Rollout", "Job"})


@dataclass
class RenderDiff:
    """Changes between two rendered directories, as lines per section."""

    added: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    changed: list[str] = field(default_factory=list)
    images: list[str] = field(default_factory=list)
    replicas: list[str] = field(default_factory=list)
    resources: list[str] = field(default_factory=list)
    models: list[str] = field(default_factory=list)
    rbac: list[str] = field(default_factory=list)

    @property
    def empty(self) -> bool:
        return not (self.added or self.removed or self.changed)

    def markdown(self, *, title: str) -> str:
        """The summary as Markdown (merge request note, CI step summary)."""
        lines = [f"### {title}", ""]
        if self.empty:
            return "\n".join([*lines, "No changes: the rendered manifests are identical."])
        sections = [
            ("Model", self.models),
            ("Images", self.images),
            ("Replicas", self.replicas),
            ("Resources", self.resources),
            ("RBAC", self.rbac),
            ("Objects added", self.added),
            ("Objects removed", self.removed),
            ("Objects changed", self.changed),
        ]
        for heading, items in sections:
            if items:
                lines += [f"**{heading}**", "", *(f"- {item}" for item in items), ""]
        return "\n".join(lines).rstrip()


def read_rendered(directory: Path) -> dict[str, dict[str, Any]]:
    """'Kind/name' -> object for every *.yaml file in directory (InputError if unreadable)."""
    if not directory.is_dir():
        raise InputError(f"--diff-against {directory} is not a directory")
    return objects_by_key(read_manifest_dir(directory))


def objects_by_key(files: Sequence[ManifestFile]) -> dict[str, dict[str, Any]]:
    """'Kind/name' -> object, for diff_rendered."""
    return {object_key(obj): obj for obj in objects_of(files)}


def diff_rendered(old: Mapping[str, Any], new: Mapping[str, Any]) -> RenderDiff:
    """What changed from old to new (both as returned by read_rendered)."""
    diff = RenderDiff()
    diff.added = sorted(set(new) - set(old))
    diff.removed = sorted(set(old) - set(new))
    for key in sorted(set(old) & set(new)):
        if old[key] != new[key]:
            diff.changed.append(key)
    for key in sorted(set(old) | set(new)):
        before, after = old.get(key), new.get(key)
        kind = key.split("/", 1)[0]
        if kind in WORKLOAD_KINDS:
            _compare_workload(diff, key, before or {}, after or {})
        if kind in RBAC_KINDS and before != after:
            diff.rbac.append(_rbac_line(key, before, after))
    return diff


def _compare_workload(diff: RenderDiff, key: str, old: Any, new: Any) -> None:
    old_images, new_images = _containers(old, "image"), _containers(new, "image")
    for name in sorted(set(old_images) | set(new_images)):
        before, after = old_images.get(name), new_images.get(name)
        if before != after:
            diff.images.append(f"{key} `{name}`: {_show(before)} → {_show(after)}")
    before_n, after_n = _get(old, "spec", "replicas"), _get(new, "spec", "replicas")
    if before_n != after_n:
        diff.replicas.append(f"{key}: {_show(before_n)} → {_show(after_n)}")
    old_res, new_res = _containers(old, "resources"), _containers(new, "resources")
    for name in sorted(set(old_res) | set(new_res)):
        before, after = old_res.get(name), new_res.get(name)
        if before != after:
            diff.resources.append(f"{key} `{name}`: {_flat(before)} → {_flat(after)}")
    before_v = _get(old, "spec", "template", "metadata", "annotations", MODEL_VERSION)
    after_v = _get(new, "spec", "template", "metadata", "annotations", MODEL_VERSION)
    if before_v != after_v:
        diff.models.append(f"{key}: model version {_show(before_v)} → {_show(after_v)}")


def _containers(obj: Any, attribute: str) -> dict[str, Any]:
    spec = _get(obj, "spec", "template", "spec") or {}
    found: dict[str, Any] = {}
    for group in ("initContainers", "containers"):
        for container in spec.get(group) or []:
            found[str(container.get("name"))] = container.get(attribute)
    return found


def _rbac_line(key: str, before: Any, after: Any) -> str:
    if before is None:
        return f"{key} added{_rules(after)}"
    if after is None:
        return f"{key} removed"
    return f"{key} changed{_rules(after)}"


def _rules(obj: Any) -> str:
    rules = obj.get("rules") if isinstance(obj, dict) else None
    if not rules:
        return ""
    shown = []
    for rule in rules:
        verbs = ",".join(rule.get("verbs") or [])
        resources = ",".join(rule.get("resources") or [])
        shown.append(f"{verbs} on {resources}")
    return ": " + "; ".join(shown)


def _get(obj: Any, *path: str) -> Any:
    for part in path:
        if not isinstance(obj, dict):
            return None
        obj = obj.get(part)
    return obj


def _show(value: Any) -> str:
    return "(none)" if value is None else f"`{value}`"


def _flat(value: Any) -> str:
    if not isinstance(value, dict) or not value:
        return _show(value if value else None)
    parts = []
    for key in sorted(value):
        item = value[key]
        if isinstance(item, dict):
            parts += [f"{key}.{sub}={item[sub]}" for sub in sorted(item)]
        else:
            parts.append(f"{key}={item}")
    return "`" + " ".join(parts) + "`"
