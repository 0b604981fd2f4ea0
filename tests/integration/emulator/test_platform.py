"""`ci-plugins-emulator up/sync --watch/down` as a user runs them: a real registry, a real
Prometheus scraping the pods, Argo CD's polling loop, and nothing left running after down."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import urllib.parse
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from ci_plugins_emulator.argocd import EmulatorClient

from ci_plugins.adapters import oci
from ci_plugins.model.packaging import model_tarball, parse_registry
from tests.support.cli import clean_env
from tests.support.envrepo import make_bare_repo, seed_files
from tests.support.node import WEB_DIR, WEB_IMAGE, emulator_cli, wait_for, web_container

NS = "ml-dev"


@pytest.fixture(scope="module")
def platform(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    state = tmp_path_factory.mktemp("platform")
    up = emulator_cli("up", "--state-dir", state, "--run-image", f"{WEB_IMAGE}={WEB_DIR}")
    assert up.returncode == 0, up.stderr
    cluster = json.loads((state / "cluster.json").read_text())
    pids = [int((state / "emulator.pid").read_text())]
    try:
        yield {**cluster, "state": state, "pids": pids}
    finally:
        down = emulator_cli("down", "--state-dir", state)
        assert down.returncode == 0, down.stderr


def _pod(name: str, *containers: dict[str, Any], **spec: Any) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {
            "name": name,
            "namespace": NS,
            "labels": {"app": name, "ci-plugins.dev/track": "canary"},
            "annotations": {
                "prometheus.io/scrape": "true",
                "prometheus.io/port": "8080",
                "prometheus.io/path": "/metrics",
            },
        },
        "spec": {"containers": list(containers), **spec},
    }


def _status(api: EmulatorClient, name: str) -> dict[str, Any]:
    pod = api.get(f"/api/v1/namespaces/{NS}/pods/{name}") or {}
    return pod.get("status") or {}


def test_up_writes_cluster_json_with_all_four_addresses(platform: dict[str, Any]) -> None:
    assert set(platform) >= {"kubeconfig", "api", "registry", "prometheus"}
    assert platform["api"].startswith("http://127.0.0.1:")
    assert platform["prometheus"].startswith("http://127.0.0.1:")
    with urllib.request.urlopen(f"http://{platform['registry']}/v2/", timeout=5) as resp:
        assert resp.status == 200  # docker-registry answers the OCI distribution API
    ready = f"{platform['prometheus']}/-/ready"
    with urllib.request.urlopen(ready, timeout=5) as resp:  # noqa: S310 (http://127.0.0.1)
        assert resp.status == 200
    assert Path(platform["kubeconfig"]).exists()


def test_prometheus_scrapes_pods_with_namespace_pod_container_and_pod_labels(
    platform: dict[str, Any],
) -> None:
    api = EmulatorClient(platform["api"])
    api.must("POST", f"/api/v1/namespaces/{NS}/pods", _pod("scraped", web_container()))
    query = urllib.parse.quote('web_scrapes_total{pod="scraped"}')

    def series() -> list[dict[str, Any]]:
        url = f"{platform['prometheus']}/api/v1/query?query={query}"
        with urllib.request.urlopen(url, timeout=5) as resp:  # noqa: S310 (http://127.0.0.1)
            result: list[dict[str, Any]] = json.load(resp)["data"]["result"]
            return result

    (found,) = wait_for("a scraped series", series, timeout=60)
    labels = found["metric"]
    assert labels["namespace"] == NS
    assert labels["pod"] == "scraped"
    assert labels["container"] == "web"
    assert labels["app"] == "scraped"
    assert labels["ci_plugins_dev_track"] == "canary"


def test_oras_init_container_pulls_from_the_local_registry_by_digest(
    platform: dict[str, Any], tmp_path: Path
) -> None:
    model = tmp_path / "model" / "1"
    model.mkdir(parents=True)
    (model / "saved_model.pb").write_bytes(b"weights")
    tarball = model_tarball(tmp_path / "model", tmp_path / "model.tar.gz")
    ref = parse_registry(f"{platform['registry']}/ml/digits")
    digest = oci.push_artifact(
        oci.Target(ref=ref, plain_http=True),
        tag="1",
        tarball=tarball,
        title="model",
        annotations={},
    )
    api = EmulatorClient(platform["api"])
    for name, pinned in (("pulled", digest), ("wrong", "sha256:" + "0" * 64)):
        fetch = {
            "name": "fetch-model",
            "image": "ghcr.io/oras-project/oras:v1.2.0@sha256:" + "1" * 64,
            "args": ["pull", f"{ref.name}@{pinned}", "--output", "/models", "--plain-http"],
            "volumeMounts": [{"name": "models", "mountPath": "/models"}],
        }
        main = web_container(volumeMounts=[{"name": "models", "mountPath": "/models"}])
        main["args"] = ["8080", "/models"]
        pod = _pod(name, main, initContainers=[fetch], volumes=[{"name": "models", "emptyDir": {}}])
        api.must("POST", f"/api/v1/namespaces/{NS}/pods", pod)
    wait_for("pulled running", lambda: _status(api, "pulled").get("phase") == "Running")
    init = _status(api, "pulled")["initContainerStatuses"][0]
    assert init["state"]["terminated"]["exitCode"] == 0
    pod_dir = platform["state"] / "pods" / NS / "pulled" / "volumes" / "models"
    assert (pod_dir / "model" / "1" / "saved_model.pb").read_bytes() == b"weights"

    def init_backoff() -> bool:
        statuses = _status(api, "wrong").get("initContainerStatuses") or [{}]
        return (statuses[0].get("state") or {}).get("waiting", {}).get("reason") == (
            "CrashLoopBackOff"
        )

    wait_for("the wrong digest's init container in back-off", init_backoff)
    status = _status(api, "wrong")
    assert status["phase"] == "Pending"
    assert status["initContainerStatuses"][0]["lastState"]["terminated"]["exitCode"] == 1
    code, log = api.request(
        "GET", f"/api/v1/namespaces/{NS}/pods/wrong/log?container=fetch-model&previous=true"
    )
    assert code == 200
    assert f"Error: failed to pull {ref.name}@sha256:{'0' * 64}" in log


def test_sync_watch_applies_each_new_commit_and_reports_it_in_the_application(
    platform: dict[str, Any], tmp_path: Path
) -> None:
    repo = make_bare_repo(tmp_path / "env.git")
    api = EmulatorClient(platform["api"])

    def publish(version: str) -> str:
        labels = {"app.kubernetes.io/name": "digits"}
        container = web_container(port=8080)
        dep = {
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "metadata": {"name": "digits", "namespace": NS},
            "spec": {
                "replicas": 1,
                "selector": {"matchLabels": labels},
                "template": {
                    "metadata": {
                        "labels": labels,
                        "annotations": {"ci-plugins.dev/model-version": version},
                    },
                    "spec": {"containers": [container]},
                },
            },
        }
        return seed_files(
            repo,
            {
                "environments/dev/digits/manifests/deployment-digits.yaml": yaml.safe_dump(dep),
                "environments/dev/digits/release.yaml": yaml.safe_dump({"app": "digits"}),
            },
            message=f"release {version}",
        )

    first = publish("1")
    watch = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "ci_plugins_emulator",
            "sync",
            "--state-dir",
            platform["state"],
            "--env-repo",
            str(repo),
            "--env",
            "dev",
            "--app",
            "digits",
            "--watch",
            "--interval",
            "1",
        ],
        env=clean_env(),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        app_path = "/apis/argoproj.io/v1alpha1/namespaces/argocd/applications/digits-dev"

        def app_status(revision: str, health: str) -> dict[str, Any] | None:
            status = (api.get(app_path) or {}).get("status") or {}
            sync = status.get("sync") or {}
            ok = sync.get("revision") == revision and status.get("health", {}).get("status")
            return status if ok == health else None

        status = wait_for("synced and Healthy", lambda: app_status(first, "Healthy"), 60)
        assert status["sync"]["status"] == "Synced"
        assert status["operationState"]["phase"] == "Succeeded"
        assert status["resources"][0]["kind"] == "Deployment"
        second = publish("2")
        status = wait_for("the next commit", lambda: app_status(second, "Healthy"), 60)
        assert [h["revision"] for h in status["history"]] == [first, second]
    finally:
        watch.terminate()
        _, err = watch.communicate(timeout=20)
    assert watch.returncode == 0, err


def test_down_stops_every_process_up_started(tmp_path: Path) -> None:
    state = tmp_path / "state"
    assert emulator_cli("up", "--state-dir", state).returncode == 0
    serve = int((state / "emulator.pid").read_text())
    children = _children(serve)
    assert len(children) >= 2  # docker-registry and prometheus
    assert emulator_cli("down", "--state-dir", state).returncode == 0
    for pid in [serve, *children]:
        wait_for(f"pid {pid} gone", lambda pid=pid: not _alive(pid), timeout=20)
    assert not (state / "cluster.json").exists()


def _children(pid: int) -> list[int]:
    out = subprocess.run(
        ["ps", "-o", "pid=", "--ppid", str(pid)], capture_output=True, text=True, check=False
    ).stdout
    return [int(p) for p in out.split()]


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except OSError:
        return False
    stat = Path(f"/proc/{pid}/stat")
    return stat.exists() and stat.read_text().split()[2] != "Z"
