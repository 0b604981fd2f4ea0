"""The emulated API server: kmock's KubernetesEmulator plus what verify needs of a real one.

Adds: resource declarations (so lists answer before anything is stored), pods/log from the
kubelet's real container output, the service proxy forwarding to a ready endpoint's real
process, injectable faults (HTTP 5xx, watch 410 Gone), a count of client requests (the
simulator's own requests are not counted), DeleteOptions' `Orphan` propagation (the
garbage collector in simulator.py deletes the dependents otherwise), and `changed`, set on
every write, which wakes the controllers.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import re
import threading
import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import aiohttp.web
import attrs
import kmock
from kmock._internal import k8s, rendering

from ci_plugins_emulator import LABEL
from ci_plugins_emulator.shapes import now_iso

if TYPE_CHECKING:
    from ci_plugins_emulator.kubelet import Kubelet

SIMULATOR_AGENT = "ci-plugins-emulator-simulator"
RESOURCES = {
    "v1/pods": "Pod",
    "v1/services": "Service",
    "v1/events": "Event",
    "v1/configmaps": "ConfigMap",
    "v1/secrets": "Secret",
    "v1/serviceaccounts": "ServiceAccount",
    "v1/persistentvolumeclaims": "PersistentVolumeClaim",
    "apps/v1/deployments": "Deployment",
    "apps/v1/replicasets": "ReplicaSet",
    "apps/v1/statefulsets": "StatefulSet",
    "apps/v1/daemonsets": "DaemonSet",
    "batch/v1/jobs": "Job",
    "discovery.k8s.io/v1/endpointslices": "EndpointSlice",
    "autoscaling/v2/horizontalpodautoscalers": "HorizontalPodAutoscaler",
    "policy/v1/poddisruptionbudgets": "PodDisruptionBudget",
    "argoproj.io/v1alpha1/applications": "Application",
    "argoproj.io/v1alpha1/rollouts": "Rollout",
    "kustomize.toolkit.fluxcd.io/v1/kustomizations": "Kustomization",
    # The Gateway API's and Istio's CRDs, as installed where traffic: gateway-api / istio runs.
    "gateway.networking.k8s.io/v1/httproutes": "HTTPRoute",
    "networking.istio.io/v1/virtualservices": "VirtualService",
}
VERBS = ["get", "list", "watch", "create", "update", "patch", "delete"]
PROXY = re.compile(r"^/api/v1/namespaces/([^/]+)/services/([^/:]+)(?::([^/]+))?/proxy/(.*)$")
POD_LOG = re.compile(r"^/api/v1/namespaces/([^/]+)/pods/([^/]+)/log$")
# The API's default propagationPolicy is Orphan for batch/v1 Jobs (kept for compatibility,
# pkg/registry/batch/job/strategy.go) and Background for everything served here otherwise.
ORPHAN_BY_DEFAULT = {("batch", "jobs")}


@dataclass
class Fault:
    """Answer matching client requests with an error, `times` times."""

    status: int
    times: int
    path: str = ""  # substring of the request path; "" matches all
    watch_gone_after: float | None = None  # for watches: end the stream with 410 after N s
    method: str = ""  # only requests with this HTTP method (e.g. "POST": create); "" all


@attrs.define(kw_only=True)
class EmulatedCluster(k8s.KubernetesEmulator):
    """KubernetesEmulator with logs, the service proxy, faults and a request counter."""

    client_requests: list[tuple[float, str, str]] = attrs.field(factory=list)
    faults: list[Fault] = attrs.field(factory=list)
    node: Kubelet | None = None
    changed: asyncio.Event = attrs.field(factory=asyncio.Event)
    _turn: itertools.count[int] = attrs.field(factory=itertools.count)

    def declare_resources(self) -> None:
        # Full discovery info, so kubectl (the benchmark's baseline) resolves the kinds too.
        for name, kind in RESOURCES.items():
            self.resources[name] = kmock.ResourceInfo(
                kind=kind,
                singular=kind.lower(),
                namespaced=True,
                verbs=VERBS,
                subresources=["status"],
            )

    async def _handle(self, request: rendering.Request) -> aiohttp.web.StreamResponse:
        agent = str(request.headers.get("User-Agent", ""))
        path = request.url.path
        if SIMULATOR_AGENT not in agent:
            loop = asyncio.get_running_loop()
            self.client_requests.append((loop.time(), str(request.method.value), str(request.url)))
            fault = self._take_fault(
                path, watch=request.action == kmock.action.WATCH, method=str(request.method.value)
            )
            if fault is not None and fault.watch_gone_after is None:
                raise k8s.KubernetesError(
                    status=fault.status,
                    reason="InternalError" if fault.status >= 500 else "Fault",
                    message=f"{LABEL} injected fault: HTTP {fault.status}",
                    details={},
                )
            if fault is not None:
                request_gone = _GoneAfter(fault.watch_gone_after or 0.0)
                self._gone[id(request)] = request_gone
        if request.action == kmock.action.CREATE and isinstance(request.data, dict):
            # as an API server: every new object gets a uid and a creation time
            meta = request.data.setdefault("metadata", {})
            meta.setdefault("uid", str(uuid.uuid4()))
            meta.setdefault("creationTimestamp", now_iso())
        if request.action == kmock.action.DELETE and _propagation_policy(request) == "Orphan":
            await self._orphan_dependents(request)
        match = PROXY.match(path)
        if match:
            return await self._proxy(request, *match.groups())
        match = POD_LOG.match(path)
        if match:
            return self._log(request, match.group(1), match.group(2))
        try:
            return await super()._handle(request)
        finally:
            if request.method.value not in ("GET", "HEAD", "OPTIONS"):
                self.changed.set()

    async def _orphan_dependents(self, request: rendering.Request) -> None:
        """Take the reference to the object being deleted off its dependents, as the API's
        orphan finalizer does, so the garbage collector leaves them."""
        if request.resource is None or request.name is None:
            return  # a collection delete: not used here
        key = (request.resource, request.namespace, request.name)
        async with self._lock:
            if key not in self._objects or self._objects[key].deleted:
                return  # kmock answers 404
            uid = self._objects[key].get("metadata", {}).get("uid")
            for (resource, _, _), obj in list(self._objects.items()):
                refs = [] if obj.deleted else obj.get("metadata", {}).get("ownerReferences") or []
                kept = [ref for ref in refs if ref.get("uid") != uid]
                if len(kept) != len(refs):
                    obj.patch({"metadata": {"ownerReferences": kept}})
                    await self._buses[resource].put({"type": "MODIFIED", "object": obj.raw})

    def _log(self, request: rendering.Request, namespace: str, pod: str) -> aiohttp.web.Response:
        from ci_plugins_emulator.kubelet import LogError

        if self.node is None:
            return _status(404, f'pods "{pod}" not found', reason="NotFound")
        try:
            text = self.node.read_log(
                namespace,
                pod,
                request.params.get("container"),
                previous=request.params.get("previous") in ("true", "True", "1"),
            )
        except LogError as exc:
            return _status(400, str(exc), reason="BadRequest", label=False)
        tail = int(request.params.get("tailLines", "0") or 0)
        if tail:
            text = "".join(text.splitlines(keepends=True)[-tail:])
        return aiohttp.web.Response(text=text)

    _gone: dict[int, _GoneAfter] = attrs.field(factory=dict)

    async def _serve_list(self, request: rendering.Request) -> rendering.Payload:
        # A real API server names the list's kind and apiVersion; kubectl insists on them.
        payload = await super()._serve_list(request)
        resource = request.resource
        if isinstance(payload, dict) and resource is not None:
            group = f"{resource.group}/" if resource.group else ""
            kind = RESOURCES.get(f"{group}{resource.version}/{resource.plural}", "")
            payload = {"kind": f"{kind}List", "apiVersion": f"{group}{resource.version}", **payload}
        return payload

    def _take_fault(self, path: str, *, watch: bool, method: str = "") -> Fault | None:
        for fault in self.faults:
            if fault.times <= 0 or fault.path not in path:
                continue
            if fault.method and fault.method != method:
                continue
            if (fault.watch_gone_after is not None) != watch:
                continue
            fault.times -= 1
            return fault
        return None

    async def _serve_watch(self, request: rendering.Request) -> AsyncIterator[rendering.Payload]:
        gone = self._gone.pop(id(request), None)
        stream = super()._serve_watch(request)
        if gone is None:
            async for item in stream:
                yield item
            return
        loop = asyncio.get_running_loop()
        deadline = loop.time() + gone.after
        while True:
            try:
                item = await asyncio.wait_for(anext(stream), max(0.01, deadline - loop.time()))
            except TimeoutError:
                break
            yield item
        await stream.aclose()  # type: ignore[attr-defined]
        yield {
            "type": "ERROR",
            "object": {
                "apiVersion": "v1",
                "kind": "Status",
                "metadata": {},
                "status": "Failure",
                "message": f"{LABEL} too old resource version",
                "reason": "Expired",
                "code": 410,
            },
        }

    async def _proxy(
        self, request: rendering.Request, namespace: str, service: str, port: str | None, rest: str
    ) -> aiohttp.web.StreamResponse:
        """Forward to a ready endpoint of the Service, as the API server's proxy does."""
        svc = self._object("services", namespace, service)
        if svc is None:
            return _status(404, f'services "{service}" not found', reason="NotFound", label=False)
        spec = svc.get("spec") or {}
        ports = spec.get("ports") or []
        wanted = next((p for p in ports if port in (None, p.get("name"), str(p.get("port")))), None)
        target = self._endpoint(namespace, spec.get("selector") or {}, wanted)
        if target is None:
            return _status(503, f'no endpoints available for service "{service}"', label=False)
        url = f"http://127.0.0.1:{target}/{rest}"
        headers = {
            k: v for k, v in request.headers.items() if k.lower() in ("content-type", "accept")
        }
        try:
            async with (
                aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=60)) as session,
                session.request(
                    request.method.value,
                    url,
                    params=dict(request.params),
                    data=request.body or None,
                    headers=headers,
                ) as resp,
            ):
                body = await resp.read()
                return aiohttp.web.Response(
                    body=body,
                    status=resp.status,
                    headers={"Content-Type": resp.headers.get("Content-Type", "text/plain")},
                )
        except (aiohttp.ClientError, TimeoutError) as exc:
            return _status(
                503,
                f"error trying to reach service: dial tcp 127.0.0.1:{target}: {exc}",
                label=False,
            )

    def _object(self, plural: str, namespace: str, name: str) -> dict[str, Any] | None:
        for (resource, ns, obj_name), obj in self.objects.items():
            if (
                resource.plural == plural
                and ns == namespace
                and obj_name == name
                and not obj.deleted
            ):
                return dict(obj.raw)
        return None

    def _endpoint(
        self, namespace: str, selector: dict[str, Any], port: dict[str, Any] | None
    ) -> int | None:
        """The loopback port of the next ready pod behind the selector (round robin)."""
        if self.node is None or not selector or port is None:
            return None
        target = port.get("targetPort", port.get("port"))
        candidates = []
        for (resource, ns, name), obj in sorted(self.objects.items(), key=lambda i: str(i[0])):
            if resource.plural != "pods" or ns != namespace or obj.deleted:
                continue
            raw = obj.raw
            labels = raw.get("metadata", {}).get("labels") or {}
            if any(labels.get(k) != v for k, v in selector.items()) or not _ready(raw):
                continue
            worker = self.node.worker(namespace, str(name))
            if worker is None:
                continue
            host = (
                worker.host_port(int(str(target)))
                if isinstance(target, int) or str(target).isdigit()
                else worker.named_port(str(target))
            )
            if host is not None:
                candidates.append(host)
        if not candidates:
            return None
        return candidates[next(self._turn) % len(candidates)]


def _propagation_policy(request: rendering.Request) -> str:
    """DeleteOptions.propagationPolicy from the query or the body (orphanDependents, its
    deprecated form, too), else the API's default for the resource."""
    options = request.data if isinstance(request.data, dict) else {}
    policy = request.params.get("propagationPolicy") or options.get("propagationPolicy")
    orphan = request.params.get("orphanDependents", options.get("orphanDependents"))
    if not policy and orphan is not None:
        policy = "Orphan" if str(orphan).lower() == "true" else "Background"
    resource = request.resource
    default = resource is not None and (resource.group, resource.plural) in ORPHAN_BY_DEFAULT
    if not policy and default:
        policy = "Orphan"
    return str(policy or "Background")


def _ready(pod: dict[str, Any]) -> bool:
    return any(
        c.get("type") == "Ready" and c.get("status") == "True"
        for c in (pod.get("status") or {}).get("conditions") or []
    )


@dataclass
class _GoneAfter:
    after: float


def _status(
    code: int, message: str, *, reason: str = "", label: bool = True
) -> aiohttp.web.Response:
    return aiohttp.web.json_response(
        {
            "apiVersion": "v1",
            "kind": "Status",
            "metadata": {},
            "status": "Failure",
            "message": f"{LABEL} {message}" if label else message,
            "reason": reason or ("ServiceUnavailable" if code == 503 else "BadRequest"),
            "code": code,
        },
        status=code,
    )


class RunningCluster:
    """The emulator served on 127.0.0.1 from a background thread with its own event loop."""

    def __init__(self) -> None:
        self.cluster = EmulatedCluster()
        self.cluster.declare_resources()
        self.loop = asyncio.new_event_loop()
        self.url = ""
        self._ready = threading.Event()
        self._stop: asyncio.Event | None = None
        self._thread = threading.Thread(target=self._run, name="cluster-emulator", daemon=True)
        self.startup: list[Callable[[EmulatedCluster], Any]] = []

    def start(self) -> RunningCluster:
        self._thread.start()
        if not self._ready.wait(30):
            raise RuntimeError(f"{LABEL} did not start")
        return self

    def stop(self) -> None:
        if self._stop is not None:
            self.loop.call_soon_threadsafe(self._stop.set)
        self._thread.join(30)  # the kubelet stops its pods' processes first

    def call(self, fn: Callable[[], Any]) -> Any:
        """Run fn on the emulator's loop (thread-safe access to the in-memory state)."""
        return asyncio.run_coroutine_threadsafe(_call(fn), self.loop).result(30)

    def _run(self) -> None:
        asyncio.set_event_loop(self.loop)
        try:
            self.loop.run_until_complete(self._serve())
        finally:
            self.loop.run_until_complete(self.loop.shutdown_asyncgens())
            self.loop.close()

    async def _serve(self) -> None:
        self._stop = asyncio.Event()
        async with self.cluster, kmock.Server(self.cluster, user_agent=SIMULATOR_AGENT) as server:
            self.url = f"http://{server.host}:{server.port}"
            tasks = [asyncio.create_task(start(self.cluster)) for start in self.startup]
            self._ready.set()
            await self._stop.wait()
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)


async def _call(fn: Callable[[], Any]) -> Any:
    return fn()


def write_kubeconfig(path: Path, url: str) -> Path:
    """A kubeconfig pointing at the emulator (no credentials: it has none)."""
    config = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": "ci-plugins-emulator", "cluster": {"server": url}}],
        "users": [{"name": "emulator", "user": {"token": "local-emulator-no-auth"}}],
        "contexts": [
            {
                "name": "ci-plugins-emulator",
                "context": {"cluster": "ci-plugins-emulator", "user": "emulator"},
            }
        ],
        "current-context": "ci-plugins-emulator",
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(config, indent=2) + "\n", encoding="utf-8")
    return path
