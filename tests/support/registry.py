"""A real OCI registry for tests: Debian's docker-registry (distribution 2.8) on 127.0.0.1.

`start_registry(tmp)` picks a free port, writes a config (and an htpasswd file when
users are given), starts `docker-registry serve` and waits until /v2/ answers; `stop()`
ends that one process (by its pid) and nothing else.
"""

from __future__ import annotations

import socket
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import bcrypt

REGISTRY_BINARY = Path("/usr/bin/docker-registry")


@dataclass
class Registry:
    host: str
    process: subprocess.Popen[bytes]
    root: Path

    def repository(self, path: str) -> str:
        return f"{self.host}/{path}"

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=10)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def start_registry(root: Path, *, users: Mapping[str, str] | None = None) -> Registry:
    """Start docker-registry on a free 127.0.0.1 port with storage under root."""
    if not REGISTRY_BINARY.exists():
        raise RuntimeError(f"{REGISTRY_BINARY} is missing: run scripts/install-tools")
    root.mkdir(parents=True, exist_ok=True)
    port = free_port()
    auth = ""
    if users:
        lines = [
            f"{name}:{bcrypt.hashpw(pw.encode(), bcrypt.gensalt(rounds=4)).decode()}"
            for name, pw in users.items()
        ]
        (root / "htpasswd").write_text("\n".join(lines) + "\n", encoding="utf-8")
        auth = f"auth:\n  htpasswd:\n    realm: ci-plugins-tests\n    path: {root / 'htpasswd'}\n"
    config = root / "config.yml"
    config.write_text(
        "version: 0.1\nlog:\n  level: error\n  accesslog:\n    disabled: true\n"
        f"storage:\n  filesystem:\n    rootdirectory: {root / 'data'}\n"
        f"http:\n  addr: 127.0.0.1:{port}\n{auth}",
        encoding="utf-8",
    )
    with (root / "registry.log").open("wb") as log:  # the child keeps its own descriptor
        process = subprocess.Popen(
            [str(REGISTRY_BINARY), "serve", str(config)], stdout=log, stderr=subprocess.STDOUT
        )
    registry = Registry(host=f"127.0.0.1:{port}", process=process, root=root)
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError((root / "registry.log").read_text(encoding="utf-8"))
        try:
            with urllib.request.urlopen(f"http://{registry.host}/v2/", timeout=1):
                return registry
        except urllib.error.HTTPError:
            return registry  # 401: up, and asking for credentials
        except OSError:
            time.sleep(0.05)
    registry.stop()
    raise RuntimeError(f"docker-registry did not start on {registry.host}")
