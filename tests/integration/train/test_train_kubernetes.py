"""train.backend: kubernetes against the LOCAL CLUSTER EMULATOR with real pods (processes),
a real docker-registry and, for the slow tests, real TensorFlow workers; two of them talk
MultiWorkerMirroredStrategy over loopback, and their model then goes through gate, package,
render, promote, Argo CD's sync (emulated) and verify, to a TF Serving pod on the same
emulated cluster that pulled it by digest and answers a prediction."""

from __future__ import annotations

import json
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml
from ci_plugins_emulator.argocd import EmulatorClient
from ci_plugins_emulator.cluster import start
from ci_plugins_emulator.server import Fault, RunningCluster, write_kubeconfig

from ci_plugins.model.digest import directory_digest
from tests.support.cli import EXAMPLE, CliResult, CliRunner, clean_env
from tests.support.envrepo import git, make_bare_repo
from tests.support.node import FAST, argocd_sync, predict
from tests.support.promote import promote_args
from tests.support.registry import Registry, free_port, start_registry
from tests.support.verify import FAST_VERIFY

IMAGE = "registry.example.test/ml/digits-train@sha256:" + "c" * 64
NAMESPACE = "ml-train"
COMMIT = "feedc0de" + "0" * 32
JOB = f"digits-train-{COMMIT[:8]}"
GOLDEN = json.loads((EXAMPLE / "golden-request.json").read_text(encoding="utf-8"))


@dataclass
class Cluster:
    running: RunningCluster
    client: EmulatorClient
    registry: Registry
    project: Path
    kubeconfig: Path

    def configure(self, **kubernetes: Any) -> Path:
        """Write the project's ci-plugins.yaml with train.backend: kubernetes."""
        config = yaml.safe_load((EXAMPLE / "ci-plugins.yaml").read_text(encoding="utf-8"))
        # Multi-worker, the example trains with its own loop (keras-team/keras#20585), which
        # train.tune does not tune yet: the cluster run trains the example's fixed params.
        config["train"].pop("tune", None)
        # verify of the result waits for the emulated Argo CD's Application (render has the
        # chart's puller talk plain HTTP to the loopback registry by itself)
        config["verify"] = {"controller": {"kind": "argocd"}, **FAST_VERIFY}
        config["train"].update(
            backend="kubernetes",
            epochs=kubernetes.pop("epochs", 12),
            kubernetes={
                "kubeconfig": str(self.kubeconfig),
                "namespace": NAMESPACE,
                "image": IMAGE,
                "workers": 2,
                "registry": self.registry.repository("ml/digits"),
                "worker_address": "127.0.0.1:{index_port}",
                "port": free_port(),
                "no_progress_timeout": "120s",
                **kubernetes,
            },
        )
        path = self.project / "ci-plugins.yaml"
        path.write_text(yaml.safe_dump(config), encoding="utf-8")
        return path

    def names(self, plural: str, api: str = "api/v1") -> list[str]:
        _, body = self.client.request("GET", f"/{api}/namespaces/{NAMESPACE}/{plural}")
        return sorted(i["metadata"]["name"] for i in (body or {}).get("items") or [])

    def leftovers(self) -> dict[str, list[str]]:
        return {
            "jobs": self.names("jobs", "apis/batch/v1"),
            "services": self.names("services"),
            "pods": self.names("pods"),
        }


@pytest.fixture
def cluster(tmp_path: Path) -> Iterator[Cluster]:
    project = tmp_path / "project"
    shutil.copytree(EXAMPLE, project, ignore=shutil.ignore_patterns("__pycache__", "out*"))
    registry = start_registry(tmp_path / "registry")
    running, simulator = start(tmp_path / "node", FAST, run_images={IMAGE: project})
    try:
        kubeconfig = write_kubeconfig(tmp_path / "kubeconfig", running.url)
        yield Cluster(running, EmulatorClient(running.url), registry, project, kubeconfig)
    finally:
        settle(running, tmp_path / "node" / "pods" / NAMESPACE)
        running.stop()
        simulator.kubelet.stop_all()  # a model server outlives nothing, even if stop timed out
        registry.stop()


def settle(running: RunningCluster, pods: Path) -> None:
    """Wait until the kubelet has stopped the processes of deleted pods (SIGTERM, then
    SIGKILL after the grace period; it removes each pod's directory last)."""
    client = EmulatorClient(running.url)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and pods.exists() and any(pods.iterdir()):
        _, body = client.request("GET", f"/api/v1/namespaces/{NAMESPACE}/pods")
        if (body or {}).get("items"):
            return  # pods that still exist (a finished Job keeps its own) stop with the node
        time.sleep(0.2)


def train(cli: CliRunner, cluster: Cluster, out: Path, *extra: str) -> CliResult:
    return cli(
        "train", "--output-dir", out, "--model-version", "7", *extra,
        cwd=cluster.project,
        env={"CI_COMMIT_SHA": COMMIT},
        timeout=900,
    )  # fmt: skip


def test_an_unreachable_cluster_is_exit_3_before_anything_is_created(
    tmp_path: Path, cli: CliRunner, cluster: Cluster
) -> None:
    dead = write_kubeconfig(tmp_path / "dead-kubeconfig", f"http://127.0.0.1:{free_port()}")
    cluster.configure(kubeconfig=str(dead))
    result = train(cli, cluster, tmp_path / "out")
    assert result.exit_code == 3, result.stderr
    assert "cannot reach the training cluster at http://127.0.0.1:" in result.stderr
    assert "nothing was created" in result.stderr
    assert cluster.leftovers() == {"jobs": [], "services": [], "pods": []}


def test_rbac_that_forbids_creating_jobs_is_exit_3_naming_verb_and_resource(
    tmp_path: Path, cli: CliRunner, cluster: Cluster
) -> None:
    cluster.running.cluster.faults.append(Fault(status=403, times=100, path="/jobs", method="POST"))
    cluster.configure()
    result = train(cli, cluster, tmp_path / "out")
    assert result.exit_code == 3, result.stderr
    assert (
        f"Kubernetes API refused create jobs.batch in namespace {NAMESPACE}: HTTP 403 "
        f"(RBAC: this identity may not create jobs.batch in namespace {NAMESPACE})"
    ) in result.stderr
    assert cluster.leftovers() == {"jobs": [], "services": [], "pods": []}  # Service removed


def test_a_worker_asking_for_a_gpu_no_node_has_fails_naming_the_resource(
    tmp_path: Path, cli: CliRunner, cluster: Cluster
) -> None:
    cluster.configure(
        resources={"nvidia.com/gpu": 1},
        # the emulator has no GPU node: its scheduler says so for pods that ask it to
        pod_annotations={"ci-plugins.dev/simulate": "unschedulable-gpu"},
        no_progress_timeout="4s",
    )
    result = train(cli, cluster, tmp_path / "out")
    assert result.exit_code == 3, result.stderr
    assert f"training Job {NAMESPACE}/{JOB} failed: UnschedulableNoScaleUp" in result.stderr
    assert "Insufficient nvidia.com/gpu" in result.stderr
    assert "pending: worker 0" in result.stderr
    assert cluster.leftovers() == {"jobs": [], "services": [], "pods": []}
    assert not (tmp_path / "out" / "model").exists()


@pytest.mark.parametrize(
    ("setting", "expected", "evidence"),
    [
        pytest.param(
            {"image": "registry.example.test/ml/digits-trian@sha256:" + "c" * 64},
            "ImageNotFound: pod digits-train-feedc0de-0-",
            "  container worker: state waiting (ImagePullBackOff), restarts 0\n"
            '  event Normal Pulling: Pulling image "registry.example.test/ml/digits-trian@',
            id="image-cannot-be-pulled",
        ),
        pytest.param(
            {"pod_annotations": {"ci-plugins.dev/simulate": "oom"}},  # the emulator kills it
            "OOMKilled: worker ",
            "  container worker: state terminated (OOMKilled), restarts 0",
            id="oom-killed",
        ),
    ],
)
def test_a_worker_that_cannot_run_fails_fast_and_leaves_no_job(
    tmp_path: Path,
    cli: CliRunner,
    cluster: Cluster,
    setting: dict[str, Any],
    expected: str,
    evidence: str,
) -> None:
    cluster.configure(**setting)
    started = time.monotonic()
    result = train(cli, cluster, tmp_path / "out")
    assert result.exit_code == 3, result.stderr
    assert f"training Job {NAMESPACE}/{JOB} failed: {expected}" in result.stderr
    assert time.monotonic() - started < 60  # not the time budget, not the back-off limit
    assert evidence in result.stderr  # verify's evidence for the pod, before the verdict
    assert cluster.leftovers() == {"jobs": [], "services": [], "pods": []}


def test_a_job_that_outlives_its_time_budget_fails_and_leaves_no_job(
    tmp_path: Path, cli: CliRunner, cluster: Cluster
) -> None:
    # workers wait for a GPU node that never comes, for longer than the budget: the
    # budget counts from the Job's start, pending included (no TensorFlow runs here)
    cluster.configure(
        resources={"nvidia.com/gpu": 1},
        pod_annotations={"ci-plugins.dev/simulate": "unschedulable-gpu"},
        time_budget="6s",
        no_progress_timeout="10m",  # the unschedulable grace is longer than the budget
    )
    started = time.monotonic()
    result = train(cli, cluster, tmp_path / "out")
    assert result.exit_code == 3, result.stderr
    assert (
        f"training Job {NAMESPACE}/{JOB} failed: TimeBudget: training ran past 6s "
        "(train.kubernetes.time_budget)"
    ) in result.stderr
    assert "pending: worker 0" in result.stderr  # what it was doing when the budget ran out
    # verify's evidence for the chief: why it is still pending
    assert (
        "  event Warning FailedScheduling: 0/3 nodes are available: 3 Insufficient nvidia.com/gpu."
    ) in result.stderr
    assert time.monotonic() - started < 40
    assert f"deleted Job {NAMESPACE}/{JOB} and its Service" in result.stderr
    assert cluster.leftovers() == {"jobs": [], "services": [], "pods": []}
    assert not (tmp_path / "out" / "model").exists()


def test_sigterm_deletes_the_job_and_exits_130(tmp_path: Path, cluster: Cluster) -> None:
    cluster.configure(
        resources={"nvidia.com/gpu": 1},
        pod_annotations={"ci-plugins.dev/simulate": "unschedulable-gpu-scaleup"},
    )
    stderr = tmp_path / "stderr"
    with stderr.open("w") as err:
        proc = subprocess.Popen(
            [sys.executable, "-m", "ci_plugins", "train", "--output-dir", str(tmp_path / "out")],
            cwd=cluster.project,
            env=clean_env({"CI_COMMIT_SHA": COMMIT}),
            stderr=err,
        )
        try:
            deadline = time.monotonic() + 60
            while "created Job" not in stderr.read_text() and time.monotonic() < deadline:
                time.sleep(0.2)
            assert cluster.leftovers()["jobs"] == [JOB]
            proc.send_signal(signal.SIGTERM)
            assert proc.wait(timeout=60) == 130
        finally:
            if proc.poll() is None:
                proc.kill()
    assert f"deleted Job {NAMESPACE}/{JOB} and its Service" in stderr.read_text()
    assert cluster.leftovers() == {"jobs": [], "services": [], "pods": []}


def test_a_second_run_for_the_same_commit_attaches_instead_of_starting_another_job(
    tmp_path: Path, cluster: Cluster
) -> None:
    cluster.configure(
        resources={"nvidia.com/gpu": 1},
        pod_annotations={"ci-plugins.dev/simulate": "unschedulable-gpu-scaleup"},
    )
    logs = [tmp_path / "first.err", tmp_path / "second.err"]
    procs = []
    try:
        for index, log in enumerate(logs):
            with log.open("w") as err:
                procs.append(
                    subprocess.Popen(
                        [sys.executable, "-m", "ci_plugins", "train", "--output-dir",
                         str(tmp_path / f"out{index}")],
                        cwd=cluster.project,
                        env=clean_env({"CI_COMMIT_SHA": COMMIT}),
                        stderr=err,
                    )
                )  # fmt: skip
            wanted = "created Job" if index == 0 else "attaching to Job"
            deadline = time.monotonic() + 60
            while wanted not in log.read_text() and time.monotonic() < deadline:
                time.sleep(0.2)
            assert wanted in log.read_text(), log.read_text()
        assert cluster.leftovers()["jobs"] == [JOB]  # one Job, watched twice
        procs[0].send_signal(signal.SIGTERM)
        assert procs[0].wait(timeout=60) == 130
        assert procs[1].wait(timeout=60) == 3  # its Job was cancelled under it
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.kill()
    assert f"Job {JOB} was deleted meanwhile" in logs[1].read_text()
    assert cluster.leftovers() == {"jobs": [], "services": [], "pods": []}


CRASH = """
import os

if os.environ.get("JOB_COMPLETION_INDEX") == "1":  # only the second worker
    raise RuntimeError("worker 1 lost its data shard")
"""


@pytest.mark.slow
def test_a_crashing_worker_fails_the_run_with_its_exit_code_and_leaves_no_job(
    tmp_path: Path, cli: CliRunner, cluster: Cluster
) -> None:
    model = cluster.project / "model.py"
    model.write_text(model.read_text(encoding="utf-8") + CRASH, encoding="utf-8")
    cluster.configure()
    result = train(cli, cluster, tmp_path / "out")
    assert result.exit_code == 2, result.stderr  # as a local train whose build() raises
    assert (
        f"training Job {NAMESPACE}/{JOB} failed: WorkerFailed: worker 1 (pod {JOB}-1-"
    ) in result.stderr, result.stderr
    assert "exited with code 2, which is never retried" in result.stderr
    assert "RuntimeError: worker 1 lost its data shard" in result.stderr  # the pod's log tail
    assert cluster.leftovers() == {"jobs": [], "services": [], "pods": []}
    assert not (tmp_path / "out" / "model").exists()


@pytest.mark.slow
def test_plain_model_fit_on_two_workers_fails_before_training_naming_the_keras_issue(
    tmp_path: Path, cli: CliRunner, cluster: Cluster
) -> None:
    model = cluster.project / "model.py"
    source = model.read_text(encoding="utf-8")
    custom_loop = (
        "fit=(lambda m, run: distributed_fit(m, run, strategy)) if multi_worker else None,"
    )
    assert custom_loop in source
    model.write_text(source.replace(custom_loop, "fit=None,"), encoding="utf-8")
    cluster.configure()
    result = train(cli, cluster, tmp_path / "out")
    assert result.exit_code == 2, result.stderr  # bad input: the Job never retries it
    assert "WorkerFailed: worker " in result.stderr
    assert "exited with code 2, which is never retried" in result.stderr
    # the worker's own message, in its log tail
    assert "TrainSpec has no fit= and 2 workers train together" in result.stderr
    assert "https://github.com/keras-team/keras/issues/20585" in result.stderr
    assert "epoch 1/" not in result.stderr.lower()  # it stopped before any training step
    assert cluster.leftovers() == {"jobs": [], "services": [], "pods": []}
    assert not (tmp_path / "out" / "model").exists()


@pytest.mark.slow
def test_a_chief_that_goes_silent_fails_after_the_no_progress_timeout(
    tmp_path: Path, cli: CliRunner, cluster: Cluster
) -> None:
    model = cluster.project / "model.py"
    hang = "\nimport time\n\ntime.sleep(600)  # stuck reading data: no epoch ever ends\n"
    model.write_text(model.read_text(encoding="utf-8") + hang, encoding="utf-8")
    # one worker: the silence is the chief's, and one TensorFlow process is cheaper than two
    cluster.configure(workers=1, no_progress_timeout="30s")  # TF alone imports in ~10s here
    result = train(cli, cluster, tmp_path / "out")
    assert result.exit_code == 3, result.stderr
    assert "[worker 0] strategy: multi_worker" in result.stderr  # it did start
    assert (
        f"training Job {NAMESPACE}/{JOB} failed: NoProgress: the chief logged nothing for 30s "
        "(train.kubernetes.no_progress_timeout)"
    ) in result.stderr
    assert f"deleted Job {NAMESPACE}/{JOB} and its Service" in result.stderr
    assert cluster.leftovers() == {"jobs": [], "services": [], "pods": []}
    assert not (tmp_path / "out" / "model").exists()


@pytest.mark.slow
def test_two_tensorflow_workers_train_the_digits_model_over_loopback(
    tmp_path: Path, cli: CliRunner, cluster: Cluster
) -> None:
    cluster.configure()
    out = tmp_path / "out"
    result = train(cli, cluster, out)
    assert result.exit_code == 0, result.stderr
    # both workers ran TensorFlow and joined one MultiWorkerMirroredStrategy cluster
    assert "[worker 0]" in result.stderr
    assert "epoch 12/12" in result.stderr.lower()
    # the other worker is a TensorFlow process of its own, in the same cluster spec
    second = [n for n in cluster.names("pods") if n.startswith(f"{JOB}-1-")]
    assert len(second) == 1, cluster.names("pods")
    _, log = cluster.client.request("GET", f"/api/v1/namespaces/{NAMESPACE}/pods/{second[0]}/log")
    assert "strategy: multi_worker (TF_CONFIG names 2 workers; this is worker:1)" in str(log)
    assert "trained as a non-chief worker; the chief writes the outputs" in str(log)
    manifest = json.loads((out / "model-manifest.json").read_text())
    assert manifest["training"]["strategy"] == "multi_worker"
    assert manifest["training"]["backend"] == "kubernetes"
    assert manifest["training"]["workers"] == 2
    assert manifest["source_commit"] == COMMIT
    assert directory_digest(out / "model" / "7") == manifest["model_digest"]
    metrics = json.loads((out / "metrics.json").read_text())["metrics"]
    assert metrics["accuracy"] >= 0.90
    # the rest of the loop takes the result as it takes a local train's
    manifest_file = out / "model-manifest.json"
    steps = [
        ("gate", "--metrics", out / "metrics.json"),
        ("package", "--model-dir", out / "model", "--manifest", manifest_file, "--registry",
         cluster.registry.repository("ml/digits")),
        ("render", "--manifest", manifest_file, "--env", "dev", "--output-dir", tmp_path / "r"),
    ]  # fmt: skip
    for step in steps:
        done = cli(*step, cwd=cluster.project)
        assert done.exit_code == 0, (step[0], done.stderr)
    manifest = json.loads(manifest_file.read_text())
    rendered = "".join(f.read_text() for f in sorted((tmp_path / "r").rglob("*.yaml")))
    assert manifest["artifact"].split("@")[1] in rendered  # the model runs pinned by digest
    # ... and promote records it in the environment repo as it records a local train's
    env_repo = make_bare_repo(tmp_path / "env.git")
    args = promote_args("dev", manifest_file, tmp_path / "r", "--env-repo", str(env_repo))
    promoted = cli(*args, cwd=cluster.project)
    assert promoted.exit_code == 0, promoted.stderr
    release = yaml.safe_load(git("show", "main:environments/dev/digits/release.yaml", cwd=env_repo))
    assert release["model"]["digest"] == manifest["model_digest"]
    # Argo CD (emulated) applies the release to the same cluster; its TF Serving pod starts
    # (the model pull, TensorFlow's import) while the re-run below attaches
    argocd_sync(cluster.running.url, env_repo, env="dev", app="digits")
    # a re-run for the same commit attaches to the finished Job and only collects
    again = train(cli, cluster, tmp_path / "again")
    assert again.exit_code == 0, again.stderr
    assert f"attaching to Job {NAMESPACE}/{JOB}" in again.stderr
    again_manifest = json.loads((tmp_path / "again" / "model-manifest.json").read_text())
    assert again_manifest["model_digest"] == manifest["model_digest"]
    # verify: exactly this release runs, and TF Serving lists model version 7 AVAILABLE
    verified = cli(
        "verify", "--env", "dev", "--env-repo", env_repo, "--kubeconfig", cluster.kubeconfig,
        "--timeout", "600", "--json", cwd=cluster.project, timeout=900,
    )  # fmt: skip
    assert verified.exit_code == 0, verified.stderr
    assert verified.json["verdict"] == "healthy"
    assert verified.json["commit"] == git("rev-parse", "main", cwd=env_repo).strip()
    model = next(o for o in verified.json["objects"] if o["kind"] == "Model")
    assert model["reason"] == "ModelAvailable", model
    assert "model digits version 7 AVAILABLE" in model["message"], model
    # the serving pod's init container pulled the chief's model by digest from the registry
    (serving,) = serving_pods(cluster)
    (puller,) = serving["spec"]["initContainers"]
    pinned = f"{cluster.registry.repository('ml/digits')}@{manifest['artifact'].split('@')[1]}"
    assert manifest["artifact"] == f"oci://{pinned}"
    assert pinned in puller["args"]
    (pulled,) = serving["status"]["initContainerStatuses"]
    assert pulled["state"]["terminated"]["exitCode"] == 0, pulled
    # a client's prediction through the Service: 10 class probabilities per image
    status, body = predict(
        cluster.client, namespace="ml-dev", service=service_of(tmp_path / "r"),
        model="digits", instances=GOLDEN["instances"],
    )  # fmt: skip
    assert status == 200, body
    predictions = body["predictions"]
    assert [len(row) for row in predictions] == [10] * len(GOLDEN["labels"])
    assert all(abs(sum(row) - 1) < 1e-3 for row in predictions), predictions
    assert [row.index(max(row)) for row in predictions] == GOLDEN["labels"], predictions


def serving_pods(cluster: Cluster) -> list[dict[str, Any]]:
    _, body = cluster.client.request("GET", "/api/v1/namespaces/ml-dev/pods")
    pods = (body or {}).get("items") or []
    return [p for p in pods if not p["metadata"].get("deletionTimestamp")]


def service_of(rendered: Path) -> str:
    """The name of the one Service the render wrote."""
    (name,) = [
        doc["metadata"]["name"]
        for path in sorted(rendered.rglob("*.yaml"))
        for doc in yaml.safe_load_all(path.read_text(encoding="utf-8"))
        if doc and doc.get("kind") == "Service"
    ]
    return str(name)
