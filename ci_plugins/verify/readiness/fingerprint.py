"""Phase B: the live pod template carries the committed manifest's images and annotations.

Compared with what was committed, not with annotation names verify expects, so manifests
not rendered from our chart verify the same way; an old release that rolled out fine
cannot pass.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from ci_plugins.verify.readiness.model import Obj, get

TEMPLATE_PATHS: dict[str, tuple[str, ...]] = {
    "Deployment": ("spec", "template"),
    "StatefulSet": ("spec", "template"),
    "DaemonSet": ("spec", "template"),
    "ReplicaSet": ("spec", "template"),
    "Job": ("spec", "template"),
    "Rollout": ("spec", "template"),
    "CronJob": ("spec", "jobTemplate", "spec", "template"),
    "Pod": (),
}


@dataclass(frozen=True)
class Fingerprint:
    """Container images (by container name) and pod-template annotations."""

    images: Mapping[str, str]
    annotations: Mapping[str, str]

    def mismatches(self, live: Fingerprint) -> list[str]:
        """What differs, in words; empty when live carries everything committed."""
        problems = []
        for name, image in sorted(self.images.items()):
            if live.images.get(name) != image:
                problems.append(f"container {name} runs {live.images.get(name)}, want {image}")
        for key, value in sorted(self.annotations.items()):
            if live.annotations.get(key) != value:
                problems.append(f"annotation {key}={live.annotations.get(key)!r}, want {value!r}")
        return problems


def fingerprint(obj: Obj) -> Fingerprint | None:
    """The pod-template fingerprint of a workload object, or None for other kinds."""
    kind = str(obj.get("kind", ""))
    if kind not in TEMPLATE_PATHS:
        return None
    template = get(obj, *TEMPLATE_PATHS[kind], default={}) if TEMPLATE_PATHS[kind] else obj
    images = {
        str(c.get("name")): str(c.get("image"))
        for key in ("initContainers", "containers")
        for c in get(template, "spec", key, default=[])
    }
    annotations = {
        str(k): str(v) for k, v in (get(template, "metadata", "annotations", default={})).items()
    }
    return Fingerprint(images, annotations)


def pinned_digest(image: str) -> str | None:
    """The sha256 digest an image reference is pinned to, if any."""
    _, at, digest = image.partition("@")
    return digest if at and digest.startswith("sha256:") else None
