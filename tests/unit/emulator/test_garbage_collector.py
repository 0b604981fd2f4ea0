"""The emulator's garbage collector: what a deleted owner takes with it, as on a real cluster.

A Deployment deleted the way Argo CD prunes it (a plain DELETE: Background propagation for
apps/v1) takes its ReplicaSets and their pods, so a pruned canary stops serving behind the
Service. A batch/v1 Job deleted without a policy leaves its pods (the API's default there is
Orphan); with propagationPolicy=Background its pods go too.
"""

from __future__ import annotations

from typing import Any

from ci_plugins_emulator.shapes import api_path

from tests.support.node import NAMESPACE, WEB_IMAGE, Node, web_container

Obj = dict[str, Any]


def _deployment(name: str) -> Obj:
    probe = {"httpGet": {"path": "/healthz", "port": "http"}, "periodSeconds": 1}
    labels = {"app": name}
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name, "namespace": NAMESPACE, "generation": 1},
        "spec": {
            "replicas": 1,
            "selector": {"matchLabels": labels},
            "template": {
                "metadata": {"labels": labels},
                "spec": {"containers": [web_container(readinessProbe=probe)]},
            },
        },
    }


def _service(name: str) -> Obj:
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": name, "namespace": NAMESPACE},
        "spec": {
            "selector": {"app": name},
            "ports": [{"name": "http", "port": 80, "targetPort": "http"}],
        },
    }


def _job(name: str) -> Obj:
    container = {"name": "work", "image": WEB_IMAGE, "command": ["python", "-c", "print('done')"]}
    return {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": {"name": name, "namespace": NAMESPACE},
        "spec": {"template": {"spec": {"restartPolicy": "Never", "containers": [container]}}},
    }


def _items(node: Node, api_version: str, kind: str) -> list[Obj]:
    _, body = node.client.request("GET", api_path(api_version, kind, NAMESPACE))
    return list((body or {}).get("items") or [])


def _pods_of(node: Node, prefix: str) -> list[Obj]:
    return [p for p in _items(node, "v1", "Pod") if p["metadata"]["name"].startswith(prefix)]


def _ready(pod: Obj) -> bool:
    conditions = (pod.get("status") or {}).get("conditions") or []
    return any(c["type"] == "Ready" and c["status"] == "True" for c in conditions)


def test_a_deleted_deployment_takes_its_replica_sets_and_pods_out_of_the_service(
    node: Node,
) -> None:
    node.create(_deployment("canary"))
    node.create(_service("canary"))
    node.wait_for("a ready pod", lambda: any(_ready(p) for p in _pods_of(node, "canary-")))
    assert node.proxy("canary", "healthz")[0] == 200
    (pod,) = _pods_of(node, "canary-")

    node.delete(_deployment("canary"))  # as Argo CD's prune: no DeleteOptions

    node.wait_for("no ReplicaSet", lambda: not _items(node, "apps/v1", "ReplicaSet"))
    node.wait_for("no pod", lambda: not _pods_of(node, "canary-"))
    name = pod["metadata"]["name"]  # the kubelet stops its process on its next pass
    node.wait_for(
        "the pod's process to stop", lambda: not node.simulator.kubelet.worker(NAMESPACE, name)
    )
    code, body = node.proxy("canary", "healthz")
    assert code == 503, body
    assert body["message"] == 'no endpoints available for service "canary"'


def test_a_job_deleted_without_a_policy_leaves_its_pods_as_the_batch_v1_api_does(
    node: Node,
) -> None:
    node.create(_job("once"))
    node.wait_for("a pod", lambda: _pods_of(node, "once-"))

    node.delete(_job("once"))

    node.wait_for("no Job", lambda: not _items(node, "batch/v1", "Job"))
    passes = node.simulator.passes
    node.simulator.cluster.changed.set()  # a whole controller pass after the delete
    node.wait_for("a pass", lambda: node.simulator.passes >= passes + 2)
    (pod,) = _pods_of(node, "once-")
    assert pod["metadata"]["ownerReferences"] == []


def test_a_job_deleted_with_background_propagation_takes_its_pods(node: Node) -> None:
    node.create(_job("twice"))
    node.wait_for("a pod", lambda: _pods_of(node, "twice-"))
    path = api_path("batch/v1", "Job", NAMESPACE, "twice")

    node.client.must("DELETE", path + "?propagationPolicy=Background")

    node.wait_for("no pod", lambda: not _pods_of(node, "twice-"))
