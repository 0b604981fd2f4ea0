"""Phase D, serving containers: a TensorFlow Serving process that has no model to serve.

A plain `tensorflow/serving` pod without its model (no artifact, a wrong base path) never
crashes: TF Serving polls the base path every second, logs that it found no version, and
stays Running and not Ready until its startup probe gives up, a minute or more later. Its
own log says why at once (sources/storage_path/file_system_storage_path_source.cc), so a
serving container that runs, is not ready, and whose latest version line is one of these
fails the release after `Policy.no_model_grace` (a model still being copied in is seen
loading before then). The log is read at the edge (verify/serving_logs.py); this module
only decides.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

from ci_plugins.verify.readiness.model import Obj, Result, Timers, failed, get, progressing
from ci_plugins.verify.readiness.policy import Policy

REASON = "NoModel"
# TF Serving's two "no version" lines: the base path is empty (LOG(WARNING)), or it does not
# exist ("FileSystemStoragePathSource encountered a filesystem access error: ...").
NO_VERSIONS = re.compile(
    r"No versions of servable (?P<name>\S+) found under base path (?P<path>.+?)\. Did you forget"
)
NO_BASE_PATH = re.compile(r"Could not find base path (?P<path>\S+) for servable (?P<name>\S+)")
# Lines of a version being loaded or served: the model arrived after all.
LOADING = re.compile(
    r"Loading servable version|Successfully loaded servable version|Approving load for servable"
)
SERVING_IMAGE = re.compile(r"(^|/)tensorflow/serving([:@]|$)")
SERVER_FLAGS = ("--model_base_path", "--model_config_file")


@dataclass(frozen=True)
class NoVersion:
    """What TF Serving last said it could not find: the servable and its base path."""

    name: str
    base_path: str


def is_serving_container(container: Obj) -> bool:
    """A TensorFlow Serving container: its image, its command, or its model flags say so."""
    command = [str(part) for part in container.get("command") or []]
    args = [str(arg) for arg in container.get("args") or []]
    return bool(
        SERVING_IMAGE.search(str(container.get("image") or ""))
        or any(part.endswith("tensorflow_model_server") for part in command)
        or any(arg.startswith(SERVER_FLAGS) for arg in args)
    )


def waiting_servers(pod: Obj) -> list[str]:
    """Names of the pod's serving containers that run but are not ready (whose logs to read)."""
    serving = {
        str(c.get("name"))
        for c in get(pod, "spec", "containers", default=[])
        if is_serving_container(c)
    }
    return [
        str(status.get("name"))
        for status in get(pod, "status", "containerStatuses", default=[])
        if status.get("name") in serving
        and get(status, "state", "running") is not None
        and not status.get("ready")
    ]


def find_no_version(log: str) -> NoVersion | None:
    """The latest version line of a TF Serving log, when it says there is no version."""
    for line in reversed(log.splitlines()):
        match = NO_VERSIONS.search(line) or NO_BASE_PATH.search(line)
        if match:
            return NoVersion(match["name"], match["path"])
        if LOADING.search(line):
            return None
    return None


def classify_no_model(
    pod: Obj, logs: Mapping[str, str], policy: Policy, timers: Timers
) -> Result | None:
    """NoModel for the first waiting serving container whose log says it has no version.

    `logs` holds the recent log of each container `waiting_servers(pod)` names. Failed once
    the line has been seen for `policy.no_model_grace`; InProgress before; None otherwise.
    """
    name = str(get(pod, "metadata", "name", default="?"))
    waiting = set(waiting_servers(pod))
    for container in get(pod, "spec", "containers", default=[]):
        key = f"{name}/{container.get('name')}/no-model"
        found = find_no_version(logs.get(str(container.get("name")), ""))
        if container.get("name") not in waiting or found is None:
            timers.forget(key)
            continue
        message = f"no model: TF Serving found no version of {found.name} under {found.base_path}"
        where = f"pod {name} container {container.get('name')}"
        age = timers.age(key)
        if age >= policy.no_model_grace:
            return failed(REASON, f"{message} ({where})", pod=name)
        return progressing(REASON, f"{message} yet ({where}, for {age:.0f}s)")
    return None
