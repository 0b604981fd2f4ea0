"""LOCAL CLUSTER EMULATOR: the platform services `up` starts next to the API emulator.

A local OCI registry (Debian's `docker-registry`, plain HTTP) and a real Prometheus
(Debian's `prometheus`) that scrapes the pods every second through file-based service
discovery (`prometheus/targets.json`, written by the kubelet). Both listen on free
127.0.0.1 ports; each is stopped by its own pid.
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

REGISTRY = "docker-registry"
PROMETHEUS = "prometheus"


class PlatformError(Exception):
    """A platform service could not start (message says which and why)."""


@dataclass
class Service:
    name: str
    address: str  # host:port
    process: subprocess.Popen[bytes]

    def stop(self) -> None:
        if self.process.poll() is None:
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


def _binary(name: str) -> str:
    path = shutil.which(name) or (f"/usr/bin/{name}" if Path(f"/usr/bin/{name}").exists() else None)
    if path is None:
        raise PlatformError(
            f"{name} is not installed (Debian package {name}; scripts/install-tools)"
        )
    return path


def start_registry(root: Path, *, htpasswd: Path | None = None) -> Service:
    """docker-registry with storage under root/registry, plain HTTP on 127.0.0.1; with
    htpasswd (a bcrypt htpasswd file), basic auth for its users."""
    base = root / "registry"
    base.mkdir(parents=True, exist_ok=True)
    port = free_port()
    auth = (
        f"auth:\n  htpasswd:\n    realm: ci-plugins-local\n    path: {htpasswd}\n"
        if htpasswd
        else ""
    )
    config = base / "config.yml"
    config.write_text(
        "version: 0.1\nlog:\n  level: error\n  accesslog:\n    disabled: true\n"
        f"storage:\n  filesystem:\n    rootdirectory: {base / 'data'}\n"
        "  delete:\n    enabled: true\n"
        f"http:\n  addr: 127.0.0.1:{port}\n{auth}",
        encoding="utf-8",
    )
    service = _spawn(REGISTRY, [_binary(REGISTRY), "serve", str(config)], base, port)
    _wait_http(service, f"http://{service.address}/v2/", base / "registry.log")
    return service


def start_prometheus(root: Path) -> Service:
    """Prometheus scraping root/prometheus/targets.json every second (1 s file_sd refresh)."""
    base = root / "prometheus"
    base.mkdir(parents=True, exist_ok=True)
    targets = base / "targets.json"
    if not targets.exists():
        targets.write_text("[]", encoding="utf-8")
    port = free_port()
    config = base / "prometheus.yml"
    config.write_text(
        "global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\n  evaluation_interval: 1s\n"
        "scrape_configs:\n"
        "  - job_name: kubernetes-pods\n"
        "    file_sd_configs:\n"
        f"      - files: ['{targets}']\n"
        "        refresh_interval: 1s\n",
        encoding="utf-8",
    )
    argv = [
        _binary(PROMETHEUS),
        f"--config.file={config}",
        f"--storage.tsdb.path={base / 'data'}",
        f"--web.listen-address=127.0.0.1:{port}",
        "--storage.tsdb.retention.time=2h",
        "--log.level=warn",
    ]
    service = _spawn(PROMETHEUS, argv, base, port)
    _wait_http(service, f"http://{service.address}/-/ready", base / "prometheus.log")
    return service


def _spawn(name: str, argv: list[str], base: Path, port: int) -> Service:
    with (base / f"{name}.log").open("ab") as log:  # the child keeps its own descriptor
        process = subprocess.Popen(
            argv, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, cwd=base
        )
    return Service(name=name, address=f"127.0.0.1:{port}", process=process)


def _wait_http(service: Service, url: str, log: Path, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if service.process.poll() is not None:
            raise PlatformError(f"{service.name} exited: {log.read_text(errors='replace')[-800:]}")
        try:
            with urllib.request.urlopen(url, timeout=1):  # noqa: S310 (http://127.0.0.1 only)
                return
        except urllib.error.HTTPError:
            return
        except OSError:
            time.sleep(0.1)
    service.stop()
    raise PlatformError(f"{service.name} did not answer on {service.address} in {timeout:g}s")
