"""`ci-plugins rollout` against the LOCAL CLUSTER EMULATOR: real TF Serving pods from the
chart (the model pulled by digest from the local registry), Argo CD's loop
(`ci-plugins-emulator sync --watch`), a real Prometheus scraping the pods, hey's load
through the API server's service proxy.

The tests are one story on one cluster, in file order: stable 3 runs; candidate 4 starts
at 50%; without traffic the step is inconclusive (nothing committed); with the load it
goes through [50, 100] and becomes stable; candidate 5 (a changed input shape) is aborted
at 50% with the error ratio named, 4 untouched and serving, the app pinned; unpinned,
candidate 6 (a SavedModel pushed without its version directory) never becomes healthy and
is aborted on verify's NoModel rule, before any analysis, 4 still serving; switched to
traffic: gateway-api, candidate 7 goes through [50, 100] behind an HTTPRoute (the
emulated Gateway controller accepts it) and ends as stable, the route all on stable.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import requests
import yaml
from ci_plugins_emulator.argocd import EmulatorClient

from ci_plugins.adapters import oci
from ci_plugins.model import packaging
from ci_plugins.model.digest import directory_digest
from tests.integration.analysis.conftest import GOOD_BODY
from tests.support.cli import CliRunner, clean_env
from tests.support.envrepo import (
    make_bare_repo,
    remote_log,
    remote_objects,
    remote_yaml,
)
from tests.support.models import tiny_savedmodel
from tests.support.node import emulator_cli, predict
from tests.support.verify import FAST_VERIFY

pytestmark = pytest.mark.slow  # one story of about 3 minutes on one cluster

ENV, NAMESPACE, APP = "prod", "ml-prod", "digits"
RELEASE = f"environments/{ENV}/{APP}/release.yaml"
MANIFESTS = f"environments/{ENV}/{APP}/manifests"
STEP_TIMEOUT = "600"  # TF Serving pods take ~50 s to become Ready on a busy machine
LOAD_RATE, WINDOW = 6, 15  # analysis.load.rate (req/s) and analysis.window (s)
FULLNAME = "digits-model-server"  # the Service and the stable Deployment
MODEL_VERSION = "ci-plugins.dev/model-version"
GATEWAY = "ml-gateway"  # the Gateway the HTTPRoute of traffic: gateway-api attaches to


@dataclass
class Cluster:
    root: Path
    env_repo: Path
    registry: str
    prometheus: str
    kubeconfig: Path
    api: str


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    root = tmp_path_factory.mktemp("canary")
    state = root / "cluster"
    env_repo = make_bare_repo(root / "env.git")
    up = emulator_cli("up", "--state-dir", state)
    assert up.returncode == 0, up.stderr
    watcher: subprocess.Popen[bytes] | None = None
    try:
        info = json.loads((state / "cluster.json").read_text())
        found = Cluster(
            root, env_repo, info["registry"], info["prometheus"], state / "kubeconfig", info["api"]
        )
        config = write_config(root, found)
        sync: list[str | Path] = [
            sys.executable, "-m", "ci_plugins_emulator", "sync", "--state-dir", state,
            "--env-repo", env_repo, "--env", ENV, "--config", config, "--watch", "--interval", "1",
        ]  # fmt: skip
        with (root / "sync.log").open("wb") as log:
            watcher = subprocess.Popen(
                sync,
                stdout=log,
                stderr=subprocess.STDOUT,
                env=clean_env(),
            )
        yield found
    finally:
        if watcher is not None:
            watcher.terminate()
            watcher.wait(timeout=30)
        down = emulator_cli("down", "--state-dir", state)
        assert down.returncode == 0, down.stderr


def write_config(
    project: Path, cluster: Cluster, *, load: bool = True, traffic: str = "replicas"
) -> Path:
    analysis: dict[str, Any] = {
        "prometheus": cluster.prometheus,
        "window": f"{WINDOW}s",
        "min_requests": 10,
        "metrics": {"error_ratio": {"max": 0.01}, "latency_p99_ms": {"max": 5000}},
    }
    if load:
        (project / "golden.jsonl").write_text(GOOD_BODY + "\n", encoding="utf-8")
        analysis["load"] = {"rate": LOAD_RATE, "requests": "golden.jsonl", "warmup": 2}
    values: dict[str, Any] = {"modelPuller": {"plainHttp": True}, "metrics": {"enabled": True}}
    if traffic == "gateway-api":
        values["traffic"] = {"gatewayApi": {"parentRefs": [{"name": GATEWAY}]}}
    data = {
        "app": APP,
        "env_repo": {"url": str(cluster.env_repo)},
        "chart": {"values": values},
        "environments": {
            ENV: {
                "namespace": NAMESPACE,
                "values": {"replicaCount": 1},
                "rollout": {"strategy": "canary", "steps": [50, 100], "traffic": traffic},
            }
        },
        # sync --watch polls every second and applies a commit in a few; on a loaded
        # machine more than FAST_VERIFY's 3 s (a step's commit then seemed never synced)
        "verify": {"controller": {"kind": "argocd"}, **FAST_VERIFY, "sync_timeout": 120},
        "analysis": analysis,
    }
    path = project / "ci-plugins.yaml"
    path.write_text(yaml.safe_dump(data), encoding="utf-8")
    return path


def release(cli: CliRunner, cluster: Cluster, project: Path, version: str, features: int) -> None:
    """train (a tiny SavedModel) -> package -> render -> promote, as a pipeline does."""
    model = tiny_savedmodel(project / f"model-{version}", version=version, features=features)
    manifest = write_manifest(project, version, model / version)
    registry = f"{cluster.registry}/ml/{APP}"
    package = ["package", "--model-dir", model, "--manifest", manifest, "--registry", registry]
    result = cli(*package, cwd=project, timeout=300)
    assert result.exit_code == 0, result.stderr
    render_and_promote(cli, project, version, manifest)


def release_without_version_directory(
    cli: CliRunner, cluster: Cluster, project: Path, version: str
) -> None:
    """A SavedModel pushed by another tool as `model/saved_model.pb`, without the numbered
    version directory TF Serving loads, then rendered and promoted as usual."""
    model = tiny_savedmodel(project / f"model-{version}", version=version)
    flat = packaging.model_tarball(model / version, project / f"flat-{version}.tar.gz")
    target = oci.Target(
        ref=packaging.parse_registry(f"{cluster.registry}/ml/{APP}"), plain_http=True
    )
    digest = oci.push_artifact(
        target, tag=version, tarball=flat, title=packaging.ARTIFACT_DIR, annotations={}
    )
    artifact = f"oci://{target.ref.pinned(digest)}"
    manifest = write_manifest(project, version, model / version, artifact=artifact)
    render_and_promote(cli, project, version, manifest)


def write_manifest(project: Path, version: str, files: Path, **extra: str) -> Path:
    manifest = project / f"manifest-{version}.json"
    document = {
        "app": APP,
        "model_version": version,
        "model_digest": directory_digest(files),
        "source_commit": f"{version:0>40}",
        **extra,
    }
    manifest.write_text(json.dumps(document), encoding="utf-8")
    return manifest


def render_and_promote(cli: CliRunner, project: Path, version: str, manifest: Path) -> None:
    for args in (
        ["render", "--manifest", manifest, "--env", ENV, "--output-dir", project / f"r-{version}"],
        ["promote", "--env", ENV, "--rendered", project / f"r-{version}", "--manifest", manifest],
    ):
        result = cli(*args, cwd=project, timeout=300)
        assert result.exit_code == 0, result.stderr


def rollout(cli: CliRunner, cluster: Cluster) -> Any:
    return cli(
        "rollout", "--env", ENV, "--kubeconfig", cluster.kubeconfig, "--timeout", STEP_TIMEOUT,
        "--json", "--report-dir", cluster.root / "reports", cwd=cluster.root, timeout=1800,
    )  # fmt: skip


def deployments(cluster: Cluster) -> dict[str, dict[str, Any]]:
    return remote_objects(cluster.env_repo, MANIFESTS, "Deployment")


def pods(cluster: Cluster, track: str) -> dict[str, dict[str, Any]]:
    """The track's pods in the cluster, by name."""
    found = requests.get(f"{cluster.api}/api/v1/namespaces/{NAMESPACE}/pods", timeout=30)
    found.raise_for_status()
    return {
        pod["metadata"]["name"]: pod
        for pod in found.json()["items"]
        if pod["metadata"]["labels"].get("ci-plugins.dev/track") == track
    }


def assert_requests_add_up(step: dict[str, Any]) -> None:
    """The tracks' server-side counts are the requests the load sent in the window, split
    about evenly between the two pods behind the Service (each request counted once)."""
    served = step["metrics"]["requests"]
    sent = step["metrics"]["load_rate"]["candidate"] * WINDOW
    total = served["candidate"] + served["stable"]
    assert abs(total - sent) <= 0.15 * sent, (served, sent)
    assert 0.35 * total <= served["candidate"] <= 0.65 * total, served


def model_of(deployment: dict[str, Any]) -> str:
    return str(deployment["spec"]["template"]["metadata"]["annotations"][MODEL_VERSION])


@pytest.fixture
def project(cluster: Cluster) -> Path:
    """The one project of the story (its config, models and renders), beside the cluster."""
    return cluster.root


def test_without_traffic_the_first_step_is_inconclusive_and_nothing_is_committed(
    cli: CliRunner, cluster: Cluster, project: Path
) -> None:
    write_config(project, cluster, load=False)
    release(cli, cluster, project, "3", 64)  # the first release goes in whole: stable
    release(cli, cluster, project, "4", 64)  # the candidate, at 50%
    assert remote_yaml(cluster.env_repo, RELEASE)["canary"]["weight"] == 50
    head = remote_log(cluster.env_repo)[0]

    result = rollout(cli, cluster)

    assert result.exit_code == 1, result.stderr
    assert result.json["verdict"] == "inconclusive"
    assert result.json["commits"] == []
    assert "candidate track: 0 requests served, fewer than min_requests 10" in result.stderr
    assert "the environment stays at 50%" in result.stderr
    assert remote_log(cluster.env_repo)[0] == head


def test_a_good_candidate_goes_through_50_and_100_and_ends_as_stable(
    cli: CliRunner, cluster: Cluster, project: Path
) -> None:
    write_config(project, cluster)
    before = len(remote_log(cluster.env_repo))

    result = rollout(cli, cluster)

    assert result.exit_code == 0, result.stderr
    document = result.json
    assert document["verdict"] == "promoted"
    assert [(s["weight"], s["verdict"]) for s in document["steps"]] == [
        (50, "passed"),
        (100, "passed"),
    ]
    assert document["steps"][0]["metrics"]["error_ratio"] == {"candidate": 0.0, "stable": 0.0}
    assert document["steps"][0]["metrics"]["requests"]["candidate"] >= 10
    assert_requests_add_up(document["steps"][0])
    log = remote_log(cluster.env_repo)
    assert len(log) == before + 2
    assert len(document["commits"]) == 2
    assert "canary digits 4 in prod: 100% of traffic" in log[1]
    assert "canary digits 4 in prod: promoted to stable (replaces 3)" in log[0]
    record = remote_yaml(cluster.env_repo, RELEASE)
    assert record["model"]["version"] == "4"
    assert "canary" not in record
    assert {name: model_of(d) for name, d in deployments(cluster).items()} == {
        "digits-model-server": "4"
    }
    markdown = (cluster.root / "reports" / "rollout-report.md").read_text()
    assert "step 50%" in markdown
    assert "step 100%" in markdown


def test_a_candidate_rejecting_the_input_is_aborted_with_stable_untouched_and_pinned(
    cli: CliRunner, cluster: Cluster, project: Path
) -> None:
    write_config(project, cluster)
    release(cli, cluster, project, "5", 32)  # its model takes 32 features, not 64

    result = rollout(cli, cluster)

    assert result.exit_code == 1, result.stderr
    document = result.json
    assert document["verdict"] == "aborted"
    ((step),) = document["steps"]
    assert (step["weight"], step["verdict"]) == (50, "failed")
    # Every request the candidate's one pod served failed; none went to a pod of an
    # earlier canary (the emulator's garbage collector removed candidate 4's pod).
    assert step["metrics"]["error_ratio"]["candidate"] > 0.9
    assert step["metrics"]["error_ratio"]["stable"] == 0.0
    assert_requests_add_up(step)
    assert "error_ratio" in result.stderr
    record = remote_yaml(cluster.env_repo, RELEASE)
    assert record["model"]["version"] == "4"
    assert "canary" not in record
    assert {name: model_of(d) for name, d in deployments(cluster).items()} == {
        "digits-model-server": "4"
    }
    pin = remote_yaml(cluster.env_repo, f"environments/{ENV}/{APP}/pin.yaml")
    assert pin["model_version"] == "4"
    assert "canary of 5 aborted" in pin["reason"]


def test_a_candidate_that_never_becomes_healthy_is_aborted_on_health_with_stable_serving(
    cli: CliRunner, cluster: Cluster, project: Path
) -> None:
    write_config(project, cluster)
    unpinned = cli("unpin", "--env", ENV, cwd=project)  # the user lets promotions resume
    assert unpinned.exit_code == 0, unpinned.stderr
    release_without_version_directory(cli, cluster, project, "6")
    promoted = remote_log(cluster.env_repo)
    assert "canary digits 6 in prod" in promoted[0]
    stable = pods(cluster, "stable")
    assert [p["metadata"]["annotations"][MODEL_VERSION] for p in stable.values()] == ["4"]

    started = time.monotonic()
    result = rollout(cli, cluster)
    took = time.monotonic() - started

    assert result.exit_code == 1, result.stderr
    document = result.json
    assert document["verdict"] == "aborted"
    ((step),) = document["steps"]
    assert (step["weight"], step["verdict"], step["health"]) == (50, "unhealthy", "failed")
    assert step["metrics"] == {}  # no analysis ran: health, not a metric, decided
    reasons = " ".join(step["health_reasons"])
    assert "NoModel" in reasons, reasons
    assert "no model: TF Serving found no version of digits under" in reasons
    assert "unhealthy" in result.stderr
    log = remote_log(cluster.env_repo)
    assert len(log) == len(promoted) + 1  # exactly one commit: the abort
    assert document["commits"] == [log[0].split()[0]]
    assert "canary digits 6 in prod: aborted, 4 serves all traffic" in log[0]
    record = remote_yaml(cluster.env_repo, RELEASE)
    assert record["model"]["version"] == "4"
    assert "canary" not in record
    assert {name: model_of(d) for name, d in deployments(cluster).items()} == {FULLNAME: "4"}
    pin = remote_yaml(cluster.env_repo, f"environments/{ENV}/{APP}/pin.yaml")
    assert pin["model_version"] == "4"
    assert "canary of 6 aborted: step 50%: unhealthy" in pin["reason"]
    # Argo CD prunes the canary Deployment; the garbage collector takes its pod
    deadline = time.monotonic() + 60
    while pods(cluster, "candidate") and time.monotonic() < deadline:
        time.sleep(0.5)
    assert pods(cluster, "candidate") == {}
    # stable untouched: the same pod, never restarted, answering through the Service
    after = pods(cluster, "stable")
    assert after.keys() == stable.keys()
    (pod,) = after.values()
    assert [c["restartCount"] for c in pod["status"]["containerStatuses"]] == [0]
    code, answer = predict(
        EmulatorClient(cluster.api), namespace=NAMESPACE, service=FULLNAME, model=APP,
        instances=json.loads(GOOD_BODY)["instances"],
    )  # fmt: skip
    assert code == 200, answer
    assert len(answer["predictions"]) == 2
    # Fails fast: NoModel 3 s after TF Serving's first "No versions" line, not the startup
    # probe's 5 minutes nor the 600 s step timeout (measured on the busy 2-core machine:
    # 7 s from the promote commit to the abort commit in 2 runs; 12-16 s for this test).
    assert took < 60, f"{took:.0f}s"


def test_a_candidate_behind_a_gateway_route_goes_through_its_weights_and_ends_as_stable(
    cli: CliRunner, cluster: Cluster, project: Path
) -> None:
    write_config(project, cluster, traffic="gateway-api")
    unpinned = cli("unpin", "--env", ENV, cwd=project)
    assert unpinned.exit_code == 0, unpinned.stderr
    release(cli, cluster, project, "7", 64)
    route = remote_objects(cluster.env_repo, MANIFESTS, "HTTPRoute")[FULLNAME]
    ((rule),) = route["spec"]["rules"]
    assert {r["name"]: r["weight"] for r in rule["backendRefs"]} == {
        f"{FULLNAME}-stable": 50,
        f"{FULLNAME}-candidate": 50,
    }

    result = rollout(cli, cluster)

    assert result.exit_code == 0, result.stderr
    document = result.json
    assert document["verdict"] == "promoted"
    assert [(s["weight"], s["verdict"], s["health"]) for s in document["steps"]] == [
        (50, "passed", "healthy"),
        (100, "passed", "healthy"),
    ]
    log = remote_log(cluster.env_repo)
    assert "canary digits 7 in prod: 100% of traffic (1 candidate, 1 stable pods)" in log[1]
    assert "canary digits 7 in prod: promoted to stable (replaces 4)" in log[0]
    route = remote_objects(cluster.env_repo, MANIFESTS, "HTTPRoute")[FULLNAME]
    ((rule),) = route["spec"]["rules"]
    assert [(r["name"], r["weight"]) for r in rule["backendRefs"]] == [(f"{FULLNAME}-stable", 100)]
    assert {name: model_of(d) for name, d in deployments(cluster).items()} == {FULLNAME: "7"}
    # the route in the cluster, as the emulated Gateway controller reports it
    live = requests.get(
        f"{cluster.api}/apis/gateway.networking.k8s.io/v1/namespaces/{NAMESPACE}"
        f"/httproutes/{FULLNAME}",
        timeout=30,
    )
    live.raise_for_status()
    ((parent),) = live.json()["status"]["parents"]
    assert parent["parentRef"]["name"] == GATEWAY
    assert {c["type"]: c["status"] for c in parent["conditions"]} == {
        "Accepted": "True",
        "ResolvedRefs": "True",
    }
