"""The load's cluster credentials never reach hey's command line (visible in `ps`): real
kubectl proxy and real hey against a local HTTPS server standing in for the API server
(a self-signed certificate made by openssl), which records the Authorization header each
request arrives with. (kubectl adds a token only over TLS, as to a real API server.)"""

from __future__ import annotations

import base64
import ssl
import subprocess
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import ClassVar

import pytest
import yaml

from ci_plugins.adapters import hey, kubectl
from tests.support.registry import free_port

TOKEN = "s3cret-token-4c1d"


class Recorder(BaseHTTPRequestHandler):
    seen: ClassVar[list[str]] = []

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        Recorder.seen.append(self.headers.get("Authorization") or "")
        body = b'{"predictions": [[1.0]]}'
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def certificate(tmp_path: Path) -> tuple[Path, Path]:
    cert, key = tmp_path / "server.crt", tmp_path / "server.key"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
         "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1",
         "-keyout", str(key), "-out", str(cert)],
        check=True, capture_output=True, timeout=60,
    )  # fmt: skip
    return cert, key


@pytest.fixture
def api_server(certificate: tuple[Path, Path]) -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", free_port()), Recorder)
    tls = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    tls.load_cert_chain(*certificate)
    server.socket = tls.wrap_socket(server.socket, server_side=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"https://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def kubeconfig(path: Path, server: str, ca: Path) -> Path:
    authority = base64.b64encode(ca.read_bytes()).decode()
    cluster = {"server": server, "certificate-authority-data": authority}
    path.write_text(
        yaml.safe_dump(
            {
                "apiVersion": "v1",
                "kind": "Config",
                "clusters": [{"name": "c", "cluster": cluster}],
                "users": [{"name": "u", "user": {"token": TOKEN}}],
                "contexts": [{"name": "x", "context": {"cluster": "c", "user": "u"}}],
                "current-context": "x",
            }
        ),
        encoding="utf-8",
    )
    return path


def command_lines() -> list[str]:
    lines = []
    for cmdline in Path("/proc").glob("[0-9]*/cmdline"):
        try:
            lines.append(cmdline.read_bytes().replace(b"\0", b" ").decode(errors="replace"))
        except OSError:
            continue  # the process ended meanwhile
    return lines


def test_the_token_goes_through_kubectl_proxy_and_never_into_a_command_line(
    tmp_path: Path, api_server: str, certificate: tuple[Path, Path]
) -> None:
    config = kubeconfig(tmp_path / "kubeconfig", api_server, certificate[0])
    path = "/api/v1/namespaces/ml/services/digits:8501/proxy/v1/models/digits:predict"
    results: list[hey.LoadResult] = []
    with kubectl.proxy(config) as base:
        assert base.startswith("http://127.0.0.1:")
        load = threading.Thread(
            target=lambda: results.append(
                hey.run_load(base + path, ['{"instances": [[0]]}'], rate=10, duration=2,
                             warmup=0, timeout=5)
            )
        )  # fmt: skip
        load.start()
        leaked = []
        while load.is_alive():
            leaked += [line for line in command_lines() if TOKEN in line]
            load.join(timeout=0.1)
    assert leaked == []
    assert results[0].answered > 0
    assert set(Recorder.seen) == {f"Bearer {TOKEN}"}


def test_hey_refuses_credentials_in_its_arguments() -> None:
    with pytest.raises(ValueError, match="hey shows its headers in ps"):
        hey.run_load(
            "http://127.0.0.1:9/",
            ["{}"],
            rate=1,
            duration=1,
            warmup=0,
            timeout=1,
            headers={"Authorization": f"Bearer {TOKEN}"},
        )
