"""LOCAL CLUSTER EMULATOR: the kubelet's pod status for each simulated behaviour."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ci_plugins_emulator import LABEL
from ci_plugins_emulator.shapes import container_status, pod_conditions

Obj = dict[str, Any]


@dataclass
class Timing:
    """How fast the emulated cluster moves (seconds)."""

    tick: float = 0.1
    ready_after: float = 1.0
    crash_after: float = 2.0
    scale_up_after: float = 3.0


def pod_status(pod: Obj, mode: str, age: float, t: Timing, logs: list[str]) -> Obj:
    """The kubelet's view of a pod `age` seconds after it was scheduled, in `mode`."""
    spec = pod.get("spec") or {}
    meta = pod["metadata"]
    containers = spec.get("containers") or []
    inits = spec.get("initContainers") or []
    started = age >= t.ready_after
    index = int(meta["uid"][-2:], 16)
    base = {
        "podIP": f"10.244.0.{index}",
        "hostIP": "172.18.0.2",
        "qosClass": "BestEffort",
        "startTime": meta["creationTimestamp"],
    }
    init_statuses = [
        container_status(c, "terminated-ok" if started or mode != "init-crash" else "running")
        for c in inits
    ]
    if mode == "init-crash" and inits:
        crashed = age >= t.crash_after / 2
        kind = "crashloop" if crashed else "running"
        init_statuses[0] = container_status(inits[0], kind, restarts=int(crashed))
        if crashed and len(logs) != 3:
            logs[:] = [
                f"{LABEL} pulling model artifact",
                "Error: failed to fetch model: manifest unknown",
                "exit status 1",
            ]
        waiting = [container_status(c, "waiting", reason="PodInitializing") for c in containers]
        return {
            **base,
            "phase": "Pending",
            "conditions": pod_conditions(scheduled=True, initialized=False, ready=False),
            "initContainerStatuses": init_statuses,
            "containerStatuses": waiting,
        }
    if mode in ("image-not-found", "invalid-image", "config-error"):
        reason, message = {
            "image-not-found": (
                "ErrImagePull" if age < t.ready_after else "ImagePullBackOff",
                "rpc error: code = NotFound desc = failed to pull and unpack image "
                '"{image}": not found',
            ),
            "invalid-image": (
                "InvalidImageName",
                'Failed to apply default image tag "{image}": invalid reference format',
            ),
            "config-error": (
                "CreateContainerConfigError",
                'secret "model-credentials" not found',
            ),
        }[mode]
        statuses = [
            container_status(
                c, "waiting", reason=reason, message=message.format(image=c.get("image"))
            )
            for c in containers
        ]
        return {
            **base,
            "phase": "Pending",
            "conditions": pod_conditions(scheduled=True, initialized=True, ready=False),
            "initContainerStatuses": init_statuses,
            "containerStatuses": statuses,
        }
    if not started:
        statuses = [container_status(c, "waiting", reason="ContainerCreating") for c in containers]
        return {
            **base,
            "phase": "Pending",
            "conditions": pod_conditions(scheduled=True, initialized=not inits, ready=False),
            "initContainerStatuses": init_statuses,
            "containerStatuses": statuses,
        }
    if mode == "crashloop" and age >= t.crash_after:
        if len(logs) < 3:
            logs[:] = [
                "Loading servable: {name: model version: 1}",
                "Failed to load model: Op type not registered 'Foo'",
                "Aborted (core dumped)",
            ]
        restarts = 1 + int((age - t.crash_after) // 10)
        statuses = [container_status(c, "crashloop", restarts=restarts) for c in containers]
        return {
            **base,
            "phase": "Running",
            "conditions": pod_conditions(scheduled=True, initialized=True, ready=False),
            "initContainerStatuses": init_statuses,
            "containerStatuses": statuses,
        }
    if mode == "oom" and age >= t.ready_after:
        if len(logs) < 2:
            logs[:] = [
                "Reading SavedModel from: /models/model/1",
                "Loading the model into memory (7.9 GiB)",
            ]
        kind = "oom-terminated" if age < t.crash_after else "oom-crashloop"
        statuses = [
            container_status(c, kind, restarts=0 if kind == "oom-terminated" else 1)
            for c in containers
        ]
        return {
            **base,
            "phase": "Running",
            "conditions": pod_conditions(scheduled=True, initialized=True, ready=False),
            "initContainerStatuses": init_statuses,
            "containerStatuses": statuses,
        }
    # A crash-looping model server loads for a while (running, not ready) before it dies.
    ready = mode not in ("not-ready", "crashloop", "oom")
    if not logs:
        logs += [
            f"{LABEL} tensorflow_model_server started",
            "Successfully loaded servable version",
        ]
    statuses = [container_status(c, "running", ready=ready) for c in containers]
    return {
        **base,
        "phase": "Running",
        "conditions": pod_conditions(scheduled=True, initialized=True, ready=ready),
        "initContainerStatuses": init_statuses,
        "containerStatuses": statuses,
    }
