"""train.backend: kubernetes is validated at the door: every problem, exit 2, nothing created."""

from __future__ import annotations

from pathlib import Path

import pytest

from ci_plugins.config.models import load_config
from ci_plugins.errors import InputError
from tests.support.cli import CliRunner, write_text

DIGEST = "sha256:" + "a" * 64
IMAGE = f"registry.example.com/ml/digits-train@{DIGEST}"


def problems_of(tmp_path: Path, kubernetes: str) -> list[str]:
    path = write_text(
        tmp_path / "ci-plugins.yaml",
        f"app: digits\ntrain:\n  backend: kubernetes\n  kubernetes: {kubernetes}\n",
    )
    with pytest.raises(InputError) as caught:
        load_config(path)
    assert caught.value.exit_code == 2
    return list(caught.value.problems)


def test_a_complete_kubernetes_section_is_accepted(tmp_path: Path) -> None:
    path = write_text(
        tmp_path / "ci-plugins.yaml",
        f"""
app: digits
train:
  backend: kubernetes
  kubernetes:
    namespace: ml-train
    image: {IMAGE}
    workers: 4
    resources: {{cpu: 500m, memory: 2Gi, nvidia.com/gpu: 1}}
    node_selector: {{cloud.google.com/gke-accelerator: nvidia-l4}}
    tolerations: [{{key: nvidia.com/gpu, operator: Exists, effect: NoSchedule}}]
    time_budget: 2h
    no_progress_timeout: 10m
""",
    )
    k8s = load_config(path).train.kubernetes
    assert k8s is not None
    assert (k8s.workers, k8s.time_budget, k8s.no_progress_timeout) == (4, 7200, 600)
    assert k8s.resources == {"cpu": "500m", "memory": "2Gi", "nvidia.com/gpu": 1}


def test_local_is_the_default_backend_and_needs_no_cluster(tmp_path: Path) -> None:
    config = load_config(write_text(tmp_path / "ci-plugins.yaml", "app: digits\n"))
    assert config.train.backend == "local"
    assert config.train.kubernetes is None


@pytest.mark.parametrize(
    ("kubernetes", "expected"),
    [
        pytest.param(
            f"{{image: {IMAGE}, workers: 0}}",
            "train.kubernetes.workers: Input should be greater than or equal to 1",
            id="zero-workers",
        ),
        pytest.param(
            f"{{image: {IMAGE}, workers: -2}}",
            "train.kubernetes.workers: Input should be greater than or equal to 1",
            id="negative-workers",
        ),
        pytest.param(
            "{workers: 2}", "train.kubernetes.image: required key is missing", id="missing-image"
        ),
        pytest.param(
            "{image: digits-train:latest}",
            "train.kubernetes.image: expected an image pinned by digest "
            "(name@sha256:<64 hex>), got 'digits-train:latest'",
            id="unpinned-image",
        ),
        pytest.param(
            f"{{image: {IMAGE}, resources: {{cpu: lots}}}}",
            "train.kubernetes.resources: cpu: 'lots' is not a Kubernetes quantity "
            "(e.g. 500m, 2, 4Gi)",
            id="cpu-not-a-quantity",
        ),
        pytest.param(
            f"{{image: {IMAGE}, resources: {{memory: 2GB}}}}",
            "train.kubernetes.resources: memory: '2GB' is not a Kubernetes quantity "
            "(e.g. 500m, 2, 4Gi)",
            id="memory-unit-wrong",
        ),
        pytest.param(
            f"{{image: {IMAGE}, resources: {{nvidia.com/gpu: '0.5'}}}}",
            "train.kubernetes.resources: nvidia.com/gpu: '0.5' must be a whole number "
            "(extended resource)",
            id="half-a-gpu",
        ),
        pytest.param(
            f"{{image: {IMAGE}, resources: {{cpu: '0'}}}}",
            "train.kubernetes.resources: cpu: '0' must be more than zero",
            id="zero-cpu",
        ),
        pytest.param(
            f"{{image: {IMAGE}, worker_address: '127.0.0.1:{{port}}'}}",
            "train.kubernetes.worker_address: must contain {index} or {index_port}: "
            "every worker needs its own",
            id="one-address-for-all",
        ),
        pytest.param(
            f"{{image: {IMAGE}, worker_address: '{{host}}:{{port}}'}}",
            "train.kubernetes.worker_address: unknown placeholder(s) ['host']; known: "
            "['index', 'index_port', 'job', 'namespace', 'port', 'service']",
            id="unknown-placeholder",
        ),
        pytest.param(
            f"{{image: {IMAGE}, tolerations: [{{operator: Sometimes}}]}}",
            "train.kubernetes.tolerations.0.operator: expected 'Exists' or 'Equal', "
            "got 'Sometimes'",
            id="toleration-operator",
        ),
    ],
)
def test_a_wrong_kubernetes_setting_names_its_key(
    tmp_path: Path, kubernetes: str, expected: str
) -> None:
    assert expected in problems_of(tmp_path, kubernetes)


def test_backend_kubernetes_without_its_section_is_rejected(tmp_path: Path) -> None:
    path = write_text(tmp_path / "ci-plugins.yaml", "app: digits\ntrain: {backend: kubernetes}\n")
    with pytest.raises(InputError) as caught:
        load_config(path)
    assert caught.value.problems == [
        "train: backend: kubernetes needs a train.kubernetes section (at least image)"
    ]


def test_train_with_zero_workers_exits_2_before_anything_is_written(
    tmp_path: Path, cli: CliRunner
) -> None:
    write_text(
        tmp_path / "ci-plugins.yaml",
        f"app: digits\ntrain:\n  backend: kubernetes\n  kubernetes: {{image: {IMAGE}, "
        "workers: 0, kubeconfig: /nonexistent}\n",
    )
    result = cli("train", "--output-dir", tmp_path / "out")
    assert result.exit_code == 2, result.stderr
    assert "train.kubernetes.workers: Input should be greater than or equal to 1" in result.stderr
    assert not (tmp_path / "out").exists()
