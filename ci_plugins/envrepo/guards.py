"""What promote writes: the rendered manifests it accepts, the release record, the guards.

Pure functions over files and records, shared by promote, rollback and status.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from ci_plugins import ci_system, safe_read
from ci_plugins.envrepo.record import ChartRef, ModelRef, ReleaseRecord, SourceRef
from ci_plugins.errors import InputError
from ci_plugins.model.manifest import ModelManifest
from ci_plugins.model.metrics import METRICS_FILE
from ci_plugins.render.manifests import RENDER_INFO, read_manifest_dir


@dataclass(frozen=True)
class Rendered:
    """The *.yaml files of a rendered directory (name -> bytes) and its render-info.json."""

    files: Mapping[str, bytes]
    info: Mapping[str, Any]


def read_rendered(directory: Path) -> Rendered:
    """Read DIR/*.yaml (each must hold Kubernetes objects) and DIR/render-info.json.

    InputError (exit 2) when the directory is missing, has no *.yaml file, or a file is a
    link, unreadable, not YAML or holds something other than Kubernetes objects (every
    problem listed), or render-info.json is unreadable or not a JSON object.
    """
    if not directory.is_dir():
        raise InputError(
            f"rendered directory {directory} does not exist",
            hint="run `ci-plugins render --output-dir DIR` first",
        )
    files = read_manifest_dir(directory)
    if not files:
        raise InputError(
            f"rendered directory {directory} has no *.yaml files",
            hint="pass the --output-dir of `ci-plugins render`",
        )
    info = _json_object(directory / RENDER_INFO) or {}
    return Rendered({f.name: f.data for f in files}, info)


def _json_object(path: Path) -> dict[str, Any] | None:
    """The JSON object in path (None when absent); InputError naming it otherwise."""
    if safe_read.file_problem(path) == safe_read.MISSING:
        return None
    return safe_read.read_json_object(path, what="")


def check_render_info(info: Mapping[str, Any], *, app: str, env: str, digest: str) -> None:
    """The rendered directory must be for this app, environment and model (exit 2)."""
    for key, expected, fix in (
        ("app", app, "render it for this app"),
        ("environment", env, f"render it again with --env {env}"),
        ("model_digest", digest, "render it again with this model manifest"),
    ):
        found = info.get(key)
        if found not in (None, expected):
            raise InputError(
                f"the rendered manifests are for {key} {found!r}, not {expected!r}", hint=fix
            )


def read_metrics_near(manifest_path: Path) -> dict[str, float]:
    """Gate metrics from metrics.json beside the model manifest (train writes both into
    one directory); numeric, finite values only; {} when there is no such file."""
    data = _json_object(manifest_path.parent / METRICS_FILE)
    metrics = data.get("metrics") if data else None
    if not isinstance(metrics, dict):
        return {}
    return {
        str(k): float(v)
        for k, v in metrics.items()
        if isinstance(v, int | float) and not isinstance(v, bool) and math.isfinite(v)
    }


def build_record(
    manifest: ModelManifest,
    *,
    env: str,
    info: Mapping[str, Any],
    metrics: Mapping[str, float],
    environ: Mapping[str, str],
    promoted_from: str | None = None,
) -> ReleaseRecord:
    """The release record for manifest rendered for env (released now)."""
    chart = info.get("chart")
    extra = manifest.model_extra or {}
    model = {"version": manifest.model_version, "digest": manifest.model_digest}
    if manifest.artifact or info.get("artifact"):
        model["artifact"] = manifest.artifact or str(info["artifact"])
    if manifest.created:
        model["created"] = manifest.created
    return ReleaseRecord(
        app=manifest.app,
        environment=env,
        model=ModelRef.model_validate(model),
        image=info.get("image") or manifest.image,
        chart=ChartRef.model_validate(chart) if isinstance(chart, dict) else None,
        values_digest=info.get("values_digest"),
        metrics=dict(metrics),
        source=SourceRef(
            repo=str(extra.get("source_repo") or ci_system.source_repo(environ)),
            commit=manifest.source_commit,
        ),
        pipeline_url=manifest.pipeline_url or ci_system.pipeline_url(environ),
        promoted_from=promoted_from,
        released_at=datetime.now(UTC).isoformat(timespec="seconds"),
    )


def manifest_of(record: ReleaseRecord) -> ModelManifest:
    """The model identity recorded in a release (for promotion between environments)."""
    data: dict[str, Any] = {
        "app": record.app,
        "model_version": record.model.version,
        "model_digest": record.model.digest,
        "source_commit": record.source.commit,
        "source_repo": record.source.repo,
        "pipeline_url": record.pipeline_url,
        "created": str((record.model.model_extra or {}).get("created", "")),
    }
    if record.model.artifact:
        data["artifact"] = record.model.artifact
    if record.image:
        data["image"] = record.image
    return ModelManifest.model_validate(data)


def same_release(a: ReleaseRecord, b: ReleaseRecord) -> bool:
    """Equal apart from when and by which pipeline it was written (a re-run of the same
    release in a new pipeline changes nothing)."""
    ignored = {"released_at": "", "pipeline_url": ""}
    return a.model_copy(update=ignored) == b.model_copy(update=ignored)


def downgrade_reason(
    new: ReleaseRecord, current: ReleaseRecord, *, where: str | None = None
) -> str | None:
    """Why new is older than what runs (by creation time when both have one, else by
    version), or None when it is not a downgrade. The one downgrade rule: promote,
    validate and status all ask here. `where` names what runs current (default: its
    environment)."""
    if new.model.digest == current.model.digest:
        return None
    runs = f"which {where or current.environment} runs"
    new_created, old_created = _created(new), _created(current)
    if new_created and old_created:
        if new_created < old_created:
            return (
                f"model {new.model.version} was created {new_created.isoformat()}, before "
                f"{current.model.version} ({old_created.isoformat()}), {runs}"
            )
        return None
    if _natural(new.model.version) < _natural(current.model.version):
        return f"model version {new.model.version} is older than {current.model.version}, {runs}"
    return None


def _created(record: ReleaseRecord) -> datetime | None:
    value = (record.model.model_extra or {}).get("created")
    if not value:
        return None
    try:
        parsed = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def _natural(version: str) -> tuple[tuple[int, Any], ...]:
    parts = re.split(r"(\d+)", version)
    return tuple((0, int(p)) if p.isdigit() else (1, p) for p in parts if p)


def trailers(record: ReleaseRecord, **more: str) -> dict[str, str]:
    """The machine-readable trailers of a release commit (empty values are left out)."""
    values = {
        "Model-Version": record.model.version,
        "Model-Digest": record.model.digest,
        "Source-Commit": record.source.commit,
        "Pipeline": record.pipeline_url,
        "Environment": record.environment,
        "App": record.app,
        "Promoted-From": record.promoted_from or "",
    }
    values.update(more)
    return {k: v for k, v in values.items() if v}
