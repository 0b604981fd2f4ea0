"""Which devices train the model: GPU detection, the distribution strategy, require_gpu.

`choose_strategy` is pure (unit-tested without a GPU); `detect_devices` and
`make_strategy` are the only functions here that touch TensorFlow.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

from ci_plugins.errors import ExternalError, InputError

StrategyKind = Literal["default", "mirrored", "multi_worker"]


@dataclass(frozen=True)
class Devices:
    """The devices TensorFlow sees on this runner, e.g. `GPU:0 NVIDIA L4 (compute 8.9)`."""

    gpus: tuple[str, ...]
    cpus: tuple[str, ...] = ("CPU:0",)

    def describe(self) -> str:
        return ", ".join(self.gpus + self.cpus) or "none"


@dataclass(frozen=True)
class StrategyChoice:
    """How to train: which tf.distribute strategy, on which local devices, and why."""

    kind: StrategyKind
    devices: tuple[str, ...]
    reason: str
    chief: bool = True
    workers: int = 1


def choose_strategy(devices: Devices, *, tf_config: str | None) -> StrategyChoice:
    """TF_CONFIG set: MultiWorkerMirrored; several GPUs: Mirrored; else the default strategy.

    Raises InputError (exit 2) when TF_CONFIG is set but is not a valid cluster spec.
    """
    local = devices.gpus or devices.cpus[:1]
    cluster = parse_tf_config(tf_config)
    if cluster is not None:
        workers, task, chief = cluster
        return StrategyChoice(
            "multi_worker",
            local,
            f"TF_CONFIG names {workers} workers; this is {task}",
            chief=chief,
            workers=workers,
        )
    if len(devices.gpus) > 1:
        return StrategyChoice("mirrored", local, f"{len(devices.gpus)} GPUs on this runner")
    if devices.gpus:
        return StrategyChoice("default", local, "one GPU on this runner")
    return StrategyChoice("default", local, "no GPU on this runner: training on the CPU")


def parse_tf_config(raw: str | None) -> tuple[int, str, bool] | None:
    """(number of workers, "type:index" of this task, is chief) or None when unset."""
    if raw is None or not raw.strip():
        return None
    try:
        data: Any = json.loads(raw)
    except json.JSONDecodeError as exc:
        raise InputError(f"TF_CONFIG is not valid JSON: {exc.msg} (column {exc.colno})") from None
    cluster = data.get("cluster") if isinstance(data, dict) else None
    task = data.get("task") if isinstance(data, dict) else None
    if not isinstance(cluster, dict) or not isinstance(task, dict):
        raise InputError(
            'TF_CONFIG must hold {"cluster": {...}, "task": {"type": ..., "index": ...}}',
            hint="unset TF_CONFIG to train on this runner alone",
        )
    kind, index = task.get("type"), task.get("index", 0)
    members = cluster.get(kind) if isinstance(kind, str) else None
    if not isinstance(members, list) or not isinstance(index, int) or index >= len(members):
        raise InputError(f"TF_CONFIG task {kind}:{index} is not in its cluster {sorted(cluster)}")
    workers = sum(len(cluster.get(name) or []) for name in ("chief", "worker"))
    chief = kind == "chief" or (kind == "worker" and index == 0 and not cluster.get("chief"))
    return workers, f"{kind}:{index}", chief


def require_gpu(devices: Devices, environ: Mapping[str, str]) -> None:
    """ExternalError (exit 3) naming the runner's devices when no GPU is visible."""
    if devices.gpus:
        return
    visible = environ.get("CUDA_VISIBLE_DEVICES")
    extra = f"; CUDA_VISIBLE_DEVICES={visible!r}" if visible is not None else ""
    raise ExternalError(
        f"train.require_gpu is true but this runner has no GPU visible to TensorFlow "
        f"(devices: {devices.describe()}{extra}); nothing was trained",
        hint="run this job on a GPU runner (runner tags / runs-on / agent label) with the "
        "NVIDIA driver and `pip install ci-plugins[gpu]`, or set train.require_gpu: false",
    )


def detect_devices() -> Devices:
    """The physical GPUs and CPUs TensorFlow sees, with GPU model names where known."""
    import tensorflow as tf

    gpus = []
    for device in tf.config.list_physical_devices("GPU"):
        name = device.name.removeprefix("/physical_device:")
        details = tf.config.experimental.get_device_details(device)
        model = details.get("device_name")
        capability = details.get("compute_capability")
        if model:
            name += f" {model}"
        if capability:
            name += f" (compute {'.'.join(map(str, capability))})"
        gpus.append(name)
    cpus = [
        d.name.removeprefix("/physical_device:") for d in tf.config.list_physical_devices("CPU")
    ]
    return Devices(tuple(gpus), tuple(cpus))


def make_strategy(choice: StrategyChoice) -> Any:
    """The tf.distribute strategy for choice (create it before building the model)."""
    import tensorflow as tf

    if choice.kind == "multi_worker":
        return tf.distribute.MultiWorkerMirroredStrategy()
    if choice.kind == "mirrored":
        return tf.distribute.MirroredStrategy()
    return tf.distribute.get_strategy()
