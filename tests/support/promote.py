"""Inputs for promote tests: a project config, a model manifest, metrics, rendered manifests."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import yaml


def digest_of(version: str) -> str:
    return "sha256:" + hashlib.sha256(version.encode()).hexdigest()


def write_config(
    project: Path, env_repo: str, *, app: str = "digits", extra: dict[str, Any] | None = None
) -> Path:
    """ci-plugins.yaml with dev, staging and prod (prod asks for a merge request)."""
    config: dict[str, Any] = {
        "app": app,
        "env_repo": {"url": env_repo, "branch": "main", "push_attempts": 3},
        "environments": {
            "dev": {"namespace": "ml-dev"},
            "staging": {"namespace": "ml-staging"},
            "prod": {"namespace": "ml-prod", "approval": "merge-request"},
        },
    }
    for key, value in (extra or {}).items():
        config[key] = value
    path = project / "ci-plugins.yaml"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump(config), encoding="utf-8")
    return path


def write_release_inputs(
    project: Path,
    *,
    app: str = "digits",
    env: str = "staging",
    version: str = "3",
    created: str = "",
    metrics: dict[str, float] | None = None,
    objects: int = 2,
) -> tuple[Path, Path]:
    """Write out-<app>-<version>/{model-manifest.json,metrics.json} and a rendered dir.

    Returns (manifest path, rendered dir)."""
    out = project / f"out-{app}-{version}"
    out.mkdir(parents=True, exist_ok=True)
    manifest = {
        "app": app,
        "model_version": version,
        "model_digest": digest_of(version),
        "source_commit": "c0ffee" + version,
        "pipeline_url": f"https://ci.example.com/p/{version}",
        "created": created,
        "artifact": f"registry.example.com/ml/{app}@{digest_of(version)}",
    }
    (out / "model-manifest.json").write_text(json.dumps(manifest), encoding="utf-8")
    metrics = {"accuracy": 0.9 + int(version) / 1000} if metrics is None else metrics
    (out / "metrics.json").write_text(json.dumps({"metrics": metrics}), encoding="utf-8")
    rendered = project / f"rendered-{app}-{env}-{version}"
    rendered.mkdir(parents=True, exist_ok=True)
    for index in range(objects):
        obj = {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": {"name": f"{app}-{index}", "namespace": f"ml-{env}"},
            "data": {"model_version": version},
        }
        (rendered / f"configmap-{app}-{index}.yaml").write_text(
            yaml.safe_dump(obj), encoding="utf-8"
        )
    info = {
        "app": app,
        "environment": env,
        "namespace": f"ml-{env}",
        "chart": {"name": "model-server", "version": "0.3.0"},
        "values_digest": digest_of("values-" + env),
        "model_version": version,
        "model_digest": digest_of(version),
        "artifact": manifest["artifact"],
        "image": "registry.example.com/serving@" + digest_of("img"),
    }
    (rendered / "render-info.json").write_text(json.dumps(info), encoding="utf-8")
    return out / "model-manifest.json", rendered


def promote_args(
    env: str, manifest: Path, rendered: Path, *extra: str, json: bool = True
) -> list[str]:
    """`promote --env ENV --rendered DIR --manifest FILE [--json] EXTRA...` as CLI arguments."""
    args = ["promote", "--env", env, "--rendered", str(rendered), "--manifest", str(manifest)]
    return [*args, *(["--json"] if json else []), *extra]
