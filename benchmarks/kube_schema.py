"""The Kubernetes schema check of render/validate: cost per object, cached vs uncached.

Ours: `ci_plugins.render.kube_schema.check_objects` (validators loaded once per kind and
reused). Baseline: `kubernetes_validate.validate` per object, which reads the schema and
the shared definitions from disk on every call. Objects: a Deployment, a Service, a
ConfigMap and a ServiceAccount shaped like the shipped chart's.

Run: .venv/bin/python benchmarks/kube_schema.py [--runs N] [--quick]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

import kubernetes_validate  # noqa: E402

from ci_plugins.render import kube_schema  # noqa: E402

LABELS = {"app.kubernetes.io/name": "digits", "app.kubernetes.io/instance": "digits"}
OBJECTS: dict[str, dict[str, Any]] = {
    "deployment-digits.yaml": {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "digits", "namespace": "ml-dev", "labels": LABELS},
        "spec": {
            "replicas": 2,
            "selector": {"matchLabels": LABELS},
            "template": {
                "metadata": {"labels": LABELS},
                "spec": {
                    "containers": [
                        {
                            "name": "model-server",
                            "image": "tensorflow/serving:2.14.1",
                            "args": ["--rest_api_port=8501", "--model_name=digits"],
                            "ports": [{"name": "http", "containerPort": 8501}],
                            "readinessProbe": {
                                "httpGet": {"path": "/v1/models/digits", "port": "http"}
                            },
                            "resources": {"requests": {"cpu": "250m", "memory": "512Mi"}},
                        }
                    ]
                },
            },
        },
    },
    "service-digits.yaml": {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": "digits", "namespace": "ml-dev", "labels": LABELS},
        "spec": {"selector": LABELS, "ports": [{"name": "http", "port": 8501}]},
    },
    "configmap-digits.yaml": {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": "digits", "namespace": "ml-dev"},
        "data": {"model_version": "3"},
    },
    "serviceaccount-digits.yaml": {
        "apiVersion": "v1",
        "kind": "ServiceAccount",
        "metadata": {"name": "digits", "namespace": "ml-dev"},
    },
}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=50)
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    runs = 10 if args.quick else args.runs
    version = kube_schema.resolve_version(None)
    count = len(OBJECTS)

    start = time.perf_counter()
    kube_schema.check_objects(OBJECTS, version=version)  # loads every validator once
    cold = (time.perf_counter() - start) / count

    warm = []
    for _ in range(runs):
        start = time.perf_counter()
        report = kube_schema.check_objects(OBJECTS, version=version)
        warm.append((time.perf_counter() - start) / count)
    assert not report.problems, report.problems

    uncached = []
    for _ in range(max(3, runs // 5)):
        start = time.perf_counter()
        for obj in OBJECTS.values():
            kubernetes_validate.validate(obj, version, strict=True)
        uncached.append((time.perf_counter() - start) / count)

    ours, base = statistics.median(warm), statistics.median(uncached)
    print(
        f"| kube schema check per object (first of a run: {cold * 1000:.1f} ms) "
        f"| {ours * 1000:.2f} ms | {base * 1000:.2f} ms | {(ours - base) * 1000:+.2f} ms "
        f"| {ours / base:.2f} | cached, well under the uncached library call |"
    )


if __name__ == "__main__":
    main()
