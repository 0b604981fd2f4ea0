"""The Indexed Job and headless Service of a training run, and each worker's TF_CONFIG (pure).

One pod per worker; its completion index is its TensorFlow worker index, and worker 0 is
the chief (successPolicy: the Job succeeds when index 0 does). Exit codes our CLI uses for
"never retry" (1 a check said no, 2 bad input, 4 a bug) fail the Job at once; an exit 3
(an outside system) is retried up to backoffLimit.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from ci_plugins.config.models import KubernetesTrainConfig

Obj = dict[str, Any]
PORT_NAME = "tf-grpc"
CONTAINER = "worker"
WORKERS_VARIABLE = "CI_PLUGINS_TRAIN_WORKERS"  # JSON list of "host:port", index order
ARTIFACT_VARIABLE = "CI_PLUGINS_TRAIN_ARTIFACT"  # where the chief pushes its outputs
COMMIT_LABEL = "ci-plugins.dev/source-commit"
APP_LABEL = "app.kubernetes.io/instance"
NON_RETRYABLE_EXITS = [1, 2, 4]
BACKOFF_LIMIT = 2
FINISHED_TTL = 3600  # a succeeded Job stays this long: a re-run of its commit just collects
OUTPUT_MOUNT = "/var/lib/ci-plugins-train"  # an emptyDir: the chief's outputs before the push


@dataclass(frozen=True)
class Run:
    """One training run: what every object of it is named after."""

    app: str
    source_commit: str
    model_version: str
    artifact: str  # host[:port]/repository:tag the chief pushes to
    pipeline_url: str = ""

    @property
    def name(self) -> str:
        """`<app>-train-<commit[:8]>`: one Job per source commit (a re-run attaches)."""
        short = (self.source_commit or "nocommit")[:8].lower()
        return f"{self.app[:44].rstrip('-')}-train-{short}"


def worker_addresses(run: Run, cfg: KubernetesTrainConfig) -> list[str]:
    """Every worker's address, in index order, from train.kubernetes.worker_address."""
    return [
        cfg.worker_address.format(
            job=run.name,
            index=index,
            service=run.name,
            namespace=cfg.namespace,
            port=cfg.port,
            index_port=cfg.port + index,
        )
        for index in range(cfg.workers)
    ]


def tf_config(addresses: list[str], index: int) -> str:
    """TF_CONFIG for worker `index` (worker 0 is the chief, as MultiWorkerMirrored expects)."""
    if not 0 <= index < len(addresses):
        raise ValueError(f"worker index {index} is not in 0..{len(addresses) - 1}")
    return json.dumps(
        {"cluster": {"worker": addresses}, "task": {"type": "worker", "index": index}},
        sort_keys=True,
    )


def labels(run: Run) -> dict[str, str]:
    return {
        "app.kubernetes.io/name": "ci-plugins-train",
        APP_LABEL: run.app,
        COMMIT_LABEL: (run.source_commit or "nocommit")[:63],
    }


def service(run: Run, cfg: KubernetesTrainConfig) -> Obj:
    """The headless Service that gives each worker pod its DNS name."""
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": run.name, "namespace": cfg.namespace, "labels": labels(run)},
        "spec": {
            "clusterIP": "None",
            "publishNotReadyAddresses": True,  # workers must find each other before Ready
            "selector": {"job-name": run.name},
            "ports": [{"name": PORT_NAME, "port": cfg.port, "targetPort": cfg.port}],
        },
    }


def job(run: Run, cfg: KubernetesTrainConfig) -> Obj:
    """The Indexed Job: completions = parallelism = workers, successPolicy on index 0."""
    return {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": {"name": run.name, "namespace": cfg.namespace, "labels": labels(run)},
        "spec": {
            "completionMode": "Indexed",
            "completions": cfg.workers,
            "parallelism": cfg.workers,
            "backoffLimit": BACKOFF_LIMIT,
            "ttlSecondsAfterFinished": FINISHED_TTL,
            "activeDeadlineSeconds": max(1, int(cfg.time_budget)),
            "successPolicy": {"rules": [{"succeededIndexes": "0"}]},
            "podFailurePolicy": {
                "rules": [
                    {
                        "action": "FailJob",
                        "onExitCodes": {
                            "containerName": CONTAINER,
                            "operator": "In",
                            "values": NON_RETRYABLE_EXITS,
                        },
                    },
                    {
                        "action": "Ignore",  # preemption and node drains are not the model's fault
                        "onPodConditions": [{"type": "DisruptionTarget", "status": "True"}],
                    },
                ]
            },
            "template": {
                "metadata": {"labels": labels(run), "annotations": dict(cfg.pod_annotations)},
                "spec": _pod_spec(run, cfg),
            },
        },
    }


def _pod_spec(run: Run, cfg: KubernetesTrainConfig) -> Obj:
    spec: Obj = {
        "restartPolicy": "Never",  # podFailurePolicy requires it; the Job retries
        "subdomain": run.name,  # with the headless Service: <job>-<index>.<job>.<ns>.svc
        "containers": [_container(run, cfg)],
        "volumes": [{"name": "output", "emptyDir": {}}],
    }
    if cfg.node_selector:
        spec["nodeSelector"] = dict(sorted(cfg.node_selector.items()))
    if cfg.tolerations:
        spec["tolerations"] = [t.model_dump(exclude_none=True) for t in cfg.tolerations]
    return spec


def _container(run: Run, cfg: KubernetesTrainConfig) -> Obj:
    env = [
        {"name": WORKERS_VARIABLE, "value": json.dumps(worker_addresses(run, cfg))},
        {"name": ARTIFACT_VARIABLE, "value": run.artifact},
        {"name": "CI_COMMIT_SHA", "value": run.source_commit},
        {"name": "CI_PIPELINE_URL", "value": run.pipeline_url},
        {"name": "PYTHONUNBUFFERED", "value": "1"},  # epoch lines reach the log at once
    ]
    container: Obj = {
        "name": CONTAINER,
        "image": cfg.image,
        "command": ["ci-plugins"],
        "args": [
            *("train", "--worker", "--output-dir", f"{OUTPUT_MOUNT}/out"),
            *("--model-version", run.model_version),
        ],
        "volumeMounts": [{"name": "output", "mountPath": OUTPUT_MOUNT}],
        "env": env,
        "ports": [{"name": PORT_NAME, "containerPort": cfg.port}],
    }
    if cfg.resources:
        amounts = {k: str(v) for k, v in sorted(cfg.resources.items())}
        container["resources"] = {"requests": amounts, "limits": dict(amounts)}
    return container
