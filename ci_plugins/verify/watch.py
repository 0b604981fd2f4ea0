"""What verify sees of the cluster: watched caches plus periodic re-reads (docs/readiness.md §8).

Pods, ReplicaSets, EndpointSlices and our workload kinds are watched per namespace (every
event wakes the evaluation up); everything else is read at each resync. With watch off,
everything is re-read at each resync (polling), which is what the benchmark compares.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from ci_plugins.verify.readiness.model import ObjectRef

if TYPE_CHECKING:  # the kubernetes client loads only when verify talks to a cluster
    from ci_plugins.adapters.kube import Kube

Obj = dict[str, Any]
STOP_TIMEOUT = 2.0  # seconds stop() waits for the watch threads in all
POD = ("v1", "Pod")
REPLICASET = ("apps/v1", "ReplicaSet")
SLICE = ("discovery.k8s.io/v1", "EndpointSlice")
WATCHED_WORKLOADS = {
    ("apps/v1", "Deployment"),
    ("apps/v1", "StatefulSet"),
    ("apps/v1", "DaemonSet"),
    ("apps/v1", "ReplicaSet"),
    ("batch/v1", "Job"),
    ("v1", "Pod"),
}


@dataclass
class Observer:
    """Keeps the latest state of what the rules look at; implements readiness Snapshot."""

    kube: Kube
    refs: list[ObjectRef]
    use_watch: bool = True
    changed: threading.Event = field(default_factory=threading.Event)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _cache: dict[tuple[str, str, str], dict[str, Obj]] = field(default_factory=dict)
    _fetched: dict[ObjectRef, Obj | None] = field(default_factory=dict)
    _events: dict[str, list[Obj]] | None = None
    _stop: threading.Event = field(default_factory=threading.Event)
    _threads: list[threading.Thread] = field(default_factory=list)
    _open: dict[str, Any] = field(default_factory=dict)  # thread name -> its Watch

    @property
    def namespaces(self) -> list[str]:
        return sorted({ref.namespace for ref in self.refs})

    def _streams(self) -> list[tuple[str, str, str]]:
        kinds = {POD, REPLICASET, SLICE}
        kinds |= {
            (r.api_version, r.kind)
            for r in self.refs
            if (r.api_version, r.kind) in WATCHED_WORKLOADS
        }
        return [(api, kind, ns) for ns in self.namespaces for api, kind in sorted(kinds)]

    def start(self) -> None:
        """Read everything once, then start one watch thread per (kind, namespace)."""
        self.resync()
        if not self.use_watch:
            return
        for api, kind, ns in self._streams():
            name = f"watch-{kind.lower()}-{ns}"
            thread = threading.Thread(
                target=self.kube.watch,
                args=(api, kind, ns),
                kwargs={
                    "on_list": lambda items, key=(api, kind, ns): self._replace(key, items),
                    "on_event": lambda kind_, obj, key=(api, kind, ns): self._apply(
                        key, kind_, obj
                    ),
                    "stop": self._stop,
                    "on_stream": lambda stream, name=name: self._opened(name, stream),
                },
                name=name,
                daemon=True,
            )
            thread.start()
            self._threads.append(thread)
        # Evaluate only once every watch has listed: an empty cache would read as NotFound.
        for _ in range(100):
            with self._lock:
                if all(key in self._cache for key in self._streams()):
                    return
            if self.kube.watch_error is not None:
                return
            self.changed.wait(0.1)

    def stop(self, *, timeout: float = STOP_TIMEOUT) -> list[str]:
        """Stop every watch thread and wait for it, at most `timeout` seconds in all.

        Setting the event alone leaves a thread blocked in a read until the server ends
        the stream; a daemon thread still inside the client at interpreter exit aborts
        the process (SIGABRT after the verdict, #17). So each open stream is closed (its
        socket shut down) and the threads are joined. Returns the threads still alive.
        """
        self._stop.set()
        end = time.monotonic() + timeout
        while True:
            with self._lock:
                streams = list(self._open.values())
            for stream in streams:  # again each round: a stream may open meanwhile
                stream.stop()
            alive = [t for t in self._threads if t.is_alive()]
            if not alive or time.monotonic() >= end:
                return [t.name for t in alive]
            alive[0].join(min(0.1, max(0.0, end - time.monotonic())))

    def _opened(self, name: str, stream: Any) -> None:
        with self._lock:
            self._open[name] = stream

    def resync(self) -> None:
        """Re-read the objects that are not watched (all of them when polling).

        Raises the ExternalError a watch stopped on (e.g. RBAC forbids watching pods).
        """
        if self.kube.watch_error is not None:
            raise self.kube.watch_error
        if not self.use_watch:
            for api, kind, ns in self._streams():
                self._replace((api, kind, ns), self.kube.list_objects(api, kind, ns)[0])
        watched = {(api, kind) for api, kind, _ in self._streams()} if self.use_watch else set()
        fetched = {
            ref: self.kube.get(ref)
            for ref in self.refs
            if (ref.api_version, ref.kind) not in watched
        }
        with self._lock:
            self._fetched = fetched
            self._events = None

    def wait(self, timeout: float) -> bool:
        """Block until a watch event arrives or timeout passes; True on an event.

        Polling has no events: it sleeps on the injected clock (tests never really wait).
        """
        if not self.use_watch:
            self.kube.clock.sleep(max(0.0, timeout))
            return False
        woke = self.changed.wait(max(0.0, timeout))
        self.changed.clear()
        return woke

    def _replace(self, key: tuple[str, str, str], items: Iterable[Obj]) -> None:
        with self._lock:
            self._cache[key] = {str(o["metadata"]["name"]): o for o in items}
        self.changed.set()

    def _apply(self, key: tuple[str, str, str], kind: str, obj: Obj) -> None:
        name = str((obj.get("metadata") or {}).get("name"))
        with self._lock:
            store = self._cache.setdefault(key, {})
            if kind == "DELETED":
                store.pop(name, None)
            else:
                store[name] = obj
        self.changed.set()

    def forget_events(self) -> None:
        with self._lock:
            self._events = None

    # -- readiness.evaluate.Snapshot -------------------------------------------------
    def get(self, ref: ObjectRef) -> Obj | None:
        with self._lock:
            if ref in self._fetched:
                return self._fetched[ref]
            store = self._cache.get((ref.api_version, ref.kind, ref.namespace), {})
            return store.get(ref.name)

    def _items(self, api: str, kind: str, namespace: str) -> list[Obj]:
        with self._lock:
            return list(self._cache.get((api, kind, namespace), {}).values())

    def pods(self, namespace: str) -> list[Obj]:
        return sorted(self._items(*POD, namespace), key=_created)

    def replicasets(self, namespace: str) -> list[Obj]:
        return self._items(*REPLICASET, namespace)

    def endpoint_slices(self, namespace: str, service: str) -> list[Obj]:
        return [
            s
            for s in self._items(*SLICE, namespace)
            if ((s.get("metadata") or {}).get("labels") or {}).get("kubernetes.io/service-name")
            == service
        ]

    def events(self, namespace: str, name: str) -> list[Obj]:
        """Events about the object `name` (listed once per resync, filtered here)."""
        if self._events is None:
            listed = {ns: self.kube.events(ns) for ns in self.namespaces}
            with self._lock:
                self._events = listed
        return [
            e
            for e in (self._events or {}).get(namespace, [])
            if (e.get("involvedObject") or {}).get("name") == name
        ]


def _created(obj: Obj) -> str:
    return str((obj.get("metadata") or {}).get("creationTimestamp") or "")
