"""The emulated API server: kmock's KubernetesEmulator plus what verify needs of a real one.

Adds: resource declarations (so lists answer before anything is stored), pods/log, the
service proxy to an emulated TensorFlow Serving, injectable faults (HTTP 5xx, watch 410
Gone), and a count of client requests (the simulator's own requests are not counted).
"""

from __future__ import annotations

import asyncio
import json
import re
import threading
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp.web
import attrs
import kmock
from kmock._internal import k8s, rendering

from ci_plugins_emulator import LABEL

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
}
VERBS = ["get", "list", "watch", "create", "update", "patch", "delete"]
PROXY = re.compile(r"^/api/v1/namespaces/([^/]+)/services/([^/:]+)(?::([^/]+))?/proxy/(.*)$")
POD_LOG = re.compile(r"^/api/v1/namespaces/([^/]+)/pods/([^/]+)/log$")


@dataclass
class Fault:
    """Answer matching client requests with an error, `times` times."""

    status: int
    times: int
    path: str = ""  # substring of the request path; "" matches all
    watch_gone_after: float | None = None  # for watches: end the stream with 410 after N s


@attrs.define(kw_only=True)
class EmulatedCluster(k8s.KubernetesEmulator):
    """KubernetesEmulator with logs, the service proxy, faults and a request counter."""

    client_requests: list[tuple[float, str, str]] = attrs.field(factory=list)
    faults: list[Fault] = attrs.field(factory=list)
    logs: dict[tuple[str, str], list[str]] = attrs.field(factory=dict)
    model_answer: Callable[[str, str, str, Any], tuple[int, Any]] | None = None

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
            fault = self._take_fault(path, watch=request.action == kmock.action.WATCH)
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
        match = PROXY.match(path)
        if match:
            return await self._proxy(request, *match.groups())
        match = POD_LOG.match(path)
        if match:
            lines = self.logs.get((match.group(1), match.group(2)), [])
            tail = int(request.params.get("tailLines", "0") or 0)
            text = "\n".join(lines[-tail:] if tail else lines)
            return aiohttp.web.Response(text=text + ("\n" if text else ""))
        return await super()._handle(request)

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

    def _take_fault(self, path: str, *, watch: bool) -> Fault | None:
        for fault in self.faults:
            if fault.times <= 0 or fault.path not in path:
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
        if self.model_answer is None:
            return _status(503, f"no endpoints available for service {service!r}")
        body = None
        if request.body:
            try:
                body = json.loads(request.body)
            except ValueError:
                return _status(400, "request body is not JSON")
        code, answer = self.model_answer(namespace, service, rest, body)
        if code != 200:
            return _status(code, str(answer))
        return aiohttp.web.json_response(answer)


@dataclass
class _GoneAfter:
    after: float


def _status(code: int, message: str) -> aiohttp.web.Response:
    return aiohttp.web.json_response(
        {
            "apiVersion": "v1",
            "kind": "Status",
            "metadata": {},
            "status": "Failure",
            "message": f"{LABEL} {message}",
            "reason": "ServiceUnavailable" if code == 503 else "BadRequest",
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
        self._thread.join(10)

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
