"""Render the chart for one environment: values layering, `helm template`, one file per object.

Values, lowest first: the chart's values.yaml < `chart.values` < the environment's `values`
< its traffic mode (`traffic.mode` from `rollout.traffic`) < computed values (model.* from
the model manifest: version, digest, source commit, OCI artifact; image.reference for a
serving image). Output is deterministic: same inputs, same
bytes (sorted keys, stable file names, no timestamps), and the output directory is
replaced as a whole, so a failed render leaves the previous one untouched.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shutil
import tempfile
from collections.abc import Iterator, Mapping
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import yaml

from ci_plugins import safe_read
from ci_plugins.adapters import helm
from ci_plugins.config.models import Config
from ci_plugins.config.names import CANDIDATE_TRACK, TRACK_LABEL, check_app, check_env
from ci_plugins.errors import InputError
from ci_plugins.model import packaging
from ci_plugins.model.manifest import ModelManifest
from ci_plugins.render import kube_schema
from ci_plugins.render.manifests import CLUSTER_SCOPED, RENDER_INFO, parse_objects

CHART_NAME = "model-server"


@dataclass(frozen=True)
class RenderInfo:
    """What was rendered (written as render-info.json beside the manifests)."""

    app: str
    environment: str
    namespace: str
    chart: Mapping[str, str]
    values_digest: str
    model_version: str
    model_digest: str
    artifact: str | None
    image: str | None
    files: tuple[str, ...]
    notes: tuple[str, ...] = ()  # for the log only (e.g. kinds without a schema)

    def as_json(self) -> dict[str, Any]:
        data = asdict(self)
        data.pop("notes")
        data["chart"] = dict(self.chart)
        data["files"] = list(self.files)
        return data


def shipped_chart() -> Path:
    """The chart that ships with ci-plugins (package data, or the source checkout's)."""
    package = Path(__file__).resolve().parent.parent
    for candidate in (
        package / "charts" / CHART_NAME,  # the wheel: charts/ is ci_plugins.charts' data
        package.parent / "charts" / CHART_NAME,  # a source checkout or editable install
    ):
        if (candidate / "Chart.yaml").is_file():
            return candidate
    raise InputError(
        "the chart shipped with ci-plugins is missing from this installation",
        hint="set chart.path in ci-plugins.yaml to your chart directory",
    )


def resolve_chart(config: Config, chart: Path | None = None) -> Path:
    """The chart directory to render: `chart`, else chart.path, else the shipped chart."""
    if chart is None and config.chart.path:
        chart = Path(config.chart.path)
    if chart is None:
        return shipped_chart()
    if not (chart / "Chart.yaml").is_file():
        what = "does not exist" if not chart.exists() else "has no Chart.yaml"
        raise InputError(
            f"chart path {chart} {what}",
            hint="chart.path in ci-plugins.yaml is relative to the working directory; "
            "remove it to use the chart shipped with ci-plugins",
        )
    return chart


def chart_metadata(chart: Path) -> dict[str, str]:
    """name and version from Chart.yaml (InputError when unreadable)."""
    text = safe_read.read_text(chart / "Chart.yaml") or ""
    try:
        data = safe_read.load(text)
    except safe_read.YAMLError as exc:
        raise InputError(f"cannot read {chart / 'Chart.yaml'}: {exc}") from None
    if not isinstance(data, dict) or not data.get("name") or not data.get("version"):
        raise InputError(f"{chart / 'Chart.yaml'} must name the chart and its version")
    return {"name": str(data["name"]), "version": str(data["version"])}


def computed_values(manifest: ModelManifest) -> dict[str, Any]:
    """The values ci-plugins sets from the model manifest (they win over every layer)."""
    model: dict[str, Any] = {
        "version": manifest.model_version,
        "digest": manifest.model_digest,
        "sourceCommit": manifest.source_commit,
    }
    values: dict[str, Any] = {"model": model}
    if manifest.artifact and manifest.artifact.startswith("oci://"):
        # The model comes from the artifact; any `image` recorded next to it (a release
        # record's serving image, on promotion) is the environment's business, not ours.
        model["artifact"] = manifest.artifact
    elif manifest.image:
        values["image"] = {"reference": manifest.image}  # a serving image with the model
    return values


def puller_defaults(config: Config, manifest: ModelManifest) -> dict[str, Any]:
    """The model puller talks plain HTTP where `package` pushed over plain HTTP: to a
    loopback registry, or with package.plain_http: true (the one rule of packaging)."""
    if not (manifest.artifact and manifest.artifact.startswith("oci://")):
        return {}
    plain = config.package.plain_http
    if plain is None:
        location = manifest.artifact.removeprefix("oci://").split("@", 1)[0]
        plain = packaging.parse_registry(location).loopback
    return {"modelPuller": {"plainHttp": True}} if plain else {}


def traffic_values(config: Config, env: str) -> dict[str, Any]:
    """The chart's traffic.mode from environments.<env>.rollout.traffic (one definition of
    how requests reach the tracks). replicas, the chart's default, sets nothing, so a chart
    of the user's own that knows no `traffic` value still renders."""
    mode = config.environment(env).rollout.traffic
    return {} if mode == "replicas" else {"traffic": {"mode": mode}}


def layered_values(config: Config, manifest: ModelManifest, env: str) -> dict[str, Any]:
    """puller defaults < chart.values < environments.<env>.values < the traffic mode <
    computed values (deep-merged maps)."""
    merged: dict[str, Any] = {}
    for layer in (
        puller_defaults(config, manifest),
        config.chart.values,
        config.environment(env).values,
        traffic_values(config, env),
        computed_values(manifest),
    ):
        merged = deep_merge(merged, layer)
    return merged


def deep_merge(base: Mapping[str, Any], override: Mapping[str, Any]) -> dict[str, Any]:
    """Maps merge key by key; anything else (lists, scalars, null) replaces, as in Helm."""
    result = dict(base)
    for key, value in override.items():
        if isinstance(value, Mapping) and isinstance(result.get(key), Mapping):
            result[key] = deep_merge(result[key], value)
        else:
            result[key] = value
    return result


def canonical_json(data: Any) -> str:
    return json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def render(
    config: Config,
    manifest: ModelManifest,
    env: str,
    output_dir: Path,
    *,
    chart: Path | None = None,
    overrides: Mapping[str, Any] | None = None,
) -> RenderInfo:
    """Render the chart for env into output_dir (replaced as a whole) and describe it.

    `overrides` are values merged over every layer (a canary's second track and its
    replica split: ci_plugins.rollout.tracks).

    Raises InputError (exit 2) for bad names, an unknown environment, a manifest of
    another app, a missing chart or values the chart's schema rejects; ExternalError
    (exit 3) when helm is missing or fails.
    """
    app = check_app(config.app)
    check_env(env)
    environment = config.environment(env)
    if manifest.app != app:
        raise InputError(
            f"model manifest is for app {manifest.app!r}, but ci-plugins.yaml says app {app!r}",
            hint="a model is never promoted under another app's name",
        )
    chart_dir = resolve_chart(config, chart)
    meta = chart_metadata(chart_dir)
    namespace = environment.namespace or env
    values = deep_merge(layered_values(config, manifest, env), overrides or {})
    _check_output_dir(output_dir)
    with tempfile.TemporaryDirectory(prefix="ci-plugins-values-") as tmp:
        values_file = Path(tmp) / "values.json"
        values_file.write_text(canonical_json(values), encoding="utf-8")
        stream = helm.template(
            chart_dir,
            release=app,
            namespace=namespace,
            values=[values_file],
            timeout=config.chart.timeout,
        )
    documents = split_objects(stream, namespace=namespace)
    version = kube_schema.resolve_version(config.render.kubernetes_version)
    checked = kube_schema.require_valid(
        documents, version=version, where=f"the chart rendered for {env}"
    )
    image = _serving_image(documents)
    info = RenderInfo(
        app=app,
        environment=env,
        namespace=namespace,
        chart=meta,
        values_digest="sha256:" + hashlib.sha256(canonical_json(values).encode()).hexdigest(),
        model_version=manifest.model_version,
        model_digest=manifest.model_digest,
        artifact=manifest.artifact,
        image=image,
        files=tuple(sorted(documents)),
        notes=tuple(note for note in [kube_schema.skipped_note(checked)] if note),
    )
    files = {name: dump_object(obj) for name, obj in documents.items()}
    files[RENDER_INFO] = json.dumps(info.as_json(), indent=2, sort_keys=True) + "\n"
    replace_dir(output_dir, files)
    return info


def split_objects(stream: str, *, namespace: str) -> dict[str, dict[str, Any]]:
    """One entry per Kubernetes object: '<kind>-<name>.yaml' (lower case) -> object.

    InputError (exit 2) when the chart renders something that is not an object, or a
    name that cannot be one file name (`fullnameOverride: a/b`).
    """
    objects: dict[str, dict[str, Any]] = {}
    if not stream.strip():
        return objects
    for obj in parse_objects(stream, file="the chart's output (helm template)"):
        metadata = obj["metadata"]
        if obj["kind"] not in CLUSTER_SCOPED:
            metadata.setdefault("namespace", namespace)
        base = f"{obj['kind']}-{metadata['name']}".lower()
        name, count = f"{base}.yaml", 1
        while name in objects:
            count += 1
            name = f"{base}-{count}.yaml"
        objects[name] = obj
    return objects


def dump_object(obj: Mapping[str, Any]) -> str:
    """Stable YAML for one object: sorted keys, block style, a document marker."""
    body = yaml.safe_dump(dict(obj), sort_keys=True, default_flow_style=False, width=1000)
    return "---\n" + body


def replace_dir(target: Path, files: Mapping[str, str]) -> None:
    """Write files into a fresh directory beside target, then swap it into place."""
    target = target.absolute()
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{target.name}.new-", dir=target.parent))
    try:
        for name, text in files.items():
            (staging / name).write_text(text, encoding="utf-8")
        staging.chmod(0o755)
        with _moved_aside(target):
            os.replace(staging, target)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise


@contextlib.contextmanager
def _moved_aside(target: Path) -> Iterator[None]:
    """Move an existing target out of the way; put it back if the swap fails."""
    if not target.exists():
        yield
        return
    old = Path(tempfile.mkdtemp(prefix=f".{target.name}.old-", dir=target.parent))
    os.replace(target, old / "previous")
    try:
        yield
    except BaseException:
        os.replace(old / "previous", target)
        shutil.rmtree(old, ignore_errors=True)
        raise
    shutil.rmtree(old, ignore_errors=True)


def _check_output_dir(output_dir: Path) -> None:
    """Refuse to replace a directory that is not a previous render (e.g. the project)."""
    if not output_dir.exists():
        return
    if not output_dir.is_dir():
        raise InputError(f"--output-dir {output_dir} exists and is not a directory")
    if any(output_dir.iterdir()) and not (output_dir / RENDER_INFO).is_file():
        raise InputError(
            f"refusing to replace {output_dir}: it is not empty and holds no {RENDER_INFO} "
            "(it is not the output of an earlier render)",
            hint="pass a new or empty directory, e.g. --output-dir rendered/<env>",
        )


def _serving_image(objects: Mapping[str, Mapping[str, Any]]) -> str | None:
    """The serving container's image of the stable Deployment (candidate tracks skipped)."""
    for name in sorted(objects):
        obj = objects[name]
        labels = obj.get("metadata", {}).get("labels") or {}
        if obj.get("kind") != "Deployment" or labels.get(TRACK_LABEL) == CANDIDATE_TRACK:
            continue
        containers = obj.get("spec", {}).get("template", {}).get("spec", {}).get("containers")
        if containers:
            image = containers[0].get("image")
            return str(image) if image else None
    return None
