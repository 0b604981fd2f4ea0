"""LOCAL CLUSTER EMULATOR: one pod on the emulated node, its containers as processes.

Pulls (resolves) every image first: an image no registry here has leaves its container
waiting in ErrImagePull, then ImagePullBackOff, naming the image. Then the volumes, the
init containers one after the other (a failing one is restarted with back-off and the pod
stays Pending, as on a real node), then the main containers side by side. Container ports
get free loopback ports (one per containerPort: the containers of a pod share them, so two
binding the same port clash for real); args naming a port (`--rest_api_port=8501`, `8501`)
are rewritten to it.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import re
import shutil
import socket
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ci_plugins_emulator import images
from ci_plugins_emulator.containers import Container, Emit, Launch, base_env, probe_ports
from ci_plugins_emulator.probes import ProbeTarget
from ci_plugins_emulator.shapes import now_iso
from ci_plugins_emulator.timing import Timing
from ci_plugins_emulator.volumes import Lookup, Mounts, VolumeError, mounts_for, prepare_volumes

Obj = dict[str, Any]
SIMULATE = "ci-plugins.dev/simulate"
PORT_ARG = re.compile(r"^(-{1,2}[\w.-]+=|)(\d+)$")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@dataclass
class PodWorker:
    pod: Obj
    root: Path  # this pod's directory
    run_images: Mapping[str, Path]
    timing: Timing
    lookup: Lookup
    changed: Callable[[], None]
    emit: Emit
    ports: dict[int, int] = field(default_factory=dict)
    inits: list[Container] = field(default_factory=list)
    mains: list[Container] = field(default_factory=list)
    initialized: bool = False
    started_at: str = field(default_factory=now_iso)
    phase_final: str = ""  # Succeeded / Failed for pods that do not restart
    _task: asyncio.Task[None] | None = None
    _transitions: dict[str, tuple[bool, str]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        meta = self.pod["metadata"]
        spec = self.pod.get("spec") or {}
        label = f"{meta['name']}_{meta['namespace']}({meta.get('uid', '')})"
        for c in spec.get("initContainers") or []:
            self.inits.append(Container(c, self.timing, self.changed, self.emit, label))
        for c in spec.get("containers") or []:
            self.mains.append(Container(c, self.timing, self.changed, self.emit, label))
        for c in self.inits:
            c.state = {"waiting": {"reason": "PodInitializing"}}
        for c in self.mains:
            c.state = {
                "waiting": {"reason": "PodInitializing" if self.inits else "ContainerCreating"}
            }
        for container in (spec.get("initContainers") or []) + (spec.get("containers") or []):
            for port in container.get("ports") or []:
                number = int(port.get("containerPort", 0))
                if number and number not in self.ports:
                    self.ports[number] = free_port()

    @property
    def restart_policy(self) -> str:
        return str((self.pod.get("spec") or {}).get("restartPolicy") or "Always")

    @property
    def mode(self) -> str:
        return str((self.pod["metadata"].get("annotations") or {}).get(SIMULATE, ""))

    def start(self) -> None:
        self._task = asyncio.create_task(self._run())

    async def stop(self) -> None:
        grace = float((self.pod.get("spec") or {}).get("terminationGracePeriodSeconds", 30))
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._task
        await asyncio.gather(
            *(c.stop(min(grace, self.timing.grace_max)) for c in self.inits + self.mains)
        )
        shutil.rmtree(self.root, ignore_errors=True)

    def kill_now(self) -> None:
        for c in self.inits + self.mains:
            c.stop_now()

    # -- the pod's life -------------------------------------------------------------------
    async def _run(self) -> None:
        spec = self.pod.get("spec") or {}
        runnables = {}
        for c in self.inits + self.mains:
            runnable = await self._pull(c)
            if runnable is None:
                if c in self.inits:
                    return  # the pod cannot initialize; the container stays in back-off
                continue
            runnables[c.name] = runnable
        try:
            volumes = prepare_volumes(self.root, spec, self.lookup)
        except VolumeError as exc:
            self.emit("FailedMount", f"MountVolume.SetUp failed: {exc}", True)
            return
        for c in self.inits:
            if not await self._run_init(c, runnables[c.name], volumes):
                return
        self.initialized = True
        self.changed()
        await asyncio.gather(
            *(
                self._run_main(c, runnables[c.name], volumes)
                for c in self.mains
                if c.name in runnables
            )
        )

    async def _pull(self, c: Container) -> images.Runnable | None:
        image = str(c.spec.get("image") or "")
        if not images.valid_reference(image):
            message = f'Failed to apply default image tag "{image}": invalid reference format'
            c.set_waiting("InvalidImageName", message)
            self.emit("InspectFailed", message, True)
            return None
        runnable = images.resolve(image, self.run_images)
        if runnable is not None:
            c.image_id = f"{images.repository_of(image)}@{_image_digest(image)}"
            self.emit("Pulled", f'Container image "{image}" already present on machine', False)
            return runnable
        # Not in any registry this node can reach: the kubelet's messages, then back-off.
        message = (
            f'Failed to pull image "{image}": rpc error: code = NotFound desc = failed to pull '
            f'and unpack image "{image}": failed to resolve reference "{image}": not found'
        )
        self.emit("Pulling", f'Pulling image "{image}"', False)
        self.emit("Failed", message, True)
        c.set_waiting("ErrImagePull", message)
        self._later(self.timing.backoff, lambda: self._pull_backoff(c, image, message))
        return None

    def _pull_backoff(self, c: Container, image: str, error: str) -> None:
        # since Kubernetes 1.32 the back-off message keeps the pull error (kubernetes#127918)
        c.set_waiting(
            "ImagePullBackOff", f'Back-off pulling image "{image}": ErrImagePull: {error}'
        )
        self.emit("BackOff", f'Back-off pulling image "{image}"', False)

    def _later(self, delay: float, fn: Callable[[], None]) -> None:
        asyncio.get_running_loop().call_later(delay, fn)

    async def _run_init(
        self, c: Container, runnable: images.Runnable, volumes: dict[str, Path]
    ) -> bool:
        failures = 0
        while True:
            launch = self._launch(c, runnable, volumes)
            if launch is None:
                return False
            code = await c.run_once(launch)
            if code == 0:
                return True
            if self.restart_policy == "Never":
                self.phase_final = "Failed"
                self.changed()
                return False
            await self._back_off(c, failures)
            failures += 1

    async def _run_main(
        self, c: Container, runnable: images.Runnable, volumes: dict[str, Path]
    ) -> None:
        failures = 0
        while True:
            launch = self._launch(c, runnable, volumes)
            if launch is None:
                return
            code = await c.run_once(launch)
            policy = self.restart_policy
            if policy == "Never" or (policy == "OnFailure" and code == 0):
                self._settle()
                return
            await self._back_off(c, failures)
            failures += 1

    def _settle(self) -> None:
        codes = [(c.state.get("terminated") or {}).get("exitCode") for c in self.mains]
        if all(code is not None for code in codes):
            self.phase_final = "Succeeded" if all(code == 0 for code in codes) else "Failed"
            self.changed()

    async def _back_off(self, c: Container, failures: int) -> None:
        delay = min(self.timing.backoff * (2**failures), self.timing.backoff_max)
        c.last_state = {"terminated": c.state.get("terminated", {})}
        label = c.pod_label
        c.set_waiting(
            "CrashLoopBackOff",
            f"back-off {_seconds(delay)} restarting failed container={c.name} pod={label}",
        )
        # the dead instance counts as a restart from now on (kubectl shows RESTARTS 1 in
        # CrashLoopBackOff), and `logs --previous` reads it
        c.restarts += 1
        self.emit("BackOff", "Back-off restarting failed container " + c.name, True)
        await asyncio.sleep(delay)

    def _launch(
        self, c: Container, runnable: images.Runnable, volumes: dict[str, Path]
    ) -> Launch | None:
        try:
            mounts = mounts_for(c.spec, volumes)
            env = self._env(c.spec, mounts)
        except VolumeError as exc:
            c.set_waiting("CreateContainerConfigError", str(exc))
            self.emit("Failed", f"Error: {exc}", True)
            return None
        raw_args = [str(a) for a in c.spec.get("args") or []]
        if runnable.serving and not c.spec.get("command"):
            # the image's ENTRYPOINT (tf_serving_entrypoint.sh) puts its flags first
            from ci_plugins_emulator.tfserving.flags import entrypoint_args

            raw_args = [*entrypoint_args(env), *raw_args]
        args = [self._port_arg(a) for a in mounts.rewrite_all(raw_args)]
        command = mounts.rewrite_all([str(a) for a in c.spec.get("command") or []])
        argv = images.argv_for(runnable, command, args)
        if not argv:
            c.set_waiting("RunContainerError", "no command specified")
            return None
        cwd = runnable.cwd or self.root
        if c.spec.get("workingDir") and runnable.cwd is None:
            cwd = Path(mounts.rewrite(str(c.spec["workingDir"])))
        target = ProbeTarget(
            ports=probe_ports(c.spec, self.ports),
            env=env,
            cwd=str(cwd),
            argv_for=lambda cmd, m=mounts: m.rewrite_all([str(x) for x in cmd]),
        )
        return Launch(
            argv=argv,
            env=env,
            cwd=cwd,
            log_dir=self.root / "logs",
            probe_target=target,
            oom=self.mode == "oom",
        )

    def _port_arg(self, arg: str) -> str:
        match = PORT_ARG.match(arg)
        if match and int(match.group(2)) in self.ports:
            return f"{match.group(1)}{self.ports[int(match.group(2))]}"
        return arg

    def _env(self, spec: Obj, mounts: Mounts) -> dict[str, str]:
        meta = self.pod["metadata"]
        env = base_env([str(Path(sys.executable).parent)])
        env.update(HOSTNAME=meta["name"], HOME=str(self.root))
        for source in spec.get("envFrom") or []:
            ref = source.get("configMapRef") or source.get("secretRef") or {}
            kind = "ConfigMap" if "configMapRef" in source else "Secret"
            obj = self.lookup(kind, str(ref.get("name")))
            if obj is None:
                if ref.get("optional"):
                    continue
                raise VolumeError(f'{kind.lower()} "{ref.get("name")}" not found')
            for key, value in (obj.get("data") or {}).items():
                env[f"{source.get('prefix', '')}{key}"] = _decoded(kind, value)
        for var in spec.get("env") or []:
            env[str(var["name"])] = mounts.rewrite(self._env_value(var))
        return env

    def _env_value(self, var: Obj) -> str:
        if "value" in var:
            return str(var["value"])
        source = var.get("valueFrom") or {}
        meta = self.pod["metadata"]
        if "fieldRef" in source:
            path = source["fieldRef"].get("fieldPath", "")
            fields = {
                "metadata.name": meta["name"],
                "metadata.namespace": meta["namespace"],
                "metadata.uid": meta.get("uid", ""),
                "status.podIP": "127.0.0.1",
                "spec.nodeName": "emulated-node",
            }
            if path.startswith("metadata.annotations['"):
                return str((meta.get("annotations") or {}).get(path[22:-2], ""))
            if path.startswith("metadata.labels['"):
                return str((meta.get("labels") or {}).get(path[17:-2], ""))
            return str(fields.get(path, ""))
        for key, kind in (("configMapKeyRef", "ConfigMap"), ("secretKeyRef", "Secret")):
            if key in source:
                ref = source[key]
                obj = self.lookup(kind, str(ref.get("name")))
                data = (obj or {}).get("data") or {}
                if ref.get("key") not in data:
                    if ref.get("optional"):
                        return ""
                    what = f'{kind.lower()} "{ref.get("name")}"'
                    raise VolumeError(
                        f"couldn't find key {ref.get('key')} in {what}"
                        if obj
                        else f"{what} not found"
                    )
                return _decoded(kind, data[ref["key"]])
        return ""

    # -- the pod's status -----------------------------------------------------------------
    def status(self) -> Obj:
        mains_ready = bool(self.mains) and all(c.ready for c in self.mains)
        if self.phase_final:
            phase = self.phase_final
        elif self.initialized and all(c.ever_ran for c in self.mains):
            phase = "Running"
        else:
            phase = "Pending"
        return {
            "phase": phase,
            "podIP": "127.0.0.1",
            "podIPs": [{"ip": "127.0.0.1"}],
            "hostIP": "127.0.0.1",
            "qosClass": "BestEffort",
            "startTime": self.started_at,
            "conditions": [
                self._condition("PodScheduled", True),
                self._condition("Initialized", self.initialized),
                self._condition("ContainersReady", mains_ready),
                self._condition("Ready", mains_ready),
            ],
            "initContainerStatuses": [c.status() for c in self.inits],
            "containerStatuses": [c.status() for c in self.mains],
        }

    def _condition(self, kind: str, value: bool) -> Obj:
        # lastTransitionTime moves only when the condition flips, as on a real node
        seen = self._transitions.get(kind)
        if seen is None or seen[0] != value:
            seen = self._transitions[kind] = (value, now_iso())
        return {"type": kind, "status": "True" if value else "False", "lastTransitionTime": seen[1]}

    def host_port(self, container_port: int) -> int | None:
        return self.ports.get(container_port)

    def named_port(self, name: str) -> int | None:
        for c in self.mains:
            for port in c.spec.get("ports") or []:
                if port.get("name") == name:
                    return self.ports.get(int(port["containerPort"]))
        return None


def _decoded(kind: str, value: str) -> str:
    if kind != "Secret":
        return str(value)
    import base64

    return base64.b64decode(value).decode("utf-8", "replace")


def _image_digest(image: str) -> str:
    _, pinned, digest = image.partition("@")
    if pinned and digest.startswith("sha256:"):
        return digest
    return "sha256:" + hashlib.sha256(image.encode()).hexdigest()


def _seconds(delay: float) -> str:
    return f"{delay:g}s"
