"""Check rendered objects against the Kubernetes OpenAPI schemas (kubernetes-validate).

Strict: an unknown field (`spec.replica`), a wrong type or a value outside an enum is a
problem naming the file, the object and the field path. The schemas are the ones the
`kubernetes-validate` package ships, for the cluster version in `render.kubernetes_version`
(default: the newest it ships). Kinds it has no schema for (custom resources such as Argo
CD, Flagger or Istio objects) are skipped with a note, not failed.

Loading a schema is the expensive part, so each version's definitions and each kind's
validator are loaded once per process and reused for every object (#17).
"""

from __future__ import annotations

import functools
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from ci_plugins.errors import InputError

_VERSION = re.compile(r"^v?(\d+)\.(\d+)(?:\.\d+)?$")


@dataclass(frozen=True)
class Report:
    """What the check found: problems (exit 2) and kinds skipped for lack of a schema."""

    version: str
    problems: list[str]
    skipped: list[str]


def supported_versions() -> list[str]:
    """The Kubernetes minor versions the installed kubernetes-validate has schemas for."""
    from kubernetes_validate import utils

    return sorted({utils.major_minor(v) for v in utils.all_versions()}, key=_version_key)


def resolve_version(requested: str | None) -> str:
    """`1.30` for 1.30 / v1.30.2; the newest shipped for None; InputError when not shipped."""
    shipped = supported_versions()
    if requested is None:
        return shipped[-1]
    match = _VERSION.match(requested.strip())
    wanted = f"{match.group(1)}.{match.group(2)}" if match else None
    if wanted not in shipped:
        raise InputError(
            f"render.kubernetes_version {requested!r}: no Kubernetes schemas for it; "
            f"kubernetes-validate ships {shipped[0]} to {shipped[-1]}",
            hint="set the minor version your clusters run, e.g. kubernetes_version: "
            f"'{shipped[-1]}'",
        )
    return wanted


def check_objects(objects: Mapping[str, Mapping[str, Any]], *, version: str) -> Report:
    """Validate each object (file name -> object); every problem, in file order."""
    problems: list[str] = []
    skipped: set[str] = set()
    for filename in sorted(objects):
        obj = objects[filename]
        kind, api_version = str(obj.get("kind", "")), str(obj.get("apiVersion", ""))
        validator = _validator(version, kind, api_version)
        if validator is None:
            skipped.add(f"{kind} ({api_version})")
            continue
        name = (obj.get("metadata") or {}).get("name", "?")
        for error in sorted(validator.iter_errors(dict(obj)), key=_error_key):
            problems.append(f"{filename}: {kind}/{name}: {_path(error)}: {_message(error)}")
    return Report(version=version, problems=problems, skipped=sorted(skipped))


def require_valid(objects: Mapping[str, Mapping[str, Any]], *, version: str, where: str) -> Report:
    """check_objects, raising InputError (exit 2) listing every problem."""
    report = check_objects(objects, version=version)
    if report.problems:
        count = len(report.problems)
        raise InputError(
            f"{where}: {count} field{'s' if count != 1 else ''} Kubernetes {version} would reject",
            problems=report.problems,
            hint="fix the chart or its values (the path is the field in the object)",
        )
    return report


def skipped_note(report: Report) -> str | None:
    if not report.skipped:
        return None
    return (
        f"no Kubernetes {report.version} schema for {', '.join(report.skipped)}: "
        "not checked (custom resources)"
    )


@functools.cache
def _definitions(version: str) -> Any:
    """The registry with one version's shared definitions, loaded once."""
    from kubernetes_validate import utils
    from referencing import Registry, Resource

    directory = _schema_dir(version)
    defs = utils.schema_contents(f"kubernetes-json-schema/{directory}/_definitions.json", version)
    return Resource.from_contents(defs) @ Registry()


@functools.cache
def _validator(version: str, kind: str, api_version: str) -> Any:
    """The strict validator of one kind, or None when no schema is shipped for it."""
    import jsonschema
    from kubernetes_validate import utils
    from referencing import Resource

    if not kind or not api_version:
        return None
    # as kubernetes-validate names its files: rbac.authorization.k8s.io/v1 -> rbac-v1
    api = re.sub(r"^([^./]*)(?:\.[^/]*)?/", r"\1-", api_version)
    path = f"kubernetes-json-schema/{_schema_dir(version)}/{kind.lower()}-{api}.json"
    try:
        schema = utils.schema_contents(path, version)
    except FileNotFoundError:
        return None
    registry = Resource.from_contents(schema) @ _definitions(version)
    return jsonschema.validators.Draft202012Validator(schema, registry=registry)


@functools.cache
def _schema_dir(version: str) -> str:
    from kubernetes_validate import utils

    full = [v for v in utils.all_versions() if utils.major_minor(v) == version][-1]
    return f"v{full}-local-strict"


def _path(error: Any) -> str:
    parts = [str(p) if not isinstance(p, int) else f"[{p}]" for p in error.absolute_path]
    text = ".".join(parts).replace(".[", "[")
    if error.validator == "required":
        missing = re.findall(r"^'([^']+)' is a required property", str(error.message))
        if missing:
            text = ".".join(filter(None, [text, missing[0]]))
    if error.validator == "additionalProperties":
        extra = re.findall(r"'([^']+)' (?:was|were) unexpected", str(error.message))
        unexpected = re.findall(r"'([^']+)'", error.message.split("(")[-1]) if not extra else []
        names = extra or unexpected
        if names:
            text = ".".join(filter(None, [text, names[0]]))
    return text or "(top level)"


def _message(error: Any) -> str:
    if error.validator == "additionalProperties":
        return "unknown field"
    if error.validator == "required":
        return "required field is missing"
    if error.validator == "enum":
        allowed = ", ".join(repr(v) for v in error.validator_value if v is not None)
        return f"{error.instance!r} is not one of {allowed}"
    if error.validator == "type":
        expected = error.validator_value
        expected = [expected] if isinstance(expected, str) else list(expected)
        names = " or ".join(t for t in expected if t != "null")
        return f"expected {names}, got {_shown(error.instance)}"
    return str(error.message)


def _shown(value: Any) -> str:
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    return repr(value)


def _error_key(error: Any) -> tuple[str, ...]:
    return tuple(str(p) for p in error.absolute_path)


def _version_key(version: str) -> tuple[int, ...]:
    return tuple(int(part) for part in version.split("."))
