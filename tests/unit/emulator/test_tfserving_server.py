"""The REST port of the emulated server: bound as TF Serving binds it, failures only logged."""

from __future__ import annotations

import socket
import subprocess
import sys
from pathlib import Path

import pytest
import requests
from ci_plugins_emulator.tfserving import flags
from ci_plugins_emulator.tfserving.server import ModelServer

from tests.support.registry import free_port


def server_for(tmp_path: Path, *args: str) -> ModelServer:
    config = tmp_path / "monitoring.config"
    config.write_text("prometheus_config { enable: true }")
    return ModelServer(
        flags.parse(
            [
                "--model_name=digits",
                f"--model_base_path={tmp_path}",
                f"--monitoring_config_file={config}",
                *args,
            ]
        )
    )


def test_the_rest_port_serves_the_api_and_the_metrics_page(tmp_path: Path) -> None:
    port = free_port()
    server = server_for(tmp_path, f"--rest_api_port={port}")
    server.start_rest()
    try:
        status = requests.get(f"http://127.0.0.1:{port}/v1/models/digits", timeout=10)
        assert (status.status_code, status.json()) == (
            404,
            {"error": "Could not find any versions of model digits"},
        )
        metrics = requests.get(f"http://127.0.0.1:{port}/monitoring/prometheus/metrics", timeout=10)
        assert metrics.status_code == 200
        assert 'request_count{model_name="digits",status="NOT_FOUND"} 1' in metrics.text
    finally:
        server.shutdown()


def test_a_rest_port_in_use_is_logged_and_the_server_keeps_running(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        server = server_for(tmp_path, f"--rest_api_port={port}")
        server.start_rest()
    assert server.rest is None
    assert f"Failed to start HTTP Server at localhost:{port}" in capsys.readouterr().err


def test_a_rest_port_equal_to_the_grpc_port_is_skipped_with_tf_servings_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    server = server_for(tmp_path, "--rest_api_port=8500", "--port=8500")
    server.start_rest()
    assert server.rest is None
    assert "http_port cannot be same as grpc_port" in capsys.readouterr().err


def test_the_server_imports_tensorflow_only_to_load_a_version() -> None:
    code = (
        "import sys, ci_plugins_emulator.tfserving.server as s; "
        "s.ModelServer(s.flags.parse(['--model_base_path=/nowhere'])); "
        "assert 'tensorflow' not in sys.modules, 'tensorflow imported'"
    )
    proc = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=False
    )
    assert proc.returncode == 0, proc.stderr
