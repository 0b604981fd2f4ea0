"""Model packaging without outside systems: references, tarballs, Dockerfiles, manifests.

The pieces `ci-plugins package` needs before it talks to a registry or a Docker engine,
kept pure so that they are tested directly: where to push, a reproducible tarball of the
SavedModel (same files, same bytes, same digest), the serving image's build context,
and the atomic rewrite of model-manifest.json.
"""

from __future__ import annotations

import gzip
import io
import os
import re
import tarfile
import tempfile
from dataclasses import dataclass
from pathlib import Path

from ci_plugins.errors import InputError
from ci_plugins.model.digest import directory_digest
from ci_plugins.model.manifest import ModelManifest, write_manifest

# The directory name inside the artifact: the chart's TF Serving reads /models/model.
ARTIFACT_DIR = "model"
LAYER_MEDIA_TYPE = "application/vnd.oci.image.layer.v1.tar+gzip"
LOOPBACK_HOSTS = ("localhost", "127.0.0.1", "[::1]")
_TAG = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9._-]{0,127}$")
_COMPONENT = r"[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*"
_REPOSITORY = re.compile(rf"^{_COMPONENT}(?:/{_COMPONENT})*$")


@dataclass(frozen=True)
class RegistryRef:
    """host[:port]/repository, where a model is pushed (the tag is the model version)."""

    host: str
    repository: str

    @property
    def name(self) -> str:
        return f"{self.host}/{self.repository}"

    def tagged(self, tag: str) -> str:
        return f"{self.name}:{tag}"

    def pinned(self, digest: str) -> str:
        return f"{self.name}@{digest}"

    @property
    def loopback(self) -> bool:
        return self.host.rsplit(":", 1)[0] in LOOPBACK_HOSTS or self.host.startswith("[::1]")


_HOSTNAME = re.compile(
    r"^[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?)*$"
)


def parse_registry(ref: str) -> RegistryRef:
    """Parse 'host[:port]/path' (an 'oci://' prefix is allowed); InputError otherwise."""
    text = ref.strip().removeprefix("oci://").rstrip("/")
    host, _, repository = text.partition("/")
    problem = None
    if "@" in text:
        problem = "name a repository, not a digest (the digest is what package records)"
    elif not repository or ("." not in host and ":" not in host and host != "localhost"):
        problem = "expected host[:port]/repository, e.g. registry.example.com/ml/digits"
    elif _host_problem(host):
        problem = _host_problem(host)
    elif ":" in repository:
        problem = "leave the tag out: package tags the artifact with the model version"
    elif not _REPOSITORY.match(repository):
        problem = "the repository path must be lower-case letters, digits, '.', '_', '-', '/'"
    if problem:
        raise InputError(f"invalid registry reference {ref!r}: {problem}")
    return RegistryRef(host=host, repository=repository)


def _host_problem(host: str) -> str | None:
    """Why host[:port] cannot be a registry address, or None."""
    name, colon, port = host.rpartition(":") if ":" in host else (host, "", "")
    if not (_HOSTNAME.match(name) or re.fullmatch(r"\[[0-9A-Fa-f:.]+\]", name)):
        return f"{name!r} is not a host name"
    if colon and not (port.isdigit() and 1 <= int(port) <= 65535):
        return f"port {port!r} is not a number from 1 to 65535"
    return None


def tag_for(version: str) -> str:
    """The OCI tag for a model version (InputError when it cannot be one)."""
    if not _TAG.match(version):
        raise InputError(f"model version {version!r} cannot be an OCI tag")
    return version


def check_model_dir(model_dir: Path) -> list[Path]:
    """The SavedModel files under model_dir (<version>/saved_model.pb); InputError if none."""
    if not model_dir.is_dir():
        raise InputError(
            f"model directory {model_dir} does not exist",
            hint="pass the model/ directory that `ci-plugins train` wrote",
        )
    found = sorted(model_dir.glob("*/saved_model.pb"))
    if not found:
        raise InputError(
            f"{model_dir} holds no SavedModel: expected {model_dir}/<version>/saved_model.pb",
            hint="TensorFlow Serving loads numbered version directories",
        )
    return found


def check_model_files(model_dir: Path, manifest: ModelManifest) -> Path:
    """model_dir/<model_version>, whose files must hash to the manifest's model_digest
    (the digest train recorded); InputError (exit 2) otherwise."""
    check_model_dir(model_dir)
    version_dir = model_dir / manifest.model_version
    if not (version_dir / "saved_model.pb").is_file():
        raise InputError(
            f"{model_dir} holds no version {manifest.model_version} of the model "
            f"(expected {version_dir}/saved_model.pb)",
            hint="pass the model/ directory written by the train run that wrote the manifest",
        )
    actual = directory_digest(version_dir)
    if actual != manifest.model_digest:
        raise InputError(
            f"the files in {version_dir} do not match the model manifest: it records "
            f"model_digest {manifest.model_digest}, the files hash to {actual}",
            hint="package the model/ directory written by the train run that wrote the manifest",
        )
    return version_dir


def model_tarball(model_dir: Path, destination: Path, *, version: str | None = None) -> Path:
    """A gzip tarball of model_dir (only <version>/ when given) under `model/`,
    byte-identical for identical files."""
    root = model_dir / version if version else model_dir
    prefix = f"{ARTIFACT_DIR}/{version}" if version else ARTIFACT_DIR
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w", format=tarfile.PAX_FORMAT) as tar:
        tar.addfile(_entry(ARTIFACT_DIR, directory=True))
        if version:
            tar.addfile(_entry(prefix, directory=True))
        for path in sorted(root.rglob("*")):
            if path.is_symlink():
                raise InputError(f"{path} is a symbolic link; a model must hold real files")
            name = f"{prefix}/{path.relative_to(root).as_posix()}"
            if path.is_dir():
                tar.addfile(_entry(name, directory=True))
            else:
                data = path.read_bytes()
                tar.addfile(_entry(name, size=len(data)), io.BytesIO(data))
    with (
        destination.open("wb") as raw,
        gzip.GzipFile(filename="", mode="wb", fileobj=raw, mtime=0) as gz,
    ):
        gz.write(buffer.getvalue())
    return destination


def _entry(name: str, *, directory: bool = False, size: int = 0) -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.type = tarfile.DIRTYPE if directory else tarfile.REGTYPE
    info.mode = 0o755 if directory else 0o644
    info.size = size
    info.mtime = 0
    info.uid = info.gid = 0
    info.uname = info.gname = ""
    return info


def dockerfile(*, base_image: str, manifest: ModelManifest) -> str:
    """The serving image's Dockerfile: TensorFlow Serving with the model copied in."""
    labels = {
        "org.opencontainers.image.title": manifest.app,
        "org.opencontainers.image.revision": manifest.source_commit,
        "dev.ci-plugins.model-version": manifest.model_version,
        "dev.ci-plugins.model-digest": manifest.model_digest,
    }
    label_lines = " \\\n      ".join(f'{key}="{value}"' for key, value in labels.items())
    return (
        f"FROM {base_image}\n"
        f"LABEL {label_lines}\n"
        f"COPY {ARTIFACT_DIR}/ /models/{ARTIFACT_DIR}/\n"
        f"ENV MODEL_NAME={manifest.app} MODEL_BASE_PATH=/models\n"
        "USER 1000:1000\n"
    )


def write_build_context(
    model_dir: Path, context: Path, *, dockerfile_text: str, version: str | None = None
) -> Path:
    """Lay out a Docker build context: Dockerfile plus model/ (copied as in the tarball)."""
    (context / "Dockerfile").write_text(dockerfile_text, encoding="utf-8")
    tarball = model_tarball(model_dir, context / "model.tar.gz", version=version)
    with tarfile.open(tarball) as tar:
        tar.extractall(context, filter="data")
    (context / "model.tar.gz").unlink()
    (context / ".dockerignore").write_text("*\n!Dockerfile\n!model/\n", encoding="utf-8")
    return context


def write_manifest_atomically(path: Path, manifest: ModelManifest) -> None:
    """Rewrite model-manifest.json through a temp file in the same directory + rename."""
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    os.close(fd)
    try:
        write_manifest(Path(tmp), manifest)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
