"""Kubelet test support: the LOCAL CLUSTER EMULATOR in this process, pods as real processes.

`node` (fixture) serves the emulated API with the controllers and kubelet, the test image
`example.test/web` (tests/support/images/web) registered as a run-image, and offers
`create(obj)`, `pod(name)`, `wait_for(predicate)`, `log(...)` and `proxy(...)` over HTTP.

For any emulated cluster: `argocd_sync(url, env_repo, ...)` plays Argo CD once, as
`ci-plugins-emulator sync` does, and `predict(client, ...)` POSTs a `:predict` through the
API server's service proxy, as a client of the cluster would. `emulator_cli(...)` runs the
`ci-plugins-emulator` command (up, down, sync) in a child process; `wait_for` polls.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from ci_plugins_emulator.argocd import EmulatorClient
from ci_plugins_emulator.cluster import start
from ci_plugins_emulator.server import RunningCluster
from ci_plugins_emulator.shapes import api_path
from ci_plugins_emulator.simulator import Simulator
from ci_plugins_emulator.timing import Timing

from tests.support.cli import clean_env

WEB_IMAGE = "example.test/web:1"
WEB_DIR = Path(__file__).parent / "images" / "web"
NAMESPACE = "ml-dev"
FAST = Timing(resync=2.0, backoff=0.5, backoff_max=2.0, probe_period_max=0.3, oom_after=0.5)
Obj = dict[str, Any]


def emulator_cli(*args: str | Path, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    """`ci-plugins-emulator ARGS` in a child process with a clean environment."""
    return subprocess.run(
        [sys.executable, "-m", "ci_plugins_emulator", *map(str, args)],
        env=clean_env(),
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def wait_for(
    what: str, check: Callable[[], Any], timeout: float = 30, *, interval: float = 0.2
) -> Any:
    """check()'s first truthy answer within timeout seconds (AssertionError naming what)."""
    deadline = time.monotonic() + timeout
    last: Any = None
    while time.monotonic() < deadline:
        last = check()
        if last:
            return last
        time.sleep(interval)
    raise AssertionError(f"timed out waiting for {what}; last: {last!r}")


def web_container(name: str = "web", *, port: int = 8080, **extra: Any) -> Obj:
    """A container of the test web image serving on `port` (args name the container port)."""
    return {
        "name": name,
        "image": WEB_IMAGE,
        "command": ["python", "web.py"],
        "args": [str(port)],
        "ports": [{"name": "http", "containerPort": port}],
        **extra,
    }


def pod(name: str, *containers: Obj, init: tuple[Obj, ...] = (), **spec: Any) -> Obj:
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {
            "name": name,
            "namespace": NAMESPACE,
            "uid": f"uid-{name}",
            "labels": {"app": name},
            "creationTimestamp": "2026-01-01T00:00:00Z",
        },
        "spec": {"containers": list(containers), "initContainers": list(init), **spec},
    }


@dataclass
class Node:
    running: RunningCluster
    simulator: Simulator
    client: EmulatorClient
    root: Path

    def create(self, obj: Obj) -> None:
        meta = obj["metadata"]
        self.client.must("POST", api_path(obj["apiVersion"], obj["kind"], meta["namespace"]), obj)

    def delete(self, obj: Obj) -> None:
        meta = obj["metadata"]
        self.client.must(
            "DELETE", api_path(obj["apiVersion"], obj["kind"], meta["namespace"], meta["name"])
        )

    def get(self, kind: str, name: str, api_version: str = "v1") -> Obj:
        obj = self.client.get(api_path(api_version, kind, NAMESPACE, name))
        assert obj is not None, f"{kind} {name} not found"
        return obj

    def pod(self, name: str) -> Obj:
        return self.get("Pod", name)

    def wait_for(self, what: str, check: Callable[[], Any], timeout: float = 30) -> Any:
        return wait_for(what, check, timeout, interval=0.1)

    def container(self, pod: str, name: str, *, init: bool = False) -> Obj:
        key = "initContainerStatuses" if init else "containerStatuses"
        statuses = (self.pod(pod).get("status") or {}).get(key) or []
        return next((s for s in statuses if s["name"] == name), {})

    def log(self, pod: str, container: str = "", *, previous: bool = False) -> tuple[int, Any]:
        query = f"?container={container}" if container else "?"
        query += "&previous=true" if previous else ""
        return self.client.request("GET", f"/api/v1/namespaces/{NAMESPACE}/pods/{pod}/log{query}")

    def proxy(self, service: str, path: str) -> tuple[int, Any]:
        return self.client.request(
            "GET", f"/api/v1/namespaces/{NAMESPACE}/services/{service}:http/proxy/{path}"
        )

    def events(self, name: str) -> list[str]:
        _, body = self.client.request("GET", f"/api/v1/namespaces/{NAMESPACE}/events")
        return [
            f"{e['reason']}: {e['message']}"
            for e in (body or {}).get("items") or []
            if e["involvedObject"]["name"] == name
        ]


@pytest.fixture
def node(tmp_path: Path) -> Iterator[Node]:
    running, simulator = start(
        tmp_path / "node",
        FAST,
        run_images={WEB_IMAGE: WEB_DIR},
        targets_file=tmp_path / "node" / "targets.json",
    )
    client = EmulatorClient(running.url)
    try:
        yield Node(running=running, simulator=simulator, client=client, root=tmp_path / "node")
    finally:
        running.stop()
        simulator.kubelet.stop_all()
        client.http.clear()


def serving_container(model_dir: Path, *, name: str = "digits", **extra: Any) -> Obj:
    """A tensorflow/serving container serving model_dir (a hostPath volume at /models)."""
    probe = {"httpGet": {"path": f"/v1/models/{name}", "port": "http"}, "periodSeconds": 1}
    return {
        "name": "model-server",
        "image": "tensorflow/serving:2.14.1",
        "command": ["tensorflow_model_server"],
        "args": [
            "--port=8500",
            "--rest_api_port=8501",
            f"--model_name={name}",
            "--model_base_path=/models",
        ],
        "ports": [{"name": "http", "containerPort": 8501}, {"name": "grpc", "containerPort": 8500}],
        "readinessProbe": probe,
        "volumeMounts": [{"name": "models", "mountPath": "/models", "readOnly": True}],
        **extra,
    }


def model_volume(model_dir: Path) -> Obj:
    return {"name": "models", "hostPath": {"path": str(model_dir), "type": "Directory"}}


def argocd_sync(
    url: str, env_repo: Path, *, env: str, app: str, config: Path | None = None
) -> None:
    """Apply what env_repo's main commits for env/app to the cluster at url and record it in
    the Argo CD Application, by the code path of `ci-plugins-emulator sync` (once)."""
    from ci_plugins_emulator.syncing import sync_once

    args = argparse.Namespace(
        env_repo=str(env_repo), branch="main", env=env, app=app, namespace=None, config=config,
        watch=False,
    )  # fmt: skip
    assert sync_once(url, args) == 0, f"sync of {env}/{app} from {env_repo} failed"


def predict(
    client: EmulatorClient, *, namespace: str, service: str, model: str, instances: list[Any]
) -> tuple[int, Any]:
    """(HTTP status, body) of TF Serving's REST :predict on the Service's `http` port,
    through the API server's service proxy."""
    path = f"/api/v1/namespaces/{namespace}/services/{service}:http/proxy/v1/models/{model}:predict"
    return client.request("POST", path, {"instances": instances})
