"""Two real TF-Serving-compatible servers (stable and candidate track) on a tiny
SavedModel, and a real Prometheus scraping both every second with the labels the
cluster's pod discovery gives (namespace, pod, app_kubernetes_io_instance and, for the
candidate, ci_plugins_dev_track)."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import requests

from tests.support.cli import clean_env
from tests.support.models import GOLDEN_INPUTS, tiny_savedmodel
from tests.support.registry import free_port

NAMESPACE = "ml-staging"
APP = "digits"
METRICS_PATH = "/monitoring/prometheus/metrics"
MONITORING = f'prometheus_config {{\n  enable: true,\n  path: "{METRICS_PATH}"\n}}\n'
START_TIMEOUT = 300  # first TensorFlow import on a busy 2-core machine
GOOD_BODY = json.dumps({"instances": GOLDEN_INPUTS})
WRONG_SHAPE_BODY = '{"instances": [[0.0, 1.0, 2.0]]}'  # 3 features, the model takes 64


@dataclass
class Serving:
    track: str
    port: int
    process: subprocess.Popen[bytes]

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def predict_url(self) -> str:
        return f"{self.url}/v1/models/{APP}:predict"


@dataclass
class Live:
    stable: Serving
    candidate: Serving
    prometheus: str


def _start_serving(root: Path, track: str, model: Path) -> Serving:
    logs = root / track
    logs.mkdir(parents=True)
    monitoring = logs / "monitoring.config"
    monitoring.write_text(MONITORING, encoding="utf-8")
    port = free_port()
    with (logs / "log").open("wb") as log:
        process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "ci_plugins_emulator.tfserving",
                f"--rest_api_port={port}",
                f"--model_name={APP}",
                f"--model_base_path={model}",
                f"--monitoring_config_file={monitoring}",
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
            env=clean_env({"TF_CPP_MIN_LOG_LEVEL": "3", "CUDA_VISIBLE_DEVICES": ""}),
        )
    return Serving(track, port, process)


def _wait_available(serving: Serving, root: Path) -> None:
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        if serving.process.poll() is not None:
            log = (root / serving.track / "log").read_text(errors="replace")
            raise AssertionError(f"{serving.track} server exited:\n{log[-2000:]}")
        try:
            body = requests.get(f"{serving.url}/v1/models/{APP}", timeout=2).json()
            states = [v.get("state") for v in body.get("model_version_status", [])]
            if "AVAILABLE" in states:
                return
        except (requests.RequestException, ValueError):
            pass
        time.sleep(0.5)
    raise AssertionError(f"{serving.track} server not AVAILABLE after {START_TIMEOUT}s")


def _prometheus_config(stable: Serving, candidate: Serving) -> str:
    common = f"namespace: {NAMESPACE}, app_kubernetes_io_instance: {APP}"
    return (
        "global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\n"
        "scrape_configs:\n"
        "  - job_name: kubernetes-pods\n"
        f"    metrics_path: {METRICS_PATH}\n"
        "    static_configs:\n"
        f"      - targets: ['127.0.0.1:{stable.port}']\n"
        f"        labels: {{{common}, pod: {APP}-stable-0, container: serving}}\n"
        f"      - targets: ['127.0.0.1:{candidate.port}']\n"
        f"        labels: {{{common}, pod: {APP}-candidate-0, container: serving, "
        "ci_plugins_dev_track: candidate}\n"
    )


def _stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=5)


@pytest.fixture(scope="package")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Live]:
    root = tmp_path_factory.mktemp("live")
    model = tiny_savedmodel(root / "model")
    stable = _start_serving(root, "stable", model)
    candidate = _start_serving(root, "candidate", model)
    processes = [stable.process, candidate.process]
    try:
        _wait_available(stable, root)
        _wait_available(candidate, root)
        config = root / "prometheus.yml"
        config.write_text(_prometheus_config(stable, candidate), encoding="utf-8")
        port = free_port()
        with (root / "prometheus.log").open("wb") as log:
            prom = subprocess.Popen(
                [
                    "/usr/bin/prometheus",
                    f"--config.file={config}",
                    f"--storage.tsdb.path={root / 'tsdb'}",
                    f"--web.listen-address=127.0.0.1:{port}",
                    "--log.level=warn",
                ],
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        processes.append(prom)
        url = f"http://127.0.0.1:{port}"
        _wait_scraped(url, root)
        yield Live(stable=stable, candidate=candidate, prometheus=url)
    finally:
        for process in processes:
            _stop(process)


def _wait_scraped(url: str, root: Path) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            result = requests.get(f"{url}/api/v1/query", params={"query": "sum(up)"}, timeout=2)
            values = result.json()["data"]["result"]
            if values and float(values[0]["value"][1]) == 2:
                return
        except (requests.RequestException, ValueError, KeyError):
            pass
        time.sleep(0.5)
    log = (root / "prometheus.log").read_text(errors="replace")
    raise AssertionError(f"prometheus does not scrape both servers:\n{log[-2000:]}")
