"""Rendered manifests: the one parser of helm's output and of a rendered directory.

A rendered directory holds one file per Kubernetes object (`<kind>-<name>.yaml`) and
`render-info.json`; the environment repo keeps the same files under
`environments/<env>/<app>/manifests/`. render, promote, validate, verify and the render
diff all read them here, with one set of rules: every document is a mapping with
apiVersion, kind and metadata.name (a `*List` contributes its items), names are single
path segments, and files are regular files (no links, no FIFOs) in safe YAML.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ci_plugins import safe_read
from ci_plugins.errors import InputError

Obj = dict[str, Any]

RENDER_INFO = "render-info.json"
SUFFIXES = (".yaml", ".yml")
# Annotation on the pod template: the model version the pods serve.
MODEL_VERSION = "ci-plugins.dev/model-version"
# Kinds that live outside namespaces: they never get metadata.namespace.
CLUSTER_SCOPED = frozenset(
    {
        "APIService",
        "ClusterRole",
        "ClusterRoleBinding",
        "CustomResourceDefinition",
        "IngressClass",
        "MutatingWebhookConfiguration",
        "Namespace",
        "Node",
        "PersistentVolume",
        "PriorityClass",
        "RuntimeClass",
        "StorageClass",
        "ValidatingWebhookConfiguration",
    }
)


@dataclass(frozen=True)
class Problem:
    """What is wrong with one file (file: the name the user sees)."""

    file: str
    reason: str  # "not valid YAML (...)" or a predicate: "is ...", "holds ..."

    def __str__(self) -> str:
        if self.reason.startswith(("is ", "holds ", "cannot ")):
            return f"{self.file} {self.reason}"
        return f"{self.file} is {self.reason}"

    @property
    def line(self) -> str:
        """The problem as one line of a list: `name: reason`."""
        return f"{self.file}: {self.reason}"


class ManifestError(InputError):
    """Rendered manifests that cannot be used (exit 2); `.found` holds every problem."""

    def __init__(self, found: Sequence[Problem], *, where: str = "") -> None:
        if len(found) == 1:
            super().__init__(str(found[0]))
        else:
            header = f"{where} has {len(found)} invalid manifests"
            super().__init__(header, problems=[p.line for p in found])
        self.found = list(found)


@dataclass(frozen=True)
class ManifestFile:
    """One rendered file: its name, its exact bytes, the objects it holds."""

    name: str
    data: bytes
    objects: tuple[Obj, ...]


def object_key(obj: Obj) -> str:
    """'Kind/name', how people name an object."""
    return f"{obj['kind']}/{obj['metadata']['name']}"


def parse_objects(text: str, *, file: str) -> list[Obj]:
    """The Kubernetes objects in a YAML stream (a `*List` gives its items).

    ManifestError naming file when it is not safe YAML, holds no object, or a document
    is not an object with apiVersion, kind and a name that is one path segment.
    """
    try:
        documents = [d for d in safe_read.load_all(text) if d is not None]
    except safe_read.YAMLError as exc:
        raise _error(file, f"not valid YAML ({safe_read.problem(exc)})") from None
    objects: list[Obj] = []
    for document in documents:
        if not isinstance(document, dict) or not document.get("kind"):
            raise _error(file, "is not a Kubernetes object (a mapping with apiVersion and kind)")
        kind = str(document["kind"])
        items = document.get("items") if kind.endswith("List") else [document]
        for obj in items or []:
            reason = _object_problem(obj)
            if reason:
                raise _error(file, reason)
            objects.append(obj)
    if not objects:
        raise _error(file, "holds no Kubernetes object")
    return objects


def _object_problem(obj: Any) -> str | None:
    if not isinstance(obj, dict) or not obj.get("kind"):
        return "is not a Kubernetes object (a mapping with apiVersion and kind)"
    meta = obj.get("metadata")
    if not (isinstance(meta, dict) and meta.get("name")):
        return "holds an object without kind or metadata.name"
    if not obj.get("apiVersion"):
        return f"holds a {obj['kind']} without apiVersion"
    name = meta["name"]
    if not isinstance(name, str) or "/" in name or "\\" in name or name in (".", ".."):
        return (
            f"holds {obj['kind']} {name!r}: an object name must be one path segment "
            "(no '/'; check fullnameOverride / nameOverride in the values)"
        )
    return None


def _error(file: str, reason: str) -> ManifestError:
    return ManifestError([Problem(file, reason)])


def manifest_paths(directory: Path) -> list[Path]:
    """The *.yaml / *.yml entries of directory, sorted (links and non-files included, so
    that reading them can refuse them); [] when directory does not exist."""
    if not directory.is_dir():
        return []
    return sorted(p for p in directory.iterdir() if p.suffix in SUFFIXES)


def read_manifest_dir(directory: Path, *, prefix: str = "") -> list[ManifestFile]:
    """Every *.yaml file of directory, parsed ([] when there is none).

    ManifestError listing every bad file (named `prefix + name`): not a regular file
    (links are refused, never followed), unreadable, not UTF-8, not valid YAML, or not
    Kubernetes objects.
    """
    found: list[ManifestFile] = []
    problems: list[Problem] = []
    for path in manifest_paths(directory):
        file = prefix + path.name
        try:
            data = safe_read.read_bytes(path) or b""
            text = safe_read.decode(data, source=file)
            found.append(ManifestFile(path.name, data, tuple(parse_objects(text, file=file))))
        except ManifestError as exc:
            problems += exc.found
        except safe_read.UnreadableFile as exc:
            problems.append(Problem(file, exc.reason))
    if problems:
        raise ManifestError(problems, where=prefix.rstrip("/") or f"rendered directory {directory}")
    return found


def objects_of(files: Sequence[ManifestFile]) -> list[Obj]:
    """All objects of the files, in file order."""
    return [obj for file in files for obj in file.objects]


def check_names(objects: Sequence[Obj], *, source: str) -> None:
    """InputError when an object's name cannot name a file (raised before writing)."""
    for obj in objects:
        reason = _object_problem(obj)
        if reason:
            raise InputError(f"{source} {reason}")
