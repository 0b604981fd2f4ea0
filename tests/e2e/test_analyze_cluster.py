"""`ci-plugins analyze` against the local cluster: a real tensorflow/serving pod scraped
by the platform's real Prometheus, hey's load through the API server's service proxy."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
import yaml

from tests.support.cli import CliRunner, clean_env
from tests.support.envrepo import make_bare_repo, seed_files
from tests.support.models import GOLDEN_INPUTS, tiny_savedmodel
from tests.support.node import model_volume, serving_container

APP = "digits"
ENV = "staging"
NS = "ml-staging"
METRICS_PATH = "/monitoring/prometheus/metrics"
MONITORING = f'prometheus_config {{\n  enable: true,\n  path: "{METRICS_PATH}"\n}}\n'


def emulator(*args: str | Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "ci_plugins_emulator", *map(str, args)],
        env=clean_env(),
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


@pytest.fixture
def platform(tmp_path: Path) -> Iterator[dict[str, Any]]:
    state = tmp_path / "platform"
    up = emulator("up", "--state-dir", state)
    assert up.returncode == 0, up.stderr
    try:
        yield json.loads((state / "cluster.json").read_text())
    finally:
        down = emulator("down", "--state-dir", state)
        assert down.returncode == 0, down.stderr


def manifests(model: Path, monitoring: Path) -> dict[str, str]:
    labels = {"app.kubernetes.io/name": APP, "app.kubernetes.io/instance": APP}
    container = serving_container(model, name=APP)
    container["args"].append("--monitoring_config_file=/etc/model-server/monitoring.config")
    container["volumeMounts"].append({"name": "monitoring", "mountPath": "/etc/model-server"})
    annotations = {
        "ci-plugins.dev/model-version": "3",
        "prometheus.io/scrape": "true",
        "prometheus.io/port": "8501",
        "prometheus.io/path": METRICS_PATH,
    }
    deployment = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": APP, "namespace": NS, "labels": labels},
        "spec": {
            "replicas": 1,
            "selector": {"matchLabels": labels},
            "template": {
                "metadata": {"labels": labels, "annotations": annotations},
                "spec": {
                    "containers": [container],
                    "volumes": [
                        model_volume(model),
                        {"name": "monitoring", "hostPath": {"path": str(monitoring)}},
                    ],
                },
            },
        },
    }
    service = {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": APP, "namespace": NS, "labels": labels},
        "spec": {
            "selector": labels,
            "ports": [{"name": "http", "port": 8501, "targetPort": "http"}],
        },
    }
    base = f"environments/{ENV}/{APP}"
    return {
        f"{base}/manifests/deployment-{APP}.yaml": yaml.safe_dump(deployment),
        f"{base}/manifests/service-{APP}.yaml": yaml.safe_dump(service),
        f"{base}/release.yaml": yaml.safe_dump({"app": APP, "environment": ENV}),
    }


def wait_scraped(prometheus: str, timeout: float = 300) -> None:
    query = f'up{{namespace="{NS}",app_kubernetes_io_instance="{APP}"}}'
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        result = requests.get(f"{prometheus}/api/v1/query", params={"query": query}, timeout=5)
        series = result.json()["data"]["result"]
        if series and series[0]["value"][1] == "1":
            return
        time.sleep(1)
    raise AssertionError(f"the serving pod was not scraped within {timeout}s")


@pytest.mark.slow
def test_analyze_measures_the_running_model_under_generated_load(
    tmp_path: Path, cli: CliRunner, platform: dict[str, Any]
) -> None:
    model = tiny_savedmodel(tmp_path / "model")
    monitoring = tmp_path / "monitoring"
    monitoring.mkdir()
    (monitoring / "monitoring.config").write_text(MONITORING, encoding="utf-8")
    repo = make_bare_repo(tmp_path / "env.git")
    seed_files(repo, manifests(model, monitoring), message="release 3")
    synced = emulator(
        "sync",
        "--state-dir",
        tmp_path / "platform",
        "--env-repo",
        repo,
        "--env",
        ENV,
        "--app",
        APP,
    )
    assert synced.returncode == 0, synced.stderr
    wait_scraped(platform["prometheus"])
    (tmp_path / "golden.jsonl").write_text(
        "".join(json.dumps({"instances": [row]}) + "\n" for row in GOLDEN_INPUTS),
        encoding="utf-8",
    )
    config = {
        "app": APP,
        "env_repo": {"url": str(repo)},
        "environments": {ENV: {"namespace": NS}},
        "analysis": {
            "prometheus": platform["prometheus"],
            "window": "10s",
            "min_requests": 50,
            "load": {"rate": 10, "requests": "golden.jsonl", "warmup": "2s"},
            "metrics": {
                "error_ratio": {"max": 0.01},
                "latency_p99_ms": {"max": 5000, "max_ratio_to_stable": 1.5},
                "load_rate": {"min": 9},
                "load_error_ratio": {"max": 0},
            },
        },
    }
    (tmp_path / "ci-plugins.yaml").write_text(yaml.safe_dump(config), encoding="utf-8")

    result = cli("analyze", "--env", ENV, "--kubeconfig", platform["kubeconfig"], "--json")

    assert result.exit_code == 0, result.stderr
    (step,) = result.json["steps"]
    assert step["verdict"] == "passed"
    assert step["judged_track"] == "current"
    metrics = step["metrics"]
    assert metrics["requests"]["current"] >= 50
    assert metrics["error_ratio"]["current"] == 0
    assert metrics["load_rate"]["current"] == pytest.approx(10, rel=0.1)
    ratio = next(c for c in step["checks"] if c["rule"] == "max_ratio_to_stable")
    assert ratio["status"] == "skipped"
