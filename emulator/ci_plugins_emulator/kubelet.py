"""LOCAL CLUSTER EMULATOR: the node's kubelet: pods as local processes, their status and logs.

For every pod bound to the node it starts a PodWorker (see pods.py) and writes the pod's
status through the API whenever a process starts, exits or a probe flips a container's
readiness: event-driven, so an idle node costs nothing. It also writes the Prometheus
file_sd targets of the pods annotated `prometheus.io/scrape: "true"`, with the labels a
ServiceMonitor setup gives (namespace, pod, container and the pod's labels).
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import re
from collections.abc import Callable, Coroutine, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ci_plugins_emulator import LABEL
from ci_plugins_emulator.pods import PodWorker
from ci_plugins_emulator.shapes import event
from ci_plugins_emulator.timing import Timing

__all__ = ["Kubelet", "LogError", "Timing"]
log = logging.getLogger("ci_plugins_emulator")
Obj = dict[str, Any]


class LogError(Exception):
    """What the API server answers (HTTP 400) when a log cannot be read."""


@dataclass
class NodeApi:
    """What the kubelet needs of the API: read objects, write a status, create an event."""

    objects: Callable[[str, str | None], list[Obj]]
    set_status: Callable[[Obj, Obj], Coroutine[Any, Any, None]]
    create: Callable[[Obj], Coroutine[Any, Any, None]]


@dataclass
class Kubelet:
    api: NodeApi
    root: Path  # pods live under root/pods/<ns>/<name>
    run_images: Mapping[str, Path] = field(default_factory=dict)
    timing: Timing = field(default_factory=Timing)
    targets_file: Path | None = None  # Prometheus file_sd output
    workers: dict[str, PodWorker] = field(default_factory=dict)
    _dirty: set[str] = field(default_factory=set)
    _flush: asyncio.Task[None] | None = None
    _emitted: set[tuple[str, str, str]] = field(default_factory=set)
    _targets: str = ""

    def sync(self, pods: list[Obj]) -> list[Obj]:
        """Start workers for new pods, stop those of deleted pods; the pods not run here."""
        alive = {p["metadata"]["uid"]: p for p in pods}
        for uid in [u for u in self.workers if u not in alive]:
            worker = self.workers.pop(uid)
            asyncio.get_running_loop().create_task(worker.stop())
            self._dirty.discard(uid)
            self._schedule()
        for uid, pod in alive.items():
            if uid not in self.workers:
                self._start(pod)
        return []

    def _start(self, pod: Obj) -> None:
        meta = pod["metadata"]
        uid = meta["uid"]
        namespace = str(meta["namespace"])
        worker = PodWorker(
            pod=pod,
            root=self.root / "pods" / meta["namespace"] / meta["name"],
            run_images=self.run_images,
            timing=self.timing,
            lookup=lambda kind, name: self._lookup(kind, namespace, name),
            changed=lambda: self._changed(uid),
            emit=lambda reason, message, warning: self._emit(uid, reason, message, warning),
        )
        self.workers[uid] = worker
        self._changed(uid)
        worker.start()

    def _lookup(self, kind: str, namespace: str, name: str) -> Obj | None:
        plural = {"ConfigMap": "configmaps", "Secret": "secrets"}[kind]
        return next(
            (o for o in self.api.objects(plural, namespace) if o["metadata"]["name"] == name), None
        )

    def _changed(self, uid: str) -> None:
        self._dirty.add(uid)
        self._schedule()

    def _schedule(self) -> None:
        if self._flush is None or self._flush.done():
            self._flush = asyncio.get_running_loop().create_task(self._write())

    async def _write(self) -> None:
        await asyncio.sleep(0.05)  # coalesce a burst of changes into one status write
        while self._dirty:
            uid = self._dirty.pop()
            worker = self.workers.get(uid)
            if worker is None:
                continue
            meta = worker.pod["metadata"]
            live = next(
                (
                    p
                    for p in self.api.objects("pods", meta["namespace"])
                    if p["metadata"].get("uid") == uid
                ),
                None,
            )
            if live is not None:
                try:
                    await self.api.set_status(live, worker.status())
                except Exception:  # the next change writes again; the log says why
                    log.exception("%s writing the status of pod %s failed", LABEL, meta["name"])
        self._write_targets()

    def _emit(self, uid: str, reason: str, message: str, warning: bool) -> None:
        worker = self.workers.get(uid)
        if worker is None or (uid, reason, message) in self._emitted:
            return
        self._emitted.add((uid, reason, message))
        obj = {"apiVersion": "v1", "kind": "Pod", "metadata": worker.pod["metadata"]}
        asyncio.get_running_loop().create_task(
            self.api.create(event(obj, reason, message, "kubelet", warning=warning))
        )

    def stop_all(self) -> None:
        for worker in self.workers.values():
            worker.kill_now()

    async def shutdown(self) -> None:
        await asyncio.gather(*(w.stop() for w in self.workers.values()), return_exceptions=True)
        self.workers.clear()
        self._write_targets()

    # -- what the API server asks the node ------------------------------------------------
    def worker(self, namespace: str, name: str) -> PodWorker | None:
        return next(
            (
                w
                for w in self.workers.values()
                if w.pod["metadata"]["namespace"] == namespace and w.pod["metadata"]["name"] == name
            ),
            None,
        )

    def read_log(self, namespace: str, pod: str, container: str | None, *, previous: bool) -> str:
        """The container's output (of the previous run with previous); LogError as the API."""
        worker = self.worker(namespace, pod)
        if worker is None:
            raise LogError(f'pods "{pod}" not found')
        everyone = worker.inits + worker.mains
        if not container:
            if len(worker.mains) != 1:
                names = " ".join(c.name for c in worker.mains)
                raise LogError(
                    f"a container name must be specified for pod {pod}, choose one of: [{names}]"
                )
            container = worker.mains[0].name
        found = next((c for c in everyone if c.name == container), None)
        if found is None:
            raise LogError(f"container {container} is not valid for pod {pod}")
        run = found.restarts - 1 if previous else found.restarts
        path = found.log_file(worker.root / "logs", run)
        if previous and (run < 0 or not path.exists()):
            raise LogError(f'previous terminated container "{container}" in pod "{pod}" not found')
        if not path.exists() and run > 0 and not previous:
            path = found.log_file(worker.root / "logs", run - 1)  # in back-off: the last run
        if not path.exists():
            reason = (found.state.get("waiting") or {}).get("reason", "ContainerCreating")
            raise LogError(f'container "{container}" in pod "{pod}" is waiting to start: {reason}')
        return path.read_text(encoding="utf-8", errors="replace")

    def _write_targets(self) -> None:
        if self.targets_file is None:
            return
        groups = [group for w in self.workers.values() if (group := scrape_target(w)) is not None]
        text = json.dumps(groups, indent=1, sort_keys=True)
        if text == self._targets:
            return
        self._targets = text
        self.targets_file.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.targets_file.with_suffix(".tmp")
        tmp.write_text(text, encoding="utf-8")
        os.replace(tmp, self.targets_file)


def scrape_target(worker: PodWorker) -> Obj | None:
    """The file_sd group of a pod annotated for scraping while its container runs."""
    meta = worker.pod["metadata"]
    annotations = meta.get("annotations") or {}
    if annotations.get("prometheus.io/scrape") != "true":
        return None
    port_value = str(annotations.get("prometheus.io/port", ""))
    port = worker.named_port(port_value) if not port_value.isdigit() else None
    port = port or (worker.host_port(int(port_value)) if port_value.isdigit() else None)
    container = next(
        (
            c
            for c in worker.mains
            if any(
                str(p.get("containerPort")) == port_value or p.get("name") == port_value
                for p in c.spec.get("ports") or []
            )
        ),
        worker.mains[0] if worker.mains else None,
    )
    if port is None or container is None or "running" not in container.state:
        return None
    labels = {
        "__metrics_path__": str(annotations.get("prometheus.io/path", "/metrics")),
        "namespace": meta["namespace"],
        "pod": meta["name"],
        "container": container.name,
    }
    for key, value in (meta.get("labels") or {}).items():
        labels.setdefault(_label_name(key), str(value))
    return {"targets": [f"127.0.0.1:{port}"], "labels": labels}


def _label_name(key: str) -> str:
    # what Prometheus' labelmap over __meta_kubernetes_pod_label_* yields
    return re.sub(r"[^a-zA-Z0-9_]", "_", key)
