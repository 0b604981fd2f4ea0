"""The Indexed Job, headless Service and TF_CONFIG of train.backend: kubernetes (pure)."""

from __future__ import annotations

import json
from typing import Any

import kubernetes_validate
import pytest

from ci_plugins.config.models import KubernetesTrainConfig
from ci_plugins.training.devices import parse_tf_config
from ci_plugins.training.kubernetes import render

IMAGE = "registry.example.com/ml/digits-train@sha256:" + "b" * 64
RUN = render.Run(
    app="digits",
    source_commit="0123456789abcdef0123456789abcdef01234567",
    model_version="42",
    artifact="registry.example.com/ml/digits-train-out:digits-train-01234567",
)


def config(**overrides: Any) -> KubernetesTrainConfig:
    return KubernetesTrainConfig.model_validate({"image": IMAGE, "namespace": "ml", **overrides})


def env_of(job: dict[str, Any]) -> dict[str, str]:
    container = job["spec"]["template"]["spec"]["containers"][0]
    return {var["name"]: var["value"] for var in container["env"]}


def test_the_job_is_named_after_the_app_and_source_commit() -> None:
    assert RUN.name == "digits-train-01234567"
    long = render.Run(app="a" * 53, source_commit="", model_version="1", artifact="x")
    assert long.name == "a" * 44 + "-train-nocommit"
    assert len(long.name) + len("-999") <= 63  # pod hostnames <job>-<index> stay DNS labels


@pytest.mark.parametrize("version", ["1.32.0", "1.33.0"])
def test_job_and_service_are_valid_kubernetes_objects(version: str) -> None:
    cfg = config(resources={"cpu": "500m", "nvidia.com/gpu": 1})
    for obj in (render.job(RUN, cfg), render.service(RUN, cfg)):
        kubernetes_validate.validate(obj, version, strict=True)


def test_the_job_is_indexed_with_one_pod_per_worker_and_succeeds_with_the_chief() -> None:
    spec = render.job(RUN, config(workers=3, time_budget="2h"))["spec"]
    assert spec["completionMode"] == "Indexed"
    assert (spec["completions"], spec["parallelism"]) == (3, 3)
    assert spec["successPolicy"] == {"rules": [{"succeededIndexes": "0"}]}
    assert spec["activeDeadlineSeconds"] == 7200
    assert spec["template"]["spec"]["restartPolicy"] == "Never"
    assert spec["template"]["spec"]["subdomain"] == RUN.name


def test_non_retryable_exit_codes_fail_the_job_at_once() -> None:
    rules = render.job(RUN, config())["spec"]["podFailurePolicy"]["rules"]
    assert rules[0] == {
        "action": "FailJob",
        "onExitCodes": {"containerName": "worker", "operator": "In", "values": [1, 2, 4]},
    }
    assert rules[1]["action"] == "Ignore"


def test_the_headless_service_selects_the_jobs_pods_before_they_are_ready() -> None:
    svc = render.service(RUN, config())
    assert svc["spec"]["clusterIP"] == "None"
    assert svc["spec"]["selector"] == {"job-name": RUN.name}
    assert svc["spec"]["publishNotReadyAddresses"] is True


def test_workers_are_addressed_by_their_pod_dns_names_by_default() -> None:
    env = env_of(render.job(RUN, config(workers=2)))
    assert json.loads(env[render.WORKERS_VARIABLE]) == [
        "digits-train-01234567-0.digits-train-01234567.ml.svc:2222",
        "digits-train-01234567-1.digits-train-01234567.ml.svc:2222",
    ]
    assert env["CI_COMMIT_SHA"] == RUN.source_commit
    assert env[render.ARTIFACT_VARIABLE] == RUN.artifact


def test_workers_sharing_one_host_network_get_a_port_each() -> None:
    cfg = config(workers=3, worker_address="127.0.0.1:{index_port}", port=24000)
    assert render.worker_addresses(RUN, cfg) == [
        "127.0.0.1:24000",
        "127.0.0.1:24001",
        "127.0.0.1:24002",
    ]


@pytest.mark.parametrize(("index", "chief"), [(0, True), (1, False)])
def test_tf_config_from_the_completion_index_makes_worker_0_the_chief(
    index: int, chief: bool
) -> None:
    raw = render.tf_config(["a:1", "b:2"], index)
    assert parse_tf_config(raw) == (2, f"worker:{index}", chief)


def test_an_index_outside_the_cluster_is_refused() -> None:
    with pytest.raises(ValueError, match=r"worker index 2 is not in 0\.\.1"):
        render.tf_config(["a:1", "b:2"], 2)


def test_resources_are_requests_and_limits_and_scheduling_keys_pass_through() -> None:
    cfg = config(
        resources={"memory": "2Gi", "cpu": 1, "nvidia.com/gpu": 1},
        node_selector={"pool": "gpu"},
        tolerations=[{"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"}],
    )
    pod = render.job(RUN, cfg)["spec"]["template"]["spec"]
    expected = {"cpu": "1", "memory": "2Gi", "nvidia.com/gpu": "1"}
    assert pod["containers"][0]["resources"] == {"requests": expected, "limits": expected}
    assert pod["nodeSelector"] == {"pool": "gpu"}
    assert pod["tolerations"] == [
        {"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"}
    ]


def test_the_pods_run_ci_plugins_train_in_worker_mode() -> None:
    container = render.job(RUN, config())["spec"]["template"]["spec"]["containers"][0]
    assert container["image"] == IMAGE
    assert container["command"] == ["ci-plugins"]
    assert container["args"][:2] == ["train", "--worker"]
    assert container["args"][-2:] == ["--model-version", "42"]


def test_rendering_is_deterministic() -> None:
    assert json.dumps(render.job(RUN, config())) == json.dumps(render.job(RUN, config()))
