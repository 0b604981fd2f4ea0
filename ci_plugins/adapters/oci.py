"""Push a model to an OCI registry with the `oras` Python SDK; return its manifest digest.

Before pushing, one short request to /v2/ tells "unreachable" and "credentials refused"
apart quickly (oras itself retries for minutes with growing sleeps). Credentials come
from the caller (read from the environment), never from argv, and never appear in errors.
"""

from __future__ import annotations

import base64
import json
import logging
import tempfile
import urllib.error
import urllib.request
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from ci_plugins.errors import ExternalError, InputError
from ci_plugins.model.packaging import LAYER_MEDIA_TYPE, RegistryRef
from ci_plugins.redact import Secret, redact

PREFLIGHT_TIMEOUT = 10.0
UNPACK = "io.deis.oras.content.unpack"  # oras CLI: extract this layer as a directory
TITLE = "org.opencontainers.image.title"


@dataclass(frozen=True)
class Credentials:
    username: str
    password: Secret


@dataclass(frozen=True)
class Target:
    """Where to push and how to talk to the registry."""

    ref: RegistryRef
    plain_http: bool
    credentials: Credentials | None = None

    @property
    def base_url(self) -> str:
        return f"{'http' if self.plain_http else 'https'}://{self.ref.host}"


def push_artifact(
    target: Target,
    *,
    tag: str,
    tarball: Path,
    title: str,
    annotations: Mapping[str, str],
) -> str:
    """Push tarball as a one-layer OCI artifact tagged `tag`; return 'sha256:...'.

    Raises ExternalError (exit 3) when the registry is unreachable, refuses the
    credentials, or the push fails.
    """
    backend = check_access(target)
    import oras.client  # the package extra; imported only when pushing

    logging.getLogger("oras").setLevel(logging.ERROR)
    client = oras.client.OrasClient(insecure=target.plain_http, auth_backend=backend)
    if target.credentials is not None:
        client.auth.set_basic_auth(target.credentials.username, target.credentials.password.value)
    with tempfile.TemporaryDirectory(prefix="ci-plugins-oras-") as tmp:
        annotation_file = Path(tmp) / "annotations.json"
        layer = {TITLE: title, UNPACK: "true"}
        annotation_file.write_text(json.dumps({str(tarball): layer}), encoding="utf-8")
        try:
            response = client.push(
                target.ref.tagged(tag),
                files=[f"{tarball}:{LAYER_MEDIA_TYPE}"],
                annotation_file=str(annotation_file),
                manifest_annotations=dict(annotations),
                disable_path_validation=True,
                quiet=True,
            )
        except Exception as exc:  # oras raises ValueError, requests errors, its own
            raise ExternalError(
                f"pushing {target.ref.tagged(tag)} failed: {redact(str(exc)) or type(exc).__name__}"
            ) from None
    digest = response.headers.get("Docker-Content-Digest", "")
    if not digest.startswith("sha256:"):
        raise ExternalError(
            f"registry {target.ref.host} accepted the push but returned no manifest digest"
        )
    return str(digest)


def check_access(target: Target) -> str:
    """Ask GET /v2/ once; return the oras auth backend to use ('basic' or 'token').

    ExternalError when unreachable, or when a Basic-auth registry refuses our credentials;
    InputError (exit 2) when it asks for credentials and we have none.
    """
    status, challenge = _get_v2(target, with_credentials=False)
    scheme = challenge.split(" ", 1)[0].lower()
    if status == 401 and scheme == "basic":
        if target.credentials is None:
            # No credential at all is bad input (exit 2): retrying the job cannot help (#17).
            raise InputError(
                f"push denied: registry {target.ref.host} requires credentials and none were given",
                hint="set CI_PLUGINS_REGISTRY_USERNAME and CI_PLUGINS_REGISTRY_PASSWORD "
                "(as masked CI variables)",
            )
        status, _ = _get_v2(target, with_credentials=True)
        if status in (401, 403):
            raise ExternalError(
                f"push denied: registry {target.ref.host} refused the credentials of user "
                f"{target.credentials.username!r} (HTTP {status})",
                hint="check CI_PLUGINS_REGISTRY_USERNAME and CI_PLUGINS_REGISTRY_PASSWORD",
            )
        return "basic"
    if status >= 500:
        raise ExternalError(f"registry {target.ref.host} answered HTTP {status} on /v2/")
    return "token"


def _get_v2(target: Target, *, with_credentials: bool) -> tuple[int, str]:
    # base_url is always http(s)://<host>: no file: or custom schemes reach urlopen.
    request = urllib.request.Request(f"{target.base_url}/v2/", method="GET")  # noqa: S310
    if with_credentials and target.credentials is not None:
        pair = f"{target.credentials.username}:{target.credentials.password.value}"
        request.add_header("Authorization", "Basic " + base64.b64encode(pair.encode()).decode())
    try:
        with urllib.request.urlopen(request, timeout=PREFLIGHT_TIMEOUT) as response:  # noqa: S310
            return int(response.status), ""
    except urllib.error.HTTPError as exc:
        return int(exc.code), str(exc.headers.get("Www-Authenticate", ""))
    except (urllib.error.URLError, OSError) as exc:
        reason = getattr(exc, "reason", exc)
        raise ExternalError(
            f"registry {target.ref.host} is unreachable at {target.base_url}: {reason}",
            hint="check the registry address (package.registry / --registry) and that it "
            "serves " + ("plain HTTP (package.plain_http)" if target.plain_http else "HTTPS"),
        ) from None


def pull_artifact(target: Target, *, reference: str, outdir: Path) -> list[Path]:
    """Pull `reference` (a tag or sha256 digest of target.ref) into outdir; the files written.

    Layers annotated for unpacking (as push_artifact writes them) arrive as directories.
    Raises ExternalError (exit 3) when the registry is unreachable or lacks the artifact.
    """
    backend = check_access(target)
    import oras.client

    logging.getLogger("oras").setLevel(logging.ERROR)
    client = oras.client.OrasClient(insecure=target.plain_http, auth_backend=backend)
    if target.credentials is not None:
        client.auth.set_basic_auth(target.credentials.username, target.credentials.password.value)
    separator = "@" if reference.startswith("sha256:") else ":"
    name = f"{target.ref.name}{separator}{reference}"
    try:
        files = client.pull(target=name, outdir=str(outdir), overwrite=True)
    except Exception as exc:  # oras raises ValueError, requests errors, its own
        raise ExternalError(
            f"pulling {name} failed: {redact(str(exc)) or type(exc).__name__}"
        ) from None
    return [Path(f) for f in files]
