"""Build and push a serving image with the Docker SDK (package.method: image).

Needs a Docker engine (DOCKER_HOST, or the local socket). Without one, every call raises
ExternalError (exit 3) naming the address it tried. Returns the pushed image's digest.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from ci_plugins.adapters.oci import Credentials
from ci_plugins.errors import ExternalError
from ci_plugins.redact import redact

DEFAULT_SOCKET = "unix:///var/run/docker.sock"
ENGINE_TIMEOUT = 300


def engine_address(environ: Mapping[str, str] | None = None) -> str:
    """Where the Docker SDK looks for the engine: DOCKER_HOST, else the local socket."""
    env = os.environ if environ is None else environ
    return env.get("DOCKER_HOST") or DEFAULT_SOCKET


def build_and_push(
    context: Path, *, repository: str, tag: str, credentials: Credentials | None
) -> str:
    """Build context/Dockerfile as repository:tag, push it, return 'sha256:...' (exit 3
    when no engine is reachable, the build fails or the registry refuses the push)."""
    import docker  # the `image` extra; imported only for this method
    import docker.errors

    try:
        client = docker.from_env(timeout=ENGINE_TIMEOUT)
        client.ping()
    except docker.errors.DockerException as exc:
        raise ExternalError(
            f"no Docker engine reachable at {engine_address()}: {redact(str(exc))}",
            hint="package.method: image needs a Docker engine (set DOCKER_HOST); the "
            "default package.method: oci-artifact needs none",
        ) from None
    try:
        client.images.build(path=str(context), tag=f"{repository}:{tag}", rm=True, pull=True)
        auth = None
        if credentials is not None:
            auth = {"username": credentials.username, "password": credentials.password.value}
        events = client.images.push(repository, tag=tag, auth_config=auth, stream=True, decode=True)
        return _pushed_digest(events, f"{repository}:{tag}")
    except docker.errors.DockerException as exc:
        raise ExternalError(f"building or pushing {repository}:{tag} failed: {exc}") from None


def _pushed_digest(events: Iterable[Any], ref: str) -> str:
    """The digest from the push progress stream; ExternalError on an error event."""
    digest = ""
    for event in events:
        if "error" in event:
            raise ExternalError(f"pushing {ref} failed: {redact(str(event['error']))}")
        aux = event.get("aux") or {}
        digest = aux.get("Digest", digest)
    if not str(digest).startswith("sha256:"):
        raise ExternalError(f"pushing {ref} returned no image digest")
    return str(digest)
