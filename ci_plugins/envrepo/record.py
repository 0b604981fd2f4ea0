"""The release record (environments/<env>/<app>/release.yaml).

The single source for the gate's baseline, rollback targets, promotion, and the answer to
"what runs in prod and why".
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field

from ci_plugins.config.models import AppName, EnvName, load_yaml_mapping, validate_model

API_VERSION = "ci-plugins/v1"
KIND = "Release"


class _Part(BaseModel):
    model_config = ConfigDict(extra="allow", frozen=True, defer_build=True)


class ModelRef(_Part):
    version: str
    digest: str
    artifact: str | None = None


class ChartRef(_Part):
    name: str
    version: str


class SourceRef(_Part):
    repo: str = ""
    commit: str = ""


class ReleaseRecord(_Part):
    """One app's release in one environment."""

    apiVersion: str = API_VERSION
    kind: str = KIND
    app: AppName
    environment: EnvName
    model: ModelRef
    image: str | None = None
    chart: ChartRef | None = None
    values_digest: str | None = None
    metrics: dict[str, float] = Field(default_factory=dict)
    source: SourceRef = Field(default_factory=SourceRef)
    pipeline_url: str = ""
    promoted_from: str | None = None
    released_at: str = ""


def is_release_document(data: dict[str, Any]) -> bool:
    """True when a parsed YAML/JSON mapping is a release record (not a metrics.json)."""
    return data.get("kind") == KIND or ("model" in data and "environment" in data)


def read_release(path: Path) -> ReleaseRecord:
    """Load and validate release.yaml; InputError (exit 2) naming the file and key."""
    return validate_model(ReleaseRecord, load_yaml_mapping(path, what="release"), source=path)


def dump_release(record: ReleaseRecord) -> str:
    """YAML with a stable key order, so an unchanged release writes the same bytes."""
    data = record.model_dump(mode="json", exclude_none=True)
    return yaml.safe_dump(data, sort_keys=False, default_flow_style=False, allow_unicode=True)
