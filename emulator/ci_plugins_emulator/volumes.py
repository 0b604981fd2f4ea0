"""LOCAL CLUSTER EMULATOR: a pod's volumes as directories, and container paths mapped to them.

A container process here shares the host's file system, so each volume is a directory under
the pod's directory (`<state>/pods/<ns>/<pod>/volumes/<name>`), and a container sees its
mounts by path rewriting: every arg and env value that is a mount path, or starts with one
(`/models/model`, `--model_base_path=/models/model`, `--output /models`), is rewritten to
the volume's directory. emptyDir volumes are shared by the init and main containers of the
pod (one directory); configMap and secret volumes hold the object's keys as files, as the
kubelet projects them; a hostPath volume is that path of this machine (the node).
"""

from __future__ import annotations

import base64
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

Obj = dict[str, Any]
Lookup = Callable[[str, str], Obj | None]  # (kind, name) -> the object in the pod's namespace


class VolumeError(Exception):
    """A volume the kubelet cannot set up (message as the kubelet's FailedMount event)."""


@dataclass(frozen=True)
class Mounts:
    """Container path -> host directory, longest path first."""

    paths: tuple[tuple[str, Path], ...]

    def rewrite(self, value: str) -> str:
        """value with every mount path in it replaced by its directory."""
        for mount, directory in self.paths:
            pattern = re.compile(rf"(^|[=:,\s'\"]){re.escape(mount.rstrip('/'))}(?=/|$|[\s,:'\"])")
            value = pattern.sub(lambda m: m.group(1) + str(directory), value)  # noqa: B023
        return value

    def rewrite_all(self, values: Sequence[str]) -> list[str]:
        return [self.rewrite(v) for v in values]


def prepare_volumes(pod_dir: Path, spec: Obj, lookup: Lookup) -> dict[str, Path]:
    """Create the pod's volume directories; volume name -> directory. Raises VolumeError."""
    volumes: dict[str, Path] = {}
    for volume in spec.get("volumes") or []:
        name = str(volume.get("name"))
        if "hostPath" in volume:  # this machine is the node
            host = Path(str(volume["hostPath"].get("path", "")))
            kind = volume["hostPath"].get("type", "")
            if kind == "DirectoryOrCreate":
                host.mkdir(parents=True, exist_ok=True)
            elif kind == "Directory" and not host.is_dir():
                raise VolumeError(f"hostPath type check failed: {host} is not a directory")
            volumes[name] = host
            continue
        directory = pod_dir / "volumes" / name
        directory.mkdir(parents=True, exist_ok=True)
        if "configMap" in volume:
            _project(directory, volume["configMap"], "ConfigMap", lookup, binary=False)
        elif "secret" in volume:
            _project(directory, volume["secret"], "Secret", lookup, binary=True)
        elif "emptyDir" not in volume:
            kinds = sorted(k for k in volume if k != "name")
            raise VolumeError(f"volume {name!r}: {', '.join(kinds)} is not supported here")
        volumes[name] = directory
    return volumes


def _project(directory: Path, source: Obj, kind: str, lookup: Lookup, *, binary: bool) -> None:
    name = str(source.get("name") or source.get("secretName") or "")
    obj = lookup(kind, name)
    if obj is None:
        if source.get("optional"):
            return
        raise VolumeError(f'{kind.lower()} "{name}" not found')
    data: Mapping[str, str] = obj.get("data") or {}
    items = source.get("items") or [{"key": k, "path": k} for k in data]
    for item in items:
        key = str(item["key"])
        if key not in data:
            raise VolumeError(f"couldn't find key {key} in {kind} {obj['metadata']['name']}")
        target = directory / str(item.get("path") or key)
        target.parent.mkdir(parents=True, exist_ok=True)
        raw = base64.b64decode(data[key]) if binary else data[key].encode()
        target.write_bytes(raw)


def mounts_for(container: Obj, volumes: Mapping[str, Path]) -> Mounts:
    """The container's mount paths mapped to its volumes' directories (subPath honoured)."""
    paths = []
    for mount in container.get("volumeMounts") or []:
        directory = volumes.get(str(mount.get("name")))
        if directory is None:
            raise VolumeError(f'volume "{mount.get("name")}" not found in the pod spec')
        if mount.get("subPath"):
            directory = directory / str(mount["subPath"])
            directory.mkdir(parents=True, exist_ok=True)
        paths.append((str(mount["mountPath"]), directory))
    paths.sort(key=lambda p: len(p[0]), reverse=True)
    return Mounts(tuple(paths))
