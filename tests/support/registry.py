"""A real OCI registry for tests: Debian's docker-registry (distribution 2.8) on 127.0.0.1.

`start_registry(tmp)` is the local platform's registry (the emulator's
`localplatform.start_registry`: a free port, a config, `docker-registry serve`, waiting
until /v2/ answers), with an htpasswd file of bcrypt hashes when users are given;
`stop()` ends that one process (by its pid) and nothing else.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import bcrypt
from ci_plugins_emulator import localplatform
from ci_plugins_emulator.localplatform import free_port

__all__ = ["Registry", "free_port", "start_registry"]


@dataclass
class Registry:
    host: str
    service: localplatform.Service
    root: Path

    def repository(self, path: str) -> str:
        return f"{self.host}/{path}"

    def stop(self) -> None:
        self.service.stop()


def start_registry(root: Path, *, users: Mapping[str, str] | None = None) -> Registry:
    """Start docker-registry on a free 127.0.0.1 port with storage under root."""
    root.mkdir(parents=True, exist_ok=True)
    htpasswd = None
    if users:
        lines = [
            f"{name}:{bcrypt.hashpw(pw.encode(), bcrypt.gensalt(rounds=4)).decode()}"
            for name, pw in users.items()
        ]
        htpasswd = root / "htpasswd"
        htpasswd.write_text("\n".join(lines) + "\n", encoding="utf-8")
    service = localplatform.start_registry(root, htpasswd=htpasswd)
    return Registry(host=service.address, service=service, root=root)
