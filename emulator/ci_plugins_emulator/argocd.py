"""LOCAL CLUSTER EMULATOR: plays Argo CD's sync of one environment repo commit.

Applies the committed manifests of env/app to the emulated API (create, replace, prune what
the previous sync applied and this one does not), then records the sync in an Argo CD
`Application` (argocd/<app>-<env>) shaped as Argo CD's: sync {status, revision, comparedTo},
operationState {phase Succeeded, finishedAt, syncResult}, resources, history, reconciledAt.
The simulator then keeps its health (and each resource's) up to date, by Argo CD's rules.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

import urllib3

from ci_plugins.verify.readiness.model import ObjectRef
from ci_plugins_emulator import LABEL
from ci_plugins_emulator.shapes import api_path, now_iso, replace_patch, uid_for

Obj = dict[str, Any]
APP_NAMESPACE = "argocd"
SERVER_MANAGED = ("uid", "generation", "creationTimestamp", "resourceVersion")


class EmulatorClient:
    """Plain JSON over HTTP to the emulator (no credentials: it has none)."""

    def __init__(self, url: str) -> None:
        self.url = url.rstrip("/")
        self.http = urllib3.PoolManager(retries=False, timeout=urllib3.Timeout(connect=5, read=30))

    def request(self, method: str, path: str, body: Any = None) -> tuple[int, Any]:
        headers = {
            "Content-Type": "application/merge-patch+json"
            if method == "PATCH"
            else "application/json"
        }
        data = json.dumps(body).encode() if body is not None else None
        resp = self.http.request(method, self.url + path, body=data, headers=headers)
        try:
            return resp.status, json.loads(resp.data or b"null")
        except ValueError:
            return resp.status, resp.data.decode("utf-8", "replace")

    def get(self, path: str) -> Obj | None:
        status, body = self.request("GET", path)
        return body if status == 200 and isinstance(body, dict) else None

    def must(self, method: str, path: str, body: Any = None) -> Any:
        status, answer = self.request(method, path, body)
        if status >= 300:
            raise RuntimeError(f"{LABEL} {method} {path}: HTTP {status}: {answer}")
        return answer


def sync(
    url: str,
    *,
    objects: Mapping[ObjectRef, Obj],
    commit: str,
    env: str,
    app: str,
    namespace: str,
    repo_url: str = "",
) -> list[str]:
    """Apply objects as Argo CD would and record the sync; returns what changed, in words."""
    client = EmulatorClient(url)
    try:
        return _sync(
            client, objects, commit=commit, env=env, app=app, namespace=namespace, repo_url=repo_url
        )
    finally:
        client.http.clear()


def _sync(
    client: EmulatorClient,
    objects: Mapping[ObjectRef, Obj],
    *,
    commit: str,
    env: str,
    app: str,
    namespace: str,
    repo_url: str,
) -> list[str]:
    app_path = api_path("argoproj.io/v1alpha1", "Application", APP_NAMESPACE)
    name = f"{app}-{env}"
    application = client.get(f"{app_path}/{name}")
    previous = [
        _ref_of(r) for r in ((application or {}).get("status") or {}).get("resources") or []
    ]
    changes = [_apply(client, ref, obj) for ref, obj in objects.items()]
    for ref in previous:
        if ref not in objects:
            client.request("DELETE", api_path(ref.api_version, ref.kind, ref.namespace, ref.name))
            changes.append(f"pruned {ref}")
    stamp = now_iso()
    source = {
        "repoURL": repo_url,
        "path": f"environments/{env}/{app}/manifests",
        "targetRevision": "HEAD",
    }
    destination = {"server": "https://kubernetes.default.svc", "namespace": namespace}
    old = (application or {}).get("status") or {}
    history = list(old.get("history") or [])
    if not history or history[-1].get("revision") != commit:
        history.append(
            {"id": len(history), "revision": commit, "deployedAt": stamp, "source": source}
        )
    status = {
        "sync": {
            "status": "Synced",
            "revision": commit,
            "comparedTo": {"source": source, "destination": destination},
        },
        "operationState": {
            "operation": {"sync": {"revision": commit}},
            "phase": "Succeeded",
            "message": "successfully synced (all tasks run)",
            "startedAt": stamp,
            "finishedAt": stamp,
            "syncResult": {
                "revision": commit,
                "source": source,
                "resources": [
                    {**_resource(ref), "status": "Synced", "message": change, "syncPhase": "Sync"}
                    for ref, change in zip(objects, changes, strict=False)
                ],
            },
        },
        "reconciledAt": stamp,
        "health": {"status": "Progressing"},
        "resources": [
            {**_resource(ref), "status": "Synced", "health": {"status": "Progressing"}}
            for ref in objects
        ],
        "history": history[-10:],
        "sourceType": "Directory",
        "summary": {"images": sorted(_images(objects.values()))},
    }
    body: Obj = {
        "apiVersion": "argoproj.io/v1alpha1",
        "kind": "Application",
        "metadata": {"name": name, "namespace": APP_NAMESPACE},
        "spec": {
            "project": "default",
            "source": {
                "repoURL": repo_url,
                "path": f"environments/{env}/{app}/manifests",
                "targetRevision": "HEAD",
            },
            "destination": {"server": "https://kubernetes.default.svc", "namespace": namespace},
            "syncPolicy": {"automated": {"prune": True, "selfHeal": True}},
        },
    }
    if application is None:
        body["metadata"].update(uid=uid_for(f"app/{name}"), generation=1, creationTimestamp=stamp)
        client.must("POST", app_path, {**body, "status": status})
    else:
        client.must(
            "PATCH",
            f"{app_path}/{name}/status",
            replace_patch({"status": application.get("status")}, {"status": status}),
        )
    return changes


def record_failure(url: str, *, env: str, app: str, message: str, repo_url: str = "") -> None:
    """Record a commit that could not be applied: OutOfSync, a ComparisonError condition."""
    client = EmulatorClient(url)
    app_path = api_path("argoproj.io/v1alpha1", "Application", APP_NAMESPACE)
    name = f"{app}-{env}"
    application = client.get(f"{app_path}/{name}")
    if application is None:
        return
    stamp = now_iso()
    status = dict(application.get("status") or {})
    status["sync"] = {**(status.get("sync") or {}), "status": "OutOfSync"}
    status["conditions"] = [
        {"type": "ComparisonError", "message": message, "lastTransitionTime": stamp}
    ]
    status["reconciledAt"] = stamp
    client.must(
        "PATCH",
        f"{app_path}/{name}/status",
        replace_patch({"status": application.get("status")}, {"status": status}),
    )


def _resource(ref: ObjectRef) -> Obj:
    return {
        "group": ref.group,
        "version": ref.version,
        "kind": ref.kind,
        "namespace": ref.namespace,
        "name": ref.name,
    }


def _ref_of(resource: Obj) -> ObjectRef:
    group, version = resource.get("group") or "", resource.get("version") or "v1"
    return ObjectRef(
        api_version=f"{group}/{version}" if group else version,
        kind=str(resource.get("kind")),
        namespace=str(resource.get("namespace") or ""),
        name=str(resource.get("name")),
    )


def _images(objects: Any) -> set[str]:
    found = set()
    for obj in objects:
        pod = ((obj.get("spec") or {}).get("template") or {}).get("spec") or {}
        for container in (pod.get("containers") or []) + (pod.get("initContainers") or []):
            if container.get("image"):
                found.add(str(container["image"]))
    return found


def _apply(client: EmulatorClient, ref: ObjectRef, obj: Obj) -> str:
    path = api_path(ref.api_version, ref.kind, ref.namespace)
    live = client.get(f"{path}/{ref.name}")
    desired = json.loads(json.dumps(obj))
    desired.pop("status", None)
    if live is None:
        desired["metadata"].update(
            uid=uid_for(f"{ref.kind}/{ref.namespace}/{ref.name}"),
            generation=1,
            creationTimestamp=now_iso(),
            resourceVersion="1",
        )
        client.must("POST", path, desired)
        return f"created {ref}"
    kept = {k: v for k, v in live["metadata"].items() if k in SERVER_MANAGED}
    desired["metadata"] = {**desired["metadata"], **kept}
    for key in ("annotations", "ownerReferences"):  # controllers' annotations stay
        if key == "annotations":
            merged = {
                k: v
                for k, v in (live["metadata"].get(key) or {}).items()
                if k.startswith("deployment.kubernetes.io/")
            }
            desired["metadata"][key] = {**merged, **(desired["metadata"].get(key) or {})}
    current = {k: v for k, v in live.items() if k != "status"}
    if ref.kind == "Service" and (live.get("spec") or {}).get("clusterIP"):
        desired.setdefault("spec", {})["clusterIP"] = live["spec"]["clusterIP"]
    if current == desired:
        return f"unchanged {ref}"
    if current.get("spec") != desired.get("spec"):
        desired["metadata"]["generation"] = int(live["metadata"].get("generation") or 1) + 1
    client.must("PATCH", f"{path}/{ref.name}", replace_patch(current, desired))
    return f"configured {ref}"
