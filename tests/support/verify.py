"""Verify test support: manifests, an env repo seeded with them, the local cluster emulator.

`verify_env` (fixture, registered in tests/conftest.py) starts the LOCAL CLUSTER EMULATOR
in this process (pods run as real processes), writes a kubeconfig and a ci-plugins.yaml, and
offers `publish(...)` (commit manifests to a bare env repo) and `sync()` (play Argo CD:
apply the committed manifests).

`deployment(...)` is shaped like the chart's. By default its pods run the test web image
(tests/support/images/web, ready on /healthz) and the config turns verify's model check
off; `deployment(model_dir=...)` runs tensorflow/serving (the real server on real
TensorFlow) on that SavedModel, for the tests of the model check. `fault=` makes the pods
fail for real: `crashloop` (the server process exits 1 after logging a load error),
`image-not-found` (a misspelled image), `init-crash` (the oras puller cannot reach its
registry), `not-ready` (the readiness probe path 404s); `oom`, `unschedulable-gpu` and
`unschedulable-gpu-scaleup` are the emulator's simulated modes.
"""

from __future__ import annotations

import dataclasses
import hashlib
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
import yaml

from ci_plugins.verify.committed import read_committed
from tests.support.cli import CliResult, clean_env
from tests.support.envrepo import make_bare_repo, seed_files
from tests.support.node import FAST, WEB_DIR, WEB_IMAGE, model_volume, serving_container

if TYPE_CHECKING:
    # The emulator (and the kubernetes client under it) loads only in tests that use it:
    # this module is a plugin of every test run.
    from ci_plugins_emulator.server import RunningCluster
    from ci_plugins_emulator.simulator import Simulator

APP = "digits"
ENV = "dev"
NAMESPACE = "ml-dev"
DIGEST = "sha256:" + "a" * 64
FAST_VERIFY = {
    "resync_interval": 1,
    "progress_interval": 1,
    "unschedulable_grace": 1,
    "spec_drift_grace": 1,
    "missing_grace": 30,
    "sync_timeout": 3,
}
SIMULATED = ("oom", "unschedulable-gpu", "unschedulable-gpu-scaleup")
LOAD_ERROR = (
    "import sys; print('Loading servable version {name: digits version: 3}', flush=True); "
    "print(\"Failed to load model: Op type not registered 'Foo'\", file=sys.stderr); sys.exit(1)"
)


def web_server(*, fault: str | None = None, port: int = 8501) -> dict[str, Any]:
    """The model-server container of the test web image (or a crashing/unready variant)."""
    container: dict[str, Any] = {
        "name": "model-server",
        "image": WEB_IMAGE,
        "command": ["python", "web.py"],
        "args": [str(port)],
        "ports": [{"name": "http", "containerPort": port}],
        "readinessProbe": {"httpGet": {"path": "/healthz", "port": "http"}, "periodSeconds": 1},
    }
    if fault == "crashloop":
        container.update(command=["python", "-c", LOAD_ERROR], args=[])
    elif fault == "image-not-found":
        container["image"] = "registry.example.com/ml/model-servr:2.15"
    elif fault == "not-ready":
        container["readinessProbe"]["httpGet"]["path"] = "/v1/models/nope"
    return container


def deployment(
    *,
    name: str = APP,
    replicas: int = 1,
    version: str = "3",
    fault: str | None = None,
    init: bool = False,
    init_seconds: float = 0.0,
    max_unavailable: int | None = None,
    model_dir: Path | None = None,
) -> dict[str, Any]:
    """A Deployment shaped like the chart's (model annotations, a model-server container)."""
    annotations = {"ci-plugins.dev/model-version": version, "ci-plugins.dev/model-digest": DIGEST}
    if fault in SIMULATED:
        annotations["ci-plugins.dev/simulate"] = fault
    labels = {"app.kubernetes.io/name": name, "app.kubernetes.io/instance": name}
    volumes: list[dict[str, Any]] = [{"name": "models", "emptyDir": {}}]
    if model_dir is not None:
        container = serving_container(model_dir, name=name)
        volumes = [model_volume(model_dir)]
    else:
        container = web_server(fault=fault)
    spec: dict[str, Any] = {"containers": [container], "volumes": volumes}
    if init or fault == "init-crash":
        spec["initContainers"] = [_fetch_model(fail=fault == "init-crash", seconds=init_seconds)]
    obj: dict[str, Any] = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name, "labels": labels},
        "spec": {
            "replicas": replicas,
            "progressDeadlineSeconds": 600,
            "selector": {"matchLabels": labels},
            "template": {"metadata": {"labels": labels, "annotations": annotations}, "spec": spec},
        },
    }
    if max_unavailable is not None:
        obj["spec"]["strategy"] = {
            "type": "RollingUpdate",
            "rollingUpdate": {"maxSurge": 1, "maxUnavailable": max_unavailable},
        }
    return obj


def _fetch_model(*, fail: bool, seconds: float = 0.0) -> dict[str, Any]:
    if fail:  # the chart's puller, pointed at a registry that is not there
        return {
            "name": "fetch-model",
            "image": "ghcr.io/oras-project/oras:v1.2.0",
            "args": [
                "pull",
                "127.0.0.1:9/ml/digits@sha256:" + "0" * 64,
                "--output",
                "/models",
                "--plain-http",
            ],
            "volumeMounts": [{"name": "models", "mountPath": "/models"}],
        }
    return {
        "name": "fetch-model",
        "image": WEB_IMAGE,
        "command": [
            "python",
            "-c",
            f"import time; time.sleep({seconds}); open('/models/ready', 'w').write('ok')",
        ],
        "volumeMounts": [{"name": "models", "mountPath": "/models"}],
    }


def service(name: str = APP) -> dict[str, Any]:
    labels = {"app.kubernetes.io/name": name, "app.kubernetes.io/instance": name}
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": name, "labels": labels},
        "spec": {
            "type": "ClusterIP",
            "selector": labels,
            "ports": [{"name": "http", "port": 8501, "targetPort": "http"}],
        },
    }


def http_route(*backends: str, name: str = APP) -> dict[str, Any]:
    """A Gateway API HTTPRoute attached to a Gateway, splitting evenly over backends."""
    return {
        "apiVersion": "gateway.networking.k8s.io/v1",
        "kind": "HTTPRoute",
        "metadata": {"name": name},
        "spec": {
            "parentRefs": [{"name": "ml-gateway", "namespace": "infra"}],
            "rules": [{"backendRefs": [{"name": b, "port": 8501, "weight": 1} for b in backends]}],
        },
    }


def app_files(objects: list[dict[str, Any]], *, env: str = ENV, app: str = APP) -> dict[str, str]:
    base = f"environments/{env}/{app}"
    files = {
        f"{base}/manifests/{o['kind'].lower()}-{o['metadata']['name']}.yaml": yaml.safe_dump(o)
        for o in objects
    }
    version = next(
        (
            o["spec"]["template"]["metadata"]["annotations"]["ci-plugins.dev/model-version"]
            for o in objects
            if o["kind"] == "Deployment"
        ),
        "1",
    )
    rendered = "".join(files[name] for name in sorted(files))
    release = {
        "app": app,
        "environment": env,
        "model": {"version": version, "digest": DIGEST},
        # as render would: a broken release differs in its values even for the same model
        "values_digest": "sha256:" + hashlib.sha256(rendered.encode()).hexdigest(),
    }
    files[f"{base}/release.yaml"] = yaml.safe_dump(release)
    return files


@dataclass
class VerifyEnv:
    """An emulated cluster, a kubeconfig, an env repo and a config, all in tmp_path."""

    root: Path
    running: RunningCluster
    simulator: Simulator
    kubeconfig: Path
    repo: Path
    verify: dict[str, Any] = field(default_factory=lambda: dict(FAST_VERIFY))
    commits: list[str] = field(default_factory=list)

    def write_config(self, **verify: Any) -> Path:
        verify.setdefault("model", {"enabled": False})  # the test web image is no model server
        config = {
            "app": APP,
            "env_repo": {"url": str(self.repo)},
            "environments": {ENV: {"namespace": NAMESPACE}, "prod": {"namespace": "ml-prod"}},
            "verify": {**self.verify, **verify},
        }
        path = self.root / "ci-plugins.yaml"
        path.write_text(yaml.safe_dump(config), encoding="utf-8")
        return path

    def publish(self, *objects: dict[str, Any]) -> str:
        """Commit these manifests (plus a release record) to the env repo; the commit sha."""
        sha = seed_files(
            self.repo, app_files(list(objects)), message=f"release {len(self.commits)}"
        )
        self.commits.append(sha)
        return sha

    def sync(self) -> list[str]:
        """Play Argo CD: apply what the env repo's head commits for dev/digits."""
        from ci_plugins_emulator.argocd import sync as argocd_sync

        committed = read_committed(str(self.repo), branch="main", env=ENV, app=APP, config=None)
        objects = {
            dataclasses.replace(ref, namespace=NAMESPACE): {
                **obj,
                "metadata": {**obj["metadata"], "namespace": NAMESPACE},
            }
            for ref, obj in committed.objects.items()
        }
        return argocd_sync(
            self.running.url,
            objects=objects,
            commit=committed.commit,
            env=ENV,
            app=APP,
            namespace=NAMESPACE,
        )

    def wait_until_pods_ready(self, timeout: float = 180) -> None:
        """Block until every pod of the namespace is Ready (a model server's start-up)."""

        def ready() -> bool:
            pods = [
                dict(o.raw)
                for (r, ns, _), o in self.running.cluster.objects.items()
                if r.plural == "pods" and ns == NAMESPACE and not o.deleted
            ]
            return bool(pods) and all(
                any(
                    c.get("type") == "Ready" and c.get("status") == "True"
                    for c in (p.get("status") or {}).get("conditions") or []
                )
                for p in pods
            )

        deadline = time.monotonic() + timeout
        while not self.running.call(ready):
            if time.monotonic() > deadline:
                raise AssertionError(f"pods in {NAMESPACE} not ready after {timeout:g}s")
            time.sleep(0.5)

    def verify_then_sync(self, *extra: str) -> CliResult:
        """Start verify, wait until it watches the cluster, then sync: it sees the rollout live."""
        proc = subprocess.Popen(
            [sys.executable, "-m", "ci_plugins", *self.verify_args(*extra)],
            cwd=self.root,
            env=clean_env(),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        requests = self.running.cluster.client_requests
        before = len(requests)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and proc.poll() is None:
            seen = [url for _, _, url in requests[before:]]
            # watching already, or phase A polling the Argo CD Application
            if any("watch=true" in url or "/applications/" in url for url in seen):
                break
            time.sleep(0.05)
        self.sync()
        stdout, stderr = proc.communicate(timeout=120)
        return CliResult(proc.returncode, stdout, stderr)

    def verify_args(self, *extra: str) -> list[str]:
        return ["verify", "--env", ENV, "--kubeconfig", str(self.kubeconfig), "--json", *extra]


@pytest.fixture
def verify_env(tmp_path: Path) -> Iterator[VerifyEnv]:
    from ci_plugins_emulator.cluster import start
    from ci_plugins_emulator.server import write_kubeconfig

    running, simulator = start(
        tmp_path / "node",
        dataclasses.replace(FAST, scale_up_after=2.0),
        run_images={WEB_IMAGE: WEB_DIR},
    )
    try:
        env = VerifyEnv(
            root=tmp_path,
            running=running,
            simulator=simulator,
            kubeconfig=write_kubeconfig(tmp_path / "kubeconfig", running.url),
            repo=make_bare_repo(tmp_path / "env.git"),
        )
        env.write_config()
        yield env
    finally:
        running.stop()
        simulator.kubelet.stop_all()  # nothing outlives the test, even if the stop timed out
