"""What a worker pod does besides training: its TF_CONFIG, and the chief's push of its outputs.

The pod runs `ci-plugins train --worker`: the same step, the same `build(params)`, with
TF_CONFIG built here from the worker list the Job carries and the pod's completion index.
"""

from __future__ import annotations

import json
import tarfile
import tempfile
from collections.abc import Mapping
from pathlib import Path

from ci_plugins.adapters import oci
from ci_plugins.errors import InputError
from ci_plugins.model import packaging
from ci_plugins.training.kubernetes.render import ARTIFACT_VARIABLE, WORKERS_VARIABLE, tf_config

INDEX_VARIABLE = "JOB_COMPLETION_INDEX"
BUNDLE_TITLE = "train-output"


def tf_config_from(environ: Mapping[str, str]) -> str:
    """TF_CONFIG of this pod; InputError (exit 2, never retried) when the Job lacks its inputs."""
    raw_workers, raw_index = environ.get(WORKERS_VARIABLE), environ.get(INDEX_VARIABLE)
    if not raw_workers or raw_index is None:
        missing = WORKERS_VARIABLE if not raw_workers else INDEX_VARIABLE
        raise InputError(
            f"--worker needs {missing} (set by the Job that `ci-plugins train` creates)",
            hint="run train without --worker to train here or to launch the Job",
        )
    try:
        workers = json.loads(raw_workers)
        index = int(raw_index)
        if not isinstance(workers, list) or not all(isinstance(w, str) for w in workers):
            raise ValueError("not a list of addresses")
        return tf_config(workers, index)
    except ValueError as exc:
        raise InputError(f"{WORKERS_VARIABLE}/{INDEX_VARIABLE} are unusable: {exc}") from None


def artifact_of(environ: Mapping[str, str]) -> tuple[packaging.RegistryRef, str]:
    """(repository, tag) the chief pushes its outputs to."""
    raw = environ.get(ARTIFACT_VARIABLE, "")
    repository, _, tag = raw.rpartition(":")
    if not repository or "/" in tag:
        raise InputError(f"{ARTIFACT_VARIABLE}={raw!r} is not host[:port]/repository:tag")
    return packaging.parse_registry(repository), packaging.tag_for(tag)


def push_outputs(
    output: Path, target: oci.Target, *, tag: str, annotations: Mapping[str, str]
) -> str:
    """Push the chief's whole output directory as one OCI artifact; its manifest digest."""
    with tempfile.TemporaryDirectory(prefix="ci-plugins-train-push-") as tmp:
        tarball = Path(tmp) / f"{BUNDLE_TITLE}.tar.gz"
        with tarfile.open(tarball, "w:gz") as archive:
            archive.add(output, arcname=BUNDLE_TITLE, filter=_visible)
        return oci.push_artifact(
            target, tag=tag, tarball=tarball, title=BUNDLE_TITLE, annotations=annotations
        )


def _visible(member: tarfile.TarInfo) -> tarfile.TarInfo | None:
    """Leave out staging and temporary files (dot names)."""
    return None if any(part.startswith(".") for part in Path(member.name).parts) else member
