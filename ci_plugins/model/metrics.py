"""Read metrics.json and baselines (a metrics.json or a release.yaml)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ci_plugins import safe_read
from ci_plugins.envrepo.record import is_release_document, read_release
from ci_plugins.errors import InputError

METRICS_FILE = "metrics.json"  # what train writes beside the model manifest


@dataclass(frozen=True)
class Baseline:
    """The metrics of the release that runs now, and where they came from."""

    metrics: dict[str, Any]
    source: str


def read_metrics(path: Path) -> dict[str, Any]:
    """The `metrics` mapping of a metrics.json; values are checked later, by the policy.

    Raises InputError (exit 2) when the file is missing, not JSON or not shaped
    `{"metrics": {...}}`.
    """
    data = safe_read.read_json_object(path, what="metrics file")
    metrics = data.get("metrics")
    if not isinstance(metrics, dict):
        raise InputError(
            f'metrics file {path} must hold {{"metrics": {{"<name>": <number>, ...}}}}, '
            f"found keys {sorted(data) or 'none'}"
        )
    return metrics


def read_baseline(path: Path) -> Baseline:
    """Baseline metrics from a metrics.json or a release.yaml (by content, not by name)."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise InputError(f"baseline file {path} does not exist") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"cannot read baseline file {path}: {exc}") from None
    try:
        data = safe_read.load(text)  # JSON is YAML, so one parser reads both
    except safe_read.YAMLError as exc:
        raise InputError(f"baseline file {path} is neither JSON nor YAML: {exc}") from None
    if not isinstance(data, dict):
        raise InputError(f"baseline file {path} must hold a mapping")
    if is_release_document(data):
        record = read_release(path)
        source = f"release {record.model.version} recorded in {record.environment} ({path})"
        return Baseline(dict(record.metrics), source)
    return Baseline(read_metrics(path), f"metrics file {path}")
