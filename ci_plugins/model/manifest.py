"""The model manifest (model-manifest.json): a trained model's identity, written by train.

`package` adds `artifact` (where the model is pulled from, pinned by digest); render and
promote read it. Its `app` must be the config's `app`.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field

from ci_plugins import safe_read
from ci_plugins.config.models import AppName, validate_model
from ci_plugins.errors import InputError

MANIFEST_FILE = "model-manifest.json"
DIGEST_PATTERN = r"^sha256:[0-9a-f]{64}$"


class ModelManifest(BaseModel):
    """What was trained, from which commit, on which devices."""

    model_config = ConfigDict(extra="allow", frozen=True, defer_build=True)

    app: AppName
    model_version: str = Field(min_length=1, max_length=128, pattern=r"^[A-Za-z0-9._-]+$")
    model_digest: str = Field(pattern=DIGEST_PATTERN)
    source_commit: str = ""
    pipeline_url: str = ""
    devices: list[str] = Field(default_factory=list)
    frameworks: dict[str, str] = Field(default_factory=dict)
    created: str = ""
    artifact: str | None = Field(
        default=None, description="where the model is pulled from, pinned by digest"
    )
    image: str | None = Field(default=None, description="serving image, pinned by digest")


def read_manifest(path: Path, *, app: str | None = None) -> ModelManifest:
    """Load and validate a model manifest; InputError (exit 2) when missing, corrupt or
    recorded for another app than `app`."""
    data = safe_read.read_json(
        path, what="model manifest", missing_hint="run `ci-plugins train` first"
    )
    manifest = validate_model(ModelManifest, data, source=path)
    if app is not None and manifest.app != app:
        raise InputError(
            f"model manifest {path} is for app {manifest.app!r}, but ci-plugins.yaml says "
            f"app {app!r}",
            hint="a model is never promoted under another app's name",
        )
    return manifest


PACKAGE_HINT = (
    "run `ci-plugins package --model-dir DIR --manifest FILE` first (the pipeline templates "
    "package on the default branch, after the gate); `render --preview` renders an "
    "unpackaged model for review only"
)


def require_servable(manifest: ModelManifest, *, source: object) -> None:
    """InputError (exit 2) when the manifest names neither an artifact nor a serving image:
    the rendered server would run TensorFlow Serving with no model in it."""
    if not (manifest.artifact or manifest.image):
        raise InputError(
            f"{source} names neither a model artifact nor a serving image (the model was "
            "never packaged): its manifests would run TensorFlow Serving with no model",
            hint=PACKAGE_HINT,
        )


def write_manifest(path: Path, manifest: ModelManifest) -> None:
    """Write the manifest as sorted, indented JSON (stable bytes for identical content)."""
    data = manifest.model_dump(mode="json", exclude_none=True)
    path.write_text(json.dumps(data, indent=2, sort_keys=True) + "\n", encoding="utf-8")


def is_digest(value: str) -> bool:
    return re.match(DIGEST_PATTERN, value) is not None
