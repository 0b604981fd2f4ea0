"""LOCAL CLUSTER EMULATOR: which images the kubelet can run, and as what local process.

A real node pulls an image and runs its entrypoint. Here three kinds of image run as
processes of this machine; every other image fails to pull (ErrImagePull, then
ImagePullBackOff), as it would on a node whose registry does not have it:

- `tensorflow/serving` (any tag or digest): the TensorFlow-Serving-compatible server
  `python -m ci_plugins_emulator.tfserving` with the container's args;
- `ghcr.io/oras-project/oras`: `python -m ci_plugins_emulator.orascli` with the container's
  args (`pull REF --output DIR`), which really pulls from the registry;
- `--run-image IMAGE=DIR` images: their own command and args, run in DIR.
"""

from __future__ import annotations

import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

TF_SERVING = "tensorflow/serving"
ORAS = "ghcr.io/oras-project/oras"
DOCKER_HUB = ("docker.io/", "index.docker.io/", "registry-1.docker.io/", "docker.io/library/")


@dataclass(frozen=True)
class Runnable:
    """How a container of a known image runs here: argv prefix (None: the container's
    own command) and the working directory (None: the pod's directory)."""

    entrypoint: tuple[str, ...] | None
    cwd: Path | None = None
    serving: bool = False  # tensorflow/serving: without a command, its ENTRYPOINT's flags


def repository_of(image: str) -> str:
    """`docker.io/tensorflow/serving:2.14@sha256:..` -> `tensorflow/serving`."""
    name = image.split("@", 1)[0]
    last = name.rsplit("/", 1)[-1]
    if ":" in last:
        name = name[: len(name) - len(last)] + last.split(":", 1)[0]
    for prefix in DOCKER_HUB:
        if name.startswith(prefix):
            return name[len(prefix) :]
    return name


def valid_reference(image: str) -> bool:
    """False for what a kubelet rejects as InvalidImageName (empty, spaces, upper case repo)."""
    repo = image.split("@", 1)[0]
    return bool(repo) and repo == repo.strip() and " " not in repo and repo.lower() == repo


def resolve(image: str, run_images: Mapping[str, Path]) -> Runnable | None:
    """How to run image here, or None when no registry of this machine has it."""
    repo = repository_of(image)
    for known, directory in run_images.items():
        if image == known or repo == repository_of(known):
            return Runnable(entrypoint=None, cwd=directory)
    if repo == TF_SERVING:
        return Runnable(
            entrypoint=(sys.executable, "-m", "ci_plugins_emulator.tfserving"), serving=True
        )
    if repo == ORAS:
        return Runnable(entrypoint=(sys.executable, "-m", "ci_plugins_emulator.orascli"))
    return None


def argv_for(runnable: Runnable, command: Sequence[str], args: Sequence[str]) -> list[str]:
    """The process argv: a known image's entrypoint replaces the image's own command
    (`tensorflow_model_server`, `oras`); a run-image runs the container's command."""
    if runnable.entrypoint is not None:
        return [*runnable.entrypoint, *args]
    return [*command, *args]


def parse_run_image(spec: str) -> tuple[str, Path]:
    """`IMAGE=DIR` -> (IMAGE, DIR); ValueError with the reason otherwise."""
    image, sep, directory = spec.partition("=")
    if not sep or not image or not directory:
        raise ValueError(f"--run-image {spec!r}: expected IMAGE=DIR")
    path = Path(directory).resolve()
    if not path.is_dir():
        raise ValueError(f"--run-image {spec!r}: {path} is not a directory")
    return image, path
