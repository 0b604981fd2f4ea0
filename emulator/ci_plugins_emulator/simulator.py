"""LOCAL CLUSTER EMULATOR: plays the Deployment/ReplicaSet/Job controllers, the garbage
collector, the scheduler, EndpointSlices, a Gateway controller's route status and Argo CD's
health; the kubelet (kubelet.py) runs the pods as processes.

It reads kmock's in-memory objects and writes through the emulator's own HTTP API, so every
change reaches watches like a real controller's would. It is event-driven: a pass over the
objects runs when something was written (by a client, a controller or the kubelet) and
otherwise only every `Timing.resync` seconds (progress deadlines), so an idle cluster costs
nothing. What cannot happen for real here is simulated by a pod template annotation
`ci-plugins.dev/simulate: <mode>`: `unschedulable-gpu` (no GPU node ever comes),
`unschedulable-gpu-scaleup` (a GPU node arrives after `Timing.scale_up_after` seconds) and
`oom` (the container's process is killed as OOMKilled shortly after it starts).
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ci_plugins_emulator import LABEL
from ci_plugins_emulator.kubelet import Kubelet, NodeApi
from ci_plugins_emulator.server import EmulatedCluster
from ci_plugins_emulator.shapes import (
    api_path,
    event,
    now_iso,
    replace_patch,
    uid_for,
)
from ci_plugins_emulator.timing import Timing

log = logging.getLogger("ci_plugins_emulator")
Obj = dict[str, Any]
SIMULATE = "ci-plugins.dev/simulate"
INDEX = "batch.kubernetes.io/job-completion-index"
GPU_MESSAGE = (
    "0/3 nodes are available: 3 Insufficient nvidia.com/gpu. preemption: 0/3 nodes are "
    "available: 3 No preemption victims found for incoming pod."
)


@dataclass
class Simulator:
    cluster: EmulatedCluster
    root: Path
    timing: Timing = field(default_factory=Timing)
    run_images: dict[str, Path] = field(default_factory=dict)
    targets_file: Path | None = None
    born: dict[str, float] = field(default_factory=dict)
    emitted: set[str] = field(default_factory=set)
    counter: int = 0
    passes: int = 0
    kubelet: Kubelet = field(init=False)

    def __post_init__(self) -> None:
        self.kubelet = Kubelet(
            api=NodeApi(objects=self.objects, set_status=self.set_status, create=self.create),
            root=self.root,
            run_images=self.run_images,
            timing=self.timing,
            targets_file=self.targets_file,
        )

    async def run(self) -> None:
        self.cluster.node = self.kubelet
        wake = self.cluster.changed
        loop = asyncio.get_running_loop()
        try:
            while True:
                wake.clear()
                try:
                    await self.tick(loop.time())
                except asyncio.CancelledError:
                    raise
                except Exception:  # keep controlling; the log tells what went wrong
                    log.exception("%s controller pass failed", LABEL)
                self.passes += 1
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(wake.wait(), self.timing.resync)
        finally:
            await self.kubelet.shutdown()

    # -- reading and writing the emulated API -----------------------------------------
    def objects(self, plural: str, namespace: str | None = None) -> list[Obj]:
        found = []
        for (resource, ns, _), obj in self.cluster.objects.items():
            if resource.plural == plural and not obj.deleted and (namespace in (None, ns)):
                found.append(dict(obj.raw))
        return found

    async def _send(self, method: str, path: str, body: Any = None) -> None:
        headers = {"Content-Type": "application/merge-patch+json"} if method == "PATCH" else {}
        async with self.cluster.request(method, path, json=body, headers=headers) as resp:
            await resp.read()

    async def create(self, obj: Obj) -> None:
        meta = obj["metadata"]
        await self._send("POST", api_path(obj["apiVersion"], obj["kind"], meta["namespace"]), obj)

    async def patch(self, obj: Obj, patch: Obj, *, sub: str = "") -> None:
        meta = obj["metadata"]
        path = api_path(obj["apiVersion"], obj["kind"], meta["namespace"], meta["name"])
        await self._send("PATCH", path + sub, patch)

    async def set_status(self, obj: Obj, status: Obj) -> None:
        if obj.get("status") != status:
            await self.patch(
                obj, replace_patch({"status": obj.get("status")}, {"status": status}), sub="/status"
            )

    async def delete(self, obj: Obj) -> None:
        meta = obj["metadata"]
        await self._send(
            "DELETE", api_path(obj["apiVersion"], obj["kind"], meta["namespace"], meta["name"])
        )

    # -- one step of every controller ---------------------------------------------------
    async def tick(self, now: float) -> None:
        await self.collect_garbage()
        for dep in self.objects("deployments"):
            await self.deployment(dep, now)
        for rs in self.objects("replicasets"):
            await self.replicaset(rs)
        self.kubelet.sync(await self.schedule(self.objects("pods"), now))
        for svc in self.objects("services"):
            await self.service(svc)
        for route in self.objects("httproutes"):
            await self.http_route(route)
        for hpa in self.objects("horizontalpodautoscalers"):
            await self.set_status(
                hpa,
                {
                    **(hpa.get("status") or {}),
                    "currentReplicas": 1,
                    "desiredReplicas": 1,
                    "conditions": [
                        {
                            "type": "AbleToScale",
                            "status": "True",
                            "reason": "SucceededGetScale",
                            "message": "ok",
                            "lastTransitionTime": "2026-01-01T00:00:00Z",
                        }
                    ],
                },
            )
        for pvc in self.objects("persistentvolumeclaims"):
            await self.set_status(pvc, {"phase": "Bound"})
        for job in self.objects("jobs"):
            await self.job(job, now)
        for app in self.objects("applications"):
            await self.application(app)

    async def collect_garbage(self) -> None:
        """The garbage collector: delete every object whose owners are all gone, level by
        level (a pruned Deployment's ReplicaSets, then their pods), as background deletion
        does. Without it a pruned canary's pods kept serving behind the Service (#12)."""
        while True:
            live = self._alive()
            alive = {obj.raw["metadata"].get("uid") for obj in live}
            orphans = [
                dict(obj.raw)
                for obj in live
                if (refs := obj.raw["metadata"].get("ownerReferences"))
                and not any(ref.get("uid") in alive for ref in refs)
            ]
            if not orphans:
                return
            for orphan in orphans:
                await self.delete(orphan)

    def _alive(self) -> list[Any]:
        return [obj for obj in list(self.cluster.objects.values()) if not obj.deleted]

    async def deployment(self, dep: Obj, now: float) -> None:
        meta = dep["metadata"]
        spec = dep.get("spec") or {}
        desired = spec.get("replicas", 1)
        template = spec.get("template") or {}
        digest = hashlib.sha256(json.dumps(template, sort_keys=True).encode()).hexdigest()[:10]
        owned = [rs for rs in self.objects("replicasets", meta["namespace"]) if _owned_by(rs, dep)]
        new = next(
            (rs for rs in owned if rs["metadata"]["labels"].get("pod-template-hash") == digest),
            None,
        )
        revisions = [
            int(rs["metadata"]["annotations"].get("deployment.kubernetes.io/revision", 0))
            for rs in owned
        ]
        if new is None:
            revision = str(max(revisions, default=0) + 1)
            await self.create(self._new_rs(dep, digest, revision, desired))
            await self.patch(
                dep, {"metadata": {"annotations": {"deployment.kubernetes.io/revision": revision}}}
            )
            self.born[f"progress/{meta['uid']}"] = now
            return
        revision = new["metadata"]["annotations"]["deployment.kubernetes.io/revision"]
        if (meta.get("annotations") or {}).get("deployment.kubernetes.io/revision") != revision:
            await self.patch(
                dep, {"metadata": {"annotations": {"deployment.kubernetes.io/revision": revision}}}
            )
        pods = self.objects("pods", meta["namespace"])
        new_pods = [p for p in pods if _owned_by(p, new)]
        new_ready = sum(1 for p in new_pods if _ready(p))
        if (new.get("spec") or {}).get("replicas") != desired:
            await self.patch(new, {"spec": {"replicas": desired}})
        old_pods = []
        for rs in owned:
            if rs is new or rs["metadata"]["name"] == new["metadata"]["name"]:
                continue
            want = max(0, desired - new_ready)
            if (rs.get("spec") or {}).get("replicas", 0) > want:
                await self.patch(rs, {"spec": {"replicas": want}})
            old_pods += [p for p in pods if _owned_by(p, rs)]
        ready = sum(1 for p in new_pods + old_pods if _ready(p))
        complete = new_ready >= desired and not old_pods
        started = self.born.setdefault(f"progress/{meta['uid']}", now)
        deadline = spec.get("progressDeadlineSeconds", 600)
        progressing = (
            "True",
            "NewReplicaSetAvailable",
            f'ReplicaSet "{new["metadata"]["name"]}" has successfully progressed.',
        )
        if not complete:
            progressing = (
                "True",
                "ReplicaSetUpdated",
                f'ReplicaSet "{new["metadata"]["name"]}" is progressing.',
            )
            if now - started > deadline:
                progressing = (
                    "False",
                    "ProgressDeadlineExceeded",
                    f'ReplicaSet "{new["metadata"]["name"]}" has timed out progressing.',
                )
        status = {
            "observedGeneration": meta.get("generation", 1),
            "replicas": len(new_pods) + len(old_pods),
            "updatedReplicas": len(new_pods),
            "readyReplicas": ready,
            "availableReplicas": ready,
            "unavailableReplicas": max(0, desired - ready),
            "conditions": [
                _condition(
                    "Available",
                    "True" if ready >= desired else "False",
                    "MinimumReplicasAvailable"
                    if ready >= desired
                    else "MinimumReplicasUnavailable",
                    "Deployment has minimum availability."
                    if ready >= desired
                    else "Deployment does not have minimum availability.",
                ),
                _condition("Progressing", *progressing),
            ],
        }
        await self.set_status(dep, status)

    def _new_rs(self, dep: Obj, digest: str, revision: str, desired: int) -> Obj:
        meta = dep["metadata"]
        template = json.loads(json.dumps((dep.get("spec") or {}).get("template") or {}))
        template.setdefault("metadata", {}).setdefault("labels", {})["pod-template-hash"] = digest
        selector = json.loads(json.dumps((dep.get("spec") or {}).get("selector") or {}))
        selector.setdefault("matchLabels", {})["pod-template-hash"] = digest
        name = f"{meta['name']}-{digest}"
        return {
            "apiVersion": "apps/v1",
            "kind": "ReplicaSet",
            "metadata": {
                "name": name,
                "namespace": meta["namespace"],
                "uid": uid_for(f"rs/{meta['namespace']}/{name}"),
                "generation": 1,
                "creationTimestamp": now_iso(),
                "labels": dict(template["metadata"]["labels"]),
                "annotations": {"deployment.kubernetes.io/revision": revision},
                "ownerReferences": [_owner(dep)],
            },
            "spec": {"replicas": desired, "selector": selector, "template": template},
            "status": {"replicas": 0},
        }

    async def replicaset(self, rs: Obj) -> None:
        meta = rs["metadata"]
        pods = [p for p in self.objects("pods", meta["namespace"]) if _owned_by(p, rs)]
        want = (rs.get("spec") or {}).get("replicas", 1)
        for _ in range(want - len(pods)):
            await self.create(self._new_pod(rs))
        for pod in sorted(pods, key=lambda p: p["metadata"]["creationTimestamp"], reverse=True)[
            : max(0, len(pods) - want)
        ]:
            await self.delete(pod)
        ready = sum(1 for p in pods if _ready(p))
        await self.set_status(
            rs,
            {
                "observedGeneration": meta.get("generation", 1),
                "replicas": min(len(pods), want),
                "fullyLabeledReplicas": min(len(pods), want),
                "readyReplicas": ready,
                "availableReplicas": ready,
            },
        )

    def _new_pod(self, rs: Obj) -> Obj:
        self.counter += 1
        meta = rs["metadata"]
        template = (rs.get("spec") or {}).get("template") or {}
        suffix = hashlib.sha256(f"{meta['name']}/{self.counter}".encode()).hexdigest()[:5]
        name = f"{meta['name']}-{suffix}"
        tmeta = template.get("metadata") or {}
        return {
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": {
                "name": name,
                "namespace": meta["namespace"],
                "uid": uid_for(f"pod/{meta['namespace']}/{name}"),
                "creationTimestamp": now_iso(),
                "labels": dict(tmeta.get("labels") or {}),
                "annotations": dict(tmeta.get("annotations") or {}),
                "ownerReferences": [_owner(rs)],
            },
            "spec": template.get("spec") or {"containers": []},
            "status": {"phase": "Pending", "qosClass": "BestEffort"},
        }

    async def schedule(self, pods: list[Obj], now: float) -> list[Obj]:
        """The scheduler: every pod binds to the one node, except in the simulated GPU modes
        (a GPU node cannot come here); returns the pods the kubelet runs."""
        bound = []
        for pod in pods:
            meta = pod["metadata"]
            mode = (meta.get("annotations") or {}).get(SIMULATE, "")
            age = now - self.born.setdefault(meta["uid"], now)
            if mode.startswith("unschedulable-gpu") and not (
                mode.endswith("scaleup") and age >= self.timing.scale_up_after
            ):
                await self._unschedulable(pod, scale_up=mode.endswith("scaleup"))
                continue
            bound.append(pod)
        return bound

    async def _unschedulable(self, pod: Obj, *, scale_up: bool) -> None:
        await self._event(pod, "FailedScheduling", GPU_MESSAGE, "default-scheduler", warning=True)
        if scale_up:
            await self._event(
                pod,
                "TriggeredScaleUp",
                "pod triggered scale-up: [{gpu-pool 1->2 (max: 4)}]",
                "cluster-autoscaler",
            )
        else:
            await self._event(
                pod,
                "NotTriggerScaleUp",
                "pod didn't trigger scale-up: 1 max node group size reached",
                "cluster-autoscaler",
            )
        await self.set_status(
            pod,
            {
                "phase": "Pending",
                "qosClass": "BestEffort",
                "conditions": [_condition("PodScheduled", "False", "Unschedulable", GPU_MESSAGE)],
            },
        )

    async def _event(
        self, obj: Obj, reason: str, message: str, component: str, *, warning: bool = False
    ) -> None:
        key = f"{obj['metadata']['uid']}/{reason}"
        if key in self.emitted:
            return
        self.emitted.add(key)
        await self.create(event(obj, reason, message, component, warning=warning))

    async def service(self, svc: Obj) -> None:
        meta = svc["metadata"]
        spec = svc.get("spec") or {}
        if spec.get("type") != "ExternalName" and not spec.get("clusterIP"):
            await self.patch(svc, {"spec": {"clusterIP": f"10.96.0.{int(meta['uid'][-2:], 16)}"}})
        selector = spec.get("selector") or {}
        if not selector:
            return
        pods = [p for p in self.objects("pods", meta["namespace"]) if _matches(selector, p)]
        endpoints = [
            {
                "addresses": [p["status"]["podIP"]],
                "conditions": {"ready": _ready(p), "serving": _ready(p), "terminating": False},
                "targetRef": {
                    "kind": "Pod",
                    "name": p["metadata"]["name"],
                    "namespace": meta["namespace"],
                    "uid": p["metadata"]["uid"],
                },
            }
            for p in pods
            if (p.get("status") or {}).get("podIP")
        ]
        name = f"{meta['name']}-emul"
        existing = [
            s
            for s in self.objects("endpointslices", meta["namespace"])
            if s["metadata"]["name"] == name
        ]
        ports = [
            {
                "name": p.get("name"),
                "port": p.get("targetPort")
                if isinstance(p.get("targetPort"), int)
                else p.get("port"),
                "protocol": "TCP",
            }
            for p in spec.get("ports") or []
        ]
        if not existing:
            await self.create(
                {
                    "apiVersion": "discovery.k8s.io/v1",
                    "kind": "EndpointSlice",
                    "metadata": {
                        "name": name,
                        "namespace": meta["namespace"],
                        "uid": uid_for(f"slice/{meta['namespace']}/{name}"),
                        "creationTimestamp": now_iso(),
                        "labels": {"kubernetes.io/service-name": meta["name"]},
                    },
                    "addressType": "IPv4",
                    "endpoints": endpoints,
                    "ports": ports,
                }
            )
        elif existing[0].get("endpoints") != endpoints:
            await self.patch(existing[0], {"endpoints": endpoints})

    async def http_route(self, route: Obj) -> None:
        """A Gateway controller's RouteParentStatus: every parentRef's Gateway accepts the
        route (the emulator has no Gateway objects); ResolvedRefs is False with
        BackendNotFound while a backendRef names a Service that does not exist."""
        meta = route["metadata"]
        namespace = meta["namespace"]
        services = {s["metadata"]["name"] for s in self.objects("services", namespace)}
        missing = [
            str(ref.get("name"))
            for rule in (route.get("spec") or {}).get("rules") or []
            for ref in rule.get("backendRefs") or []
            if ref.get("kind", "Service") == "Service"
            and ref.get("namespace", namespace) == namespace
            and ref.get("name") not in services
        ]
        generation = meta.get("generation", 1)
        resolved = (
            _condition("ResolvedRefs", "False", "BackendNotFound",
                       f"backend Service(s) not found: {', '.join(sorted(missing))}")
            if missing
            else _condition("ResolvedRefs", "True", "ResolvedRefs", "all references resolved")
        )  # fmt: skip
        accepted = _condition("Accepted", "True", "Accepted", "accepted by the emulated Gateway")
        parents = [
            {
                "parentRef": ref,
                "controllerName": "ci-plugins.dev/emulated-gateway",
                "conditions": [
                    {**accepted, "observedGeneration": generation},
                    {**resolved, "observedGeneration": generation},
                ],
            }
            for ref in (route.get("spec") or {}).get("parentRefs") or []
        ]
        await self.set_status(route, {"parents": parents})

    async def job(self, job: Obj, now: float) -> None:
        """The Job controller: pods up to parallelism until completions succeed (Indexed
        jobs get JOB_COMPLETION_INDEX), Failed after backoffLimit pod failures."""
        meta = job["metadata"]
        spec = job.get("spec") or {}
        completions = int(spec.get("completions") or 1)
        parallelism = int(spec.get("parallelism") or 1)
        indexed = spec.get("completionMode") == "Indexed"
        pods = [p for p in self.objects("pods", meta["namespace"]) if _owned_by(p, job)]
        phases = [(p.get("status") or {}).get("phase") for p in pods]
        succeeded, failed = phases.count("Succeeded"), phases.count("Failed")
        active = sum(1 for ph in phases if ph not in ("Succeeded", "Failed"))
        status = dict(job.get("status") or {})
        if any(c.get("status") == "True" for c in status.get("conditions") or []):
            return
        conditions: list[Obj] = []
        if succeeded >= completions:
            conditions = [_condition("Complete", "True", "Completed", "")]
        elif failed > int(spec.get("backoffLimit", 6)):
            conditions = [
                _condition(
                    "Failed",
                    "True",
                    "BackoffLimitExceeded",
                    "Job has reached the specified backoff limit",
                )
            ]
        else:
            done = {
                (p["metadata"].get("annotations") or {}).get(INDEX)
                for p, ph in zip(pods, phases, strict=True)
                if ph != "Failed"
            }
            for index in range(completions):
                if active >= parallelism or succeeded + active >= completions:
                    break
                if indexed and str(index) in done:
                    continue
                await self.create(self._job_pod(job, index if indexed else None))
                active += 1
                if not indexed:
                    break
        new: Obj = {"active": active, "succeeded": succeeded, "failed": failed}
        if conditions:
            new.update(conditions=conditions, completionTime=now_iso(), active=0)
        if any(status.get(k) != v for k, v in new.items()):
            await self.set_status(
                job, {**status, "startTime": status.get("startTime") or now_iso(), **new}
            )

    def _job_pod(self, job: Obj, index: int | None) -> Obj:
        self.counter += 1
        meta = job["metadata"]
        template = json.loads(json.dumps((job.get("spec") or {}).get("template") or {}))
        tmeta = template.get("metadata") or {}
        spec = template.get("spec") or {"containers": []}
        annotations = dict(tmeta.get("annotations") or {})
        if index is not None:
            annotations[INDEX] = str(index)
            for container in spec.get("containers") or []:
                container.setdefault("env", []).append(
                    {"name": "JOB_COMPLETION_INDEX", "value": str(index)}
                )
        suffix = hashlib.sha256(f"{meta['name']}/{self.counter}".encode()).hexdigest()[:5]
        name = (
            f"{meta['name']}-{index}-{suffix}" if index is not None else f"{meta['name']}-{suffix}"
        )
        labels = {**(tmeta.get("labels") or {}), "job-name": meta["name"]}
        return {
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": {
                "name": name,
                "namespace": meta["namespace"],
                "uid": uid_for(f"pod/{meta['namespace']}/{name}"),
                "creationTimestamp": now_iso(),
                "labels": labels,
                "annotations": annotations,
                "ownerReferences": [_owner(job)],
            },
            "spec": spec,
            "status": {"phase": "Pending", "qosClass": "BestEffort"},
        }

    async def application(self, app: Obj) -> None:
        """Argo CD's health: each Deployment's by its rollout, the app's the worst of them."""
        status = app.get("status") or {}
        resources = []
        for resource in status.get("resources") or []:
            health = "Healthy"
            if resource.get("kind") == "Deployment":
                dep = next(
                    (
                        d
                        for d in self.objects("deployments", resource.get("namespace"))
                        if d["metadata"]["name"] == resource.get("name")
                    ),
                    None,
                )
                health = _deployment_health(dep)
            resources.append({**resource, "health": {"status": health}})
        order = ["Healthy", "Progressing", "Missing", "Degraded"]
        health = max((r["health"]["status"] for r in resources), key=order.index, default="Healthy")
        if (status.get("health") or {}).get("status") != health or resources != status.get(
            "resources"
        ):
            await self.set_status(
                app,
                {
                    **status,
                    "health": {"status": health},
                    "resources": resources,
                    "reconciledAt": now_iso(),
                },
            )


def _deployment_health(dep: Obj | None) -> str:
    # Argo CD's gitops-engine rules for apps/Deployment
    if dep is None:
        return "Missing"
    status = dep.get("status") or {}
    if status.get("observedGeneration", 0) < dep["metadata"].get("generation", 1):
        return "Progressing"
    for cond in status.get("conditions") or []:
        if cond.get("type") == "Progressing" and cond.get("reason") == "ProgressDeadlineExceeded":
            return "Degraded"
    replicas = (dep.get("spec") or {}).get("replicas", 1)
    if status.get("updatedReplicas", 0) < replicas:
        return "Progressing"
    if status.get("replicas", 0) > status.get("updatedReplicas", 0):
        return "Progressing"
    if status.get("availableReplicas", 0) < status.get("updatedReplicas", 0):
        return "Progressing"
    return "Healthy"


def _condition(kind: str, status: str, reason: str, message: str) -> Obj:
    stamp = "2026-01-01T00:00:00Z"
    return {
        "type": kind,
        "status": status,
        "reason": reason,
        "message": message,
        "lastTransitionTime": stamp,
        "lastUpdateTime": stamp,
    }


def _owner(obj: Obj) -> Obj:
    return {
        "apiVersion": obj["apiVersion"],
        "kind": obj["kind"],
        "name": obj["metadata"]["name"],
        "uid": obj["metadata"]["uid"],
        "controller": True,
        "blockOwnerDeletion": True,
    }


def _owned_by(obj: Obj, owner: Obj) -> bool:
    uid = owner["metadata"].get("uid")
    return any(ref.get("uid") == uid for ref in obj["metadata"].get("ownerReferences") or [])


def _ready(pod: Obj) -> bool:
    return any(
        c.get("type") == "Ready" and c.get("status") == "True"
        for c in (pod.get("status") or {}).get("conditions") or []
    )


def _matches(selector: Obj, pod: Obj) -> bool:
    labels = pod["metadata"].get("labels") or {}
    return all(labels.get(k) == v for k, v in selector.items())
