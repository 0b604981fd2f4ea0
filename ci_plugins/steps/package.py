"""Push the model as an OCI artifact pinned by digest.

The pushed reference is recorded in the model manifest.

package.method oci-artifact (default, no Docker needed): the SavedModel directory goes to
the registry as a one-layer OCI artifact (tagged with the model version) and
model-manifest.json gains "artifact": "oci://<repository>@sha256:...". The chart pulls it
in an init container. package.method image: a TensorFlow Serving image with the model
copied in is built and pushed with the Docker SDK; the manifest gains "image" (and
"artifact") as "<repository>@sha256:...". Credentials: CI_PLUGINS_REGISTRY_USERNAME and
CI_PLUGINS_REGISTRY_PASSWORD.
"""

from __future__ import annotations

import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

from ci_plugins.adapters import oci
from ci_plugins.config.models import PackageConfig
from ci_plugins.errors import InputError
from ci_plugins.model import packaging
from ci_plugins.model.manifest import ModelManifest, read_manifest
from ci_plugins.redact import Secret
from ci_plugins.step import Flags, StepContext, StepResult

USERNAME_VARIABLE = "CI_PLUGINS_REGISTRY_USERNAME"
PASSWORD_VARIABLE = "CI_PLUGINS_REGISTRY_PASSWORD"  # noqa: S105 (a variable name)


@dataclass(frozen=True)
class Options:
    model_dir: Path
    manifest: Path
    registry: str | None = None


def run(ctx: StepContext, options: Options) -> StepResult:
    """Publish the model, then rewrite the manifest with its pinned reference."""
    config = ctx.optional_config()
    settings = config.package if config else PackageConfig()
    manifest = read_manifest(options.manifest, app=config.app if config else None)
    packaging.check_model_files(options.model_dir, manifest)
    registry = options.registry or settings.registry
    if not registry:
        raise InputError(
            "no registry to push the model to",
            hint="pass --registry host/path (or CI_PLUGINS_REGISTRY), or set package.registry",
        )
    ref = packaging.parse_registry(registry)
    plain_http = settings.plain_http if settings.plain_http is not None else ref.loopback
    target = oci.Target(ref=ref, plain_http=plain_http, credentials=_credentials(ctx))
    tag = packaging.tag_for(manifest.model_version)
    with ctx.out.group(f"package {manifest.app} {manifest.model_version} ({settings.method})"):
        if settings.method == "image":
            updated = _push_image(ctx, settings, target, manifest, options.model_dir, tag)
        else:
            updated = _push_artifact(ctx, target, manifest, options.model_dir, tag)
    packaging.write_manifest_atomically(options.manifest, updated)
    reference = updated.artifact or ""
    return StepResult.passed(
        f"pushed {manifest.app} {manifest.model_version} as {reference}",
        data={"artifact": reference, "image": updated.image, "method": settings.method},
        outputs={"artifact": reference, **({"image": updated.image} if updated.image else {})},
    )


def _push_artifact(
    ctx: StepContext, target: oci.Target, manifest: ModelManifest, model_dir: Path, tag: str
) -> ModelManifest:
    ctx.out.info(f"pushing {model_dir} to {target.ref.tagged(tag)} (oras)")
    with tempfile.TemporaryDirectory(prefix="ci-plugins-package-") as tmp:
        tarball = packaging.model_tarball(
            model_dir, Path(tmp) / "model.tar.gz", version=manifest.model_version
        )
        digest = oci.push_artifact(
            target,
            tag=tag,
            tarball=tarball,
            title=packaging.ARTIFACT_DIR,
            annotations=_annotations(manifest),
        )
    artifact = "oci://" + target.ref.pinned(digest)
    ctx.out.info(f"artifact: {artifact}")
    return manifest.model_copy(update={"artifact": artifact})


def _push_image(
    ctx: StepContext,
    settings: PackageConfig,
    target: oci.Target,
    manifest: ModelManifest,
    model_dir: Path,
    tag: str,
) -> ModelManifest:
    from ci_plugins.adapters import docker_engine

    with tempfile.TemporaryDirectory(prefix="ci-plugins-image-") as tmp:
        text = packaging.dockerfile(base_image=settings.base_image, manifest=manifest)
        context = packaging.write_build_context(
            model_dir, Path(tmp), dockerfile_text=text, version=manifest.model_version
        )
        ctx.out.info(f"building {target.ref.tagged(tag)} FROM {settings.base_image}")
        digest = docker_engine.build_and_push(
            context, repository=target.ref.name, tag=tag, credentials=target.credentials
        )
    image = target.ref.pinned(digest)
    ctx.out.info(f"image: {image}")
    return manifest.model_copy(update={"artifact": image, "image": image})


def _credentials(ctx: StepContext) -> oci.Credentials | None:
    username = os.environ.get(USERNAME_VARIABLE, "")
    password = os.environ.get(PASSWORD_VARIABLE, "")
    ctx.out.mask(password)
    if not username and not password:
        return None
    if not username or not password:
        missing = USERNAME_VARIABLE if not username else PASSWORD_VARIABLE
        raise InputError(f"registry credentials are incomplete: {missing} is not set")
    return oci.Credentials(username=username, password=Secret(password))


def _annotations(manifest: ModelManifest) -> dict[str, str]:
    """Manifest annotations: identity only, no timestamps (same model, same digest)."""
    annotations = {
        "org.opencontainers.image.title": manifest.app,
        "dev.ci-plugins.model-version": manifest.model_version,
        "dev.ci-plugins.model-digest": manifest.model_digest,
    }
    if manifest.source_commit:
        annotations["org.opencontainers.image.revision"] = manifest.source_commit
    return annotations


def arguments(p: Flags) -> None:
    """The command's flags (each also read from CI_PLUGINS_<FLAG>)."""
    p.flag("--model-dir", type=Path, metavar="DIR", required=True, help="model/ from train")
    p.flag("--manifest", type=Path, metavar="FILE", required=True, help="model-manifest.json")
    p.flag("--registry", metavar="REF", help="OCI repository to push to")
