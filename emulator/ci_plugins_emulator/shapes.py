"""LOCAL CLUSTER EMULATOR: object shapes complete enough for the official client's typed models."""

from __future__ import annotations

import datetime
import hashlib
import uuid
from typing import Any

Obj = dict[str, Any]
CORE_PLURALS = {"Endpoints": "endpoints"}


def now_iso() -> str:
    return datetime.datetime.now(tz=datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def uid_for(seed: str) -> str:
    """A stable UUID for an emulated object (new objects get new seeds)."""
    return str(uuid.uuid5(uuid.NAMESPACE_URL, f"{seed}/{uuid.uuid4()}"))


def plural_of(kind: str) -> str:
    if kind in CORE_PLURALS:
        return CORE_PLURALS[kind]
    lower = kind.lower()
    if lower.endswith("y"):
        return lower[:-1] + "ies"
    return lower + ("es" if lower.endswith("s") else "s")


def api_path(api_version: str, kind: str, namespace: str, name: str | None = None) -> str:
    """The REST path of a namespaced collection, or of one object when name is given."""
    prefix = "/api/v1" if api_version == "v1" else f"/apis/{api_version}"
    path = f"{prefix}/namespaces/{namespace}/{plural_of(kind)}"
    return f"{path}/{name}" if name else path


def replace_patch(old: Any, new: Any) -> Any:
    """A JSON merge patch that turns old into new (keys missing from new become null)."""
    if not isinstance(old, dict) or not isinstance(new, dict):
        return new
    patch: Obj = {key: None for key in old if key not in new}
    for key, value in new.items():
        if key not in old:
            patch[key] = value
        elif old[key] != value:
            patch[key] = replace_patch(old[key], value)
    return patch


def _digest(image: str) -> str:
    # A kubelet reports the digest an image is pinned to (repo:tag@sha256:...).
    _, pinned, digest = image.partition("@")
    if pinned and digest.startswith("sha256:"):
        return digest
    return "sha256:" + hashlib.sha256(image.encode()).hexdigest()


def container_status(
    container: Obj,
    state: str,
    *,
    ready: bool = False,
    restarts: int = 0,
    reason: str = "",
    message: str = "",
) -> Obj:
    """A V1ContainerStatus (image and imageID included, as a kubelet reports them)."""
    image = str(container.get("image", ""))
    stamp = now_iso()
    repository = (
        image.split("@")[0].rsplit(":", 1)[0]
        if ":" in image.split("/")[-1]
        else image.split("@")[0]
    )
    status: Obj = {
        "name": container.get("name"),
        "image": image,
        "imageID": f"{repository}@{_digest(image)}",
        "ready": ready,
        "restartCount": restarts,
        "started": state == "running",
        "lastState": {},
    }
    if state in ("running", "crashloop", "oom-crashloop", "oom-terminated", "terminated-ok"):
        status["containerID"] = (
            "containerd://" + hashlib.sha256(f"{image}{stamp}".encode()).hexdigest()
        )
    if state == "running":
        status["state"] = {"running": {"startedAt": stamp}}
    elif state == "terminated-ok":
        status["state"] = _terminated(0, "Completed", stamp)
    elif state == "waiting":
        status["state"] = {
            "waiting": {"reason": reason, **({"message": message} if message else {})}
        }
    elif state == "crashloop":
        status["state"] = {
            "waiting": {
                "reason": "CrashLoopBackOff",
                "message": f"back-off 10s restarting failed container={container.get('name')}",
            }
        }
        status["lastState"] = _terminated(1, "Error", stamp)
    elif state == "oom-terminated":
        status["state"] = _terminated(137, "OOMKilled", stamp)
    elif state == "oom-crashloop":
        status["state"] = {
            "waiting": {
                "reason": "CrashLoopBackOff",
                "message": "back-off 10s restarting failed container",
            }
        }
        status["lastState"] = _terminated(137, "OOMKilled", stamp)
    return status


def _terminated(code: int, reason: str, stamp: str) -> Obj:
    return {
        "terminated": {
            "exitCode": code,
            "reason": reason,
            "startedAt": stamp,
            "finishedAt": stamp,
        }
    }


def pod_conditions(*, scheduled: bool, initialized: bool, ready: bool) -> list[Obj]:
    stamp = "2026-01-01T00:00:00Z"

    def cond(kind: str, value: bool) -> Obj:
        return {"type": kind, "status": "True" if value else "False", "lastTransitionTime": stamp}

    return [
        cond("PodScheduled", scheduled),
        cond("Initialized", initialized),
        cond("ContainersReady", ready),
        cond("Ready", ready),
    ]


def event(obj: Obj, reason: str, message: str, component: str, *, warning: bool = False) -> Obj:
    """A core/v1 Event about obj."""
    meta = obj["metadata"]
    stamp = now_iso()
    name = f"{meta['name']}.{uuid.uuid4().hex[:12]}"
    return {
        "apiVersion": "v1",
        "kind": "Event",
        "metadata": {
            "name": name,
            "namespace": meta["namespace"],
            "uid": uid_for(name),
            "creationTimestamp": stamp,
        },
        "involvedObject": {
            "apiVersion": obj.get("apiVersion", "v1"),
            "kind": obj.get("kind", "Pod"),
            "name": meta["name"],
            "namespace": meta["namespace"],
            "uid": meta.get("uid"),
        },
        "reason": reason,
        "message": message,
        "type": "Warning" if warning else "Normal",
        "source": {"component": component},
        "reportingComponent": component,
        "count": 1,
        "firstTimestamp": stamp,
        "lastTimestamp": stamp,
    }
