"""The Kubernetes API through the official `kubernetes` client: get, list, watch, logs, proxy.

Objects come back as plain dicts in the API's own camelCase shape (typed models are
deserialized, then serialized back), so the readiness rules read them like YAML. Transient
failures (connection resets, 5xx, 429 with Retry-After) are retried in `retry` until the
deadline; anything else is an ExternalError (exit 3). Kubeconfig contents and tokens never
reach a message.
"""

from __future__ import annotations

import dataclasses
import json
import os
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import urllib3
from kubernetes import client, config, watch
from kubernetes.client.exceptions import ApiException

from ci_plugins.adapters.retry import GaveUp, Policy, call
from ci_plugins.errors import ExternalError, InputError
from ci_plugins.step import Clock
from ci_plugins.verify.readiness.model import ObjectRef

T = TypeVar("T")
Obj = dict[str, Any]
REQUEST_TIMEOUT = (5.0, 30.0)
WATCH_SECONDS = 25  # server-side watch timeout; a silent end restarts the watch


@dataclass(frozen=True)
class KindApi:
    """Where a built-in kind lives in the typed client."""

    api: type[Any]
    plural: str  # read_namespaced_<plural> / list_namespaced_<plural>


BUILTIN: dict[tuple[str, str], KindApi] = {
    ("v1", "Pod"): KindApi(client.CoreV1Api, "pod"),
    ("v1", "Service"): KindApi(client.CoreV1Api, "service"),
    ("v1", "ConfigMap"): KindApi(client.CoreV1Api, "config_map"),
    ("v1", "Secret"): KindApi(client.CoreV1Api, "secret"),
    ("v1", "ServiceAccount"): KindApi(client.CoreV1Api, "service_account"),
    ("v1", "PersistentVolumeClaim"): KindApi(client.CoreV1Api, "persistent_volume_claim"),
    ("v1", "Event"): KindApi(client.CoreV1Api, "event"),
    ("apps/v1", "Deployment"): KindApi(client.AppsV1Api, "deployment"),
    ("apps/v1", "ReplicaSet"): KindApi(client.AppsV1Api, "replica_set"),
    ("apps/v1", "StatefulSet"): KindApi(client.AppsV1Api, "stateful_set"),
    ("apps/v1", "DaemonSet"): KindApi(client.AppsV1Api, "daemon_set"),
    ("batch/v1", "Job"): KindApi(client.BatchV1Api, "job"),
    ("autoscaling/v2", "HorizontalPodAutoscaler"): KindApi(
        client.AutoscalingV2Api, "horizontal_pod_autoscaler"
    ),
    ("policy/v1", "PodDisruptionBudget"): KindApi(client.PolicyV1Api, "pod_disruption_budget"),
    ("discovery.k8s.io/v1", "EndpointSlice"): KindApi(client.DiscoveryV1Api, "endpoint_slice"),
}


def plural_of(kind: str) -> str:
    """The resource name of a custom kind (Application -> applications)."""
    lower = kind.lower()
    if lower.endswith("y"):
        return lower[:-1] + "ies"
    return lower + ("es" if lower.endswith("s") else "s")


def load_client(
    kubeconfig: Path | None, environ: dict[str, str] | None = None, *, context: str | None = None
) -> Any:
    """An ApiClient from --kubeconfig, KUBECONFIG or ~/.kube/config (in-cluster as a last resort).

    Raises InputError (exit 2) for a missing or unusable kubeconfig, naming only the file.
    """
    env = os.environ if environ is None else environ
    source = str(kubeconfig) if kubeconfig else env.get("KUBECONFIG", "")
    default = Path.home() / ".kube" / "config"
    if not source and not default.exists() and env.get("KUBERNETES_SERVICE_HOST"):
        configuration = client.Configuration()
        config.load_incluster_config(client_configuration=configuration)  # type: ignore[no-untyped-call]
        return _client(configuration)
    source = source or str(default)
    for part in source.split(os.pathsep):
        if not Path(part).is_file():
            raise InputError(
                f"kubeconfig {part} does not exist",
                hint="pass --kubeconfig FILE or set KUBECONFIG",
            )
    configuration = client.Configuration()
    try:
        config.load_kube_config(  # type: ignore[no-untyped-call]
            config_file=source, context=context, client_configuration=configuration
        )
    except Exception as exc:  # ConfigException, YAML errors, bad base64...: all say "unusable"
        raise InputError(
            f"kubeconfig {source} is not usable: {_config_problem(exc)}",
            hint="check the file with: kubectl --kubeconfig FILE config view",
        ) from None
    return _client(configuration)


def _config_problem(exc: Exception) -> str:
    # Only the exception type and the first line: parsers may quote file contents.
    first = str(exc).splitlines()[0] if str(exc) else ""
    if len(first) > 120 or ":" in first[40:]:
        first = ""
    return f"{type(exc).__name__}{': ' + first if first else ''}"


def _client(configuration: Any) -> Any:
    configuration.retries = 0  # our retry helper decides, with the deadline in mind
    return client.ApiClient(configuration)


def is_transient(exc: BaseException) -> bool:
    """Connection failures, 5xx and 429: worth another try."""
    if isinstance(exc, ApiException):
        return exc.status is not None and (exc.status >= 500 or exc.status == 429)
    return isinstance(exc, urllib3.exceptions.HTTPError | ConnectionError | TimeoutError)


def retry_after(exc: BaseException) -> float | None:
    headers = getattr(exc, "headers", None) or {}
    value = headers.get("Retry-After") if hasattr(headers, "get") else None
    try:
        return float(value) if value is not None else None
    except ValueError:
        return None


def retry(fn: Callable[[], T], *, what: str, clock: Clock, deadline: float) -> T:
    """fn(), retrying transient errors with backoff until the deadline; ExternalError after."""

    def wait(attempt: int, exc: BaseException) -> float:
        return retry_after(exc) or min(0.5 * 2 ** (attempt - 1), 5.0)

    policy = Policy(retry_if=is_transient, wait=wait, clock=clock, deadline=deadline)
    try:
        return call(policy, lambda _attempt: fn())
    except GaveUp as exc:
        raise ExternalError(
            f"Kubernetes API: {what} failed {exc.attempts} time(s): {_describe(exc.last)}",
            hint="check that the cluster is reachable from this job (exit 3 is retryable)",
        ) from None
    except Exception as exc:
        raise _external(what, exc) from None


def _describe(exc: BaseException) -> str:
    if isinstance(exc, ApiException):
        return f"HTTP {exc.status} {exc.reason or ''}".strip()
    reason = getattr(exc, "reason", None)
    return f"{type(exc).__name__}: {reason or exc}"


class ApiRefused(ExternalError):
    """The API refused us (401/403: credentials or RBAC); retrying cannot help (exit 3)."""


def _external(what: str, exc: BaseException) -> ExternalError:
    if isinstance(exc, ApiException) and exc.status in (401, 403):
        return ApiRefused(
            f"Kubernetes API refused {what}: HTTP {exc.status}",
            hint="verify needs get/list/watch on the checked kinds, pods/log and events "
            "(docs/verify.md, RBAC)",
        )
    return ExternalError(f"Kubernetes API: {what} failed: {_describe(exc)}")


class _Stopped(Exception):
    """A watch thread was asked to stop while its retry waited."""


@dataclass(frozen=True)
class _StopAwareClock:
    """The clock of a watch thread's retries: sleeping ends (raises _Stopped) on stop."""

    clock: Clock
    stop: threading.Event

    def time(self) -> float:
        return self.clock.time()

    def sleep(self, seconds: float) -> None:
        if self.stop.wait(max(0.0, seconds)):
            raise _Stopped


@dataclass
class Kube:
    """One cluster: typed calls with retries, results as API-shaped dicts."""

    api_client: Any
    clock: Clock
    deadline: float
    relists: int = 0
    watch_error: ExternalError | None = None
    _apis: dict[type[Any], Any] = field(default_factory=dict)

    @property
    def host(self) -> str:
        return str(self.api_client.configuration.host)

    def _api(self, cls: type[Any]) -> Any:
        if cls not in self._apis:
            self._apis[cls] = cls(self.api_client)
        return self._apis[cls]

    def _dict(self, obj: Any) -> Obj:
        data = self.api_client.sanitize_for_serialization(obj)
        return data if isinstance(data, dict) else {}

    def call(self, fn: Callable[[], T], what: str) -> T:
        return retry(fn, what=what, clock=self.clock, deadline=self.deadline)

    def get(self, ref: ObjectRef) -> Obj | None:
        """The live object as a dict, or None when it does not exist."""
        return self.call(lambda: self._get_or_none(ref), f"get {ref} in {ref.namespace}")

    def _get_or_none(self, ref: ObjectRef) -> Obj | None:
        try:
            return self._get(ref)
        except ApiException as exc:
            if exc.status == 404:
                return None
            raise

    def _get(self, ref: ObjectRef) -> Obj:
        kind = BUILTIN.get((ref.api_version, ref.kind))
        if kind is not None:
            api = self._api(kind.api)
            obj = getattr(api, f"read_namespaced_{kind.plural}")(
                ref.name, ref.namespace, _request_timeout=REQUEST_TIMEOUT
            )
            data = self._dict(obj)
            data.pop("data", None)  # Secret and ConfigMap values are never kept
            data.pop("stringData", None)
            return data
        custom = self._api(client.CustomObjectsApi)
        found: Obj = custom.get_namespaced_custom_object(
            ref.group,
            ref.version,
            ref.namespace,
            plural_of(ref.kind),
            ref.name,
            _request_timeout=REQUEST_TIMEOUT,
        )
        return found

    def list_objects(
        self, api_version: str, kind: str, namespace: str, *, label_selector: str | None = None
    ) -> tuple[list[Obj], str | None]:
        """All objects of a kind in a namespace, and the list's resourceVersion."""
        list_fn, args = self._list_fn(api_version, kind, namespace)
        kwargs: dict[str, Any] = {"_request_timeout": REQUEST_TIMEOUT}
        if label_selector:
            kwargs["label_selector"] = label_selector
        result = self.call(lambda: list_fn(*args, **kwargs), f"list {kind} in {namespace}")
        data = result if isinstance(result, dict) else self._dict(result)
        items = [dict(item) for item in data.get("items") or []]
        for item in items:
            item.pop("data", None)
        return items, (data.get("metadata") or {}).get("resourceVersion")

    def _list_fn(
        self, api_version: str, kind: str, namespace: str
    ) -> tuple[Callable[..., Any], tuple[Any, ...]]:
        builtin = BUILTIN.get((api_version, kind))
        if builtin is not None:
            api = self._api(builtin.api)
            return getattr(api, f"list_namespaced_{builtin.plural}"), (namespace,)
        group, _, version = api_version.rpartition("/")
        custom = self._api(client.CustomObjectsApi)
        return custom.list_namespaced_custom_object, (group, version, namespace, plural_of(kind))

    def events(self, namespace: str) -> list[Obj]:
        items, _ = self.list_objects("v1", "Event", namespace)
        return items

    def pod_log(self, namespace: str, pod: str, container: str, *, previous: bool) -> str:
        """The last 20 lines of a container's log ("" when the kubelet has none)."""
        api = self._api(client.CoreV1Api)
        try:
            text = self.call(
                lambda: api.read_namespaced_pod_log(
                    pod,
                    namespace,
                    container=container,
                    previous=previous,
                    tail_lines=20,
                    _request_timeout=REQUEST_TIMEOUT,
                ),
                f"logs of pod {pod}",
            )
        except ExternalError:
            return ""
        return str(text or "")

    def proxy(
        self, namespace: str, service: str, port: str, path: str, body: Any = None
    ) -> tuple[int, Any]:
        """GET (or POST body) through the API server's service proxy; (status, JSON or text)."""
        method = "GET" if body is None else "POST"
        params = self.api_client.param_serialize(
            method=method,
            resource_path="/api/v1/namespaces/{namespace}/services/{name}/proxy/{path}",
            path_params={"namespace": namespace, "name": f"{service}:{port}", "path": path},
            header_params={"Content-Type": "application/json", "Accept": "application/json"},
            body=body,
            auth_settings=["BearerToken"],
        )
        # keep "/" and ":" of the path readable for the proxied server
        url = params[1].replace("%2F", "/").replace("%3A", ":")
        params = (params[0], url, *params[2:])

        def send() -> tuple[int, Any]:
            response = self.api_client.call_api(*params, _request_timeout=REQUEST_TIMEOUT)
            response.read()
            if response.status >= 500 and response.status != 503:
                raise ApiException(http_resp=response)
            text = response.data.decode("utf-8", "replace")
            try:
                return response.status, json.loads(text)
            except ValueError:
                return response.status, text

        return self.call(send, f"service proxy {namespace}/{service}:{port}/{path}")

    def patch_annotations(self, ref: ObjectRef, annotations: dict[str, str]) -> None:
        """Merge-patch metadata.annotations of a custom object (e.g. to request a refresh)."""
        custom = self._api(client.CustomObjectsApi)
        body = {"metadata": {"annotations": annotations}}
        self.call(
            lambda: custom.patch_namespaced_custom_object(
                ref.group,
                ref.version,
                ref.namespace,
                plural_of(ref.kind),
                ref.name,
                body,
                _content_type="application/merge-patch+json",
                _request_timeout=REQUEST_TIMEOUT,
            ),
            f"annotate {ref}",
        )

    def close(self) -> None:
        """Close the client's connection pool (idle connections; no call may follow)."""
        self.api_client.close()

    def watch(
        self,
        api_version: str,
        kind: str,
        namespace: str,
        *,
        on_list: Callable[[list[Obj]], None],
        on_event: Callable[[str, Obj], None],
        stop: threading.Event,
        on_stream: Callable[[Any], None] = lambda stream: None,
    ) -> None:
        """List, then watch from the list's resourceVersion until stop is set (run in a thread).

        A 410 Gone re-lists (the Python Watch retries only once); a silent end of the stream
        (server-side timeout) restarts the watch; other errors wait a little and re-list.
        `on_stream(w)` hands each open `kubernetes.watch.Watch` out, so that whoever stops
        the thread can close the stream a blocked read waits on (`w.stop()`). Retries
        between attempts end as soon as stop is set, not at the deadline.
        """
        list_fn, args = self._list_fn(api_version, kind, namespace)
        lister = dataclasses.replace(self, clock=_StopAwareClock(self.clock, stop))
        version: str | None = None
        while not stop.is_set():
            try:
                if version is None:
                    items, version = lister.list_objects(api_version, kind, namespace)
                    on_list(items)
                    version = version or ""
                stream = watch.Watch()  # type: ignore[no-untyped-call]
                on_stream(stream)
                if stop.is_set():
                    return
                for event in stream.stream(  # type: ignore[no-untyped-call]
                    list_fn,
                    *args,
                    resource_version=version,
                    timeout_seconds=WATCH_SECONDS,
                    allow_watch_bookmarks=True,
                    _request_timeout=(REQUEST_TIMEOUT[0], WATCH_SECONDS + 5.0),
                ):
                    obj = event["object"]
                    data = obj if isinstance(obj, dict) else self._dict(obj)
                    version = (data.get("metadata") or {}).get("resourceVersion") or version
                    if event["type"] != "BOOKMARK":
                        on_event(str(event["type"]), data)
                    if stop.is_set():
                        stream.stop()  # type: ignore[no-untyped-call]
            except ApiException as exc:
                if exc.status == 410:
                    self.relists += 1
                    version = None
                else:
                    version = None
                    stop.wait(1.0)
            except (urllib3.exceptions.ReadTimeoutError, urllib3.exceptions.ProtocolError):
                continue  # the stream ended silently (server-side timeout): watch again
            except ApiRefused as exc:  # RBAC: retrying cannot help; resync reports it
                self.watch_error = exc
                return
            except ExternalError:
                version = None
                stop.wait(1.0)
            except (urllib3.exceptions.HTTPError, OSError):
                version = None
                stop.wait(1.0)
            except _Stopped:
                return


def resource_of(api_version: str, kind: str) -> str:
    """`jobs.batch`, `services`: the resource name RBAC rules and kubectl use."""
    group = api_version.rpartition("/")[0]
    return plural_of(kind) + (f".{group}" if group else "")


def create_object(kube: Kube, obj: Obj, *, hint: str | None = None) -> Obj | None:
    """Create obj; None when it already exists (AlreadyExists, HTTP 409).

    Raises ExternalError (exit 3) naming the verb and the resource when RBAC forbids it.
    """
    meta = obj["metadata"]
    kind = BUILTIN[(obj["apiVersion"], obj["kind"])]
    api = kube._api(kind.api)
    create = getattr(api, f"create_namespaced_{kind.plural}")
    what = f"create {resource_of(obj['apiVersion'], obj['kind'])} in namespace {meta['namespace']}"

    def send() -> Obj | None:
        try:
            return kube._dict(create(meta["namespace"], obj, _request_timeout=REQUEST_TIMEOUT))
        except ApiException as exc:
            if exc.status == 409:
                return None
            raise

    return _refusal_named(lambda: kube.call(send, what), what, hint)


def delete_object(
    kube: Kube, api_version: str, kind: str, namespace: str, name: str, *, hint: str | None = None
) -> bool:
    """Delete an object with its dependents (propagationPolicy Background); False if absent."""
    builtin = BUILTIN[(api_version, kind)]
    api = kube._api(builtin.api)
    delete = getattr(api, f"delete_namespaced_{builtin.plural}")
    what = f"delete {resource_of(api_version, kind)} in namespace {namespace}"

    def send() -> bool:
        try:
            delete(
                name,
                namespace,
                propagation_policy="Background",
                _request_timeout=REQUEST_TIMEOUT,
            )
        except ApiException as exc:
            if exc.status == 404:
                return False
            raise
        return True

    return _refusal_named(lambda: kube.call(send, what), what, hint)


def read_log(kube: Kube, namespace: str, pod: str, container: str) -> str:
    """The whole current log of a container ("" while it has none)."""
    api = kube._api(client.CoreV1Api)

    def send() -> str:
        try:
            text = api.read_namespaced_pod_log(
                pod, namespace, container=container, _request_timeout=REQUEST_TIMEOUT
            )
        except ApiException as exc:
            if exc.status in (400, 404):  # not started yet, or gone
                return ""
            raise
        return str(text or "")

    return kube.call(send, f"logs of pod {pod}")


def _refusal_named(fn: Callable[[], T], what: str, hint: str | None) -> T:
    try:
        return fn()
    except ExternalError as exc:
        if str(exc).startswith("Kubernetes API refused"):
            raise ExternalError(
                f"{exc} (RBAC: this identity may not {what})",
                hint=hint or "grant the verb on the resource in a Role bound to this identity",
            ) from None
        raise
