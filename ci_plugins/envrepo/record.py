"""The release record (environments/<env>/<app>/release.yaml).

The single source for the gate's baseline, rollback targets, promotion, and the answer to
"what runs in prod and why".

While a canary runs (`rollout.strategy: canary`), the record stays the stable release
and `canary:` holds the candidate's release and the step it is at, so a re-run of
`ci-plugins rollout` continues where the last one stopped.
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
    canary: Canary | None = None

    def without_canary(self) -> ReleaseRecord:
        return self.model_copy(update={"canary": None})


class Canary(_Part):
    """A canary in progress: the candidate's release next to the stable one."""

    release: ReleaseRecord  # the candidate (its own `canary` is always empty)
    steps: list[int]  # the traffic percentages, as configured when the canary started
    weight: int  # the step the environment repo is at now (percent of traffic)

    @property
    def next_weight(self) -> int | None:
        """The step after the current one; None at the last (100)."""
        later = [step for step in self.steps if step > self.weight]
        return later[0] if later else None


ReleaseRecord.model_rebuild()


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
