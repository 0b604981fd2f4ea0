"""LOCAL CLUSTER EMULATOR: one container as a real process, with its kubelet status.

Runs the process (stdout and stderr to a log file per run), executes its probes, kills it
when a liveness or startup probe fails, and restarts it with back-off according to the
pod's restartPolicy. Its `status()` is the V1ContainerStatus a kubelet would report:
state, lastState.terminated with the real exit code, restartCount, ready, started.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import os
import signal
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ci_plugins_emulator.probes import ProbeTarget, run_probe
from ci_plugins_emulator.shapes import now_iso
from ci_plugins_emulator.timing import Timing

Obj = dict[str, Any]
Emit = Callable[[str, str, bool], None]  # (reason, message, warning)


@dataclass
class Launch:
    """Everything needed to start the process (paths and ports already mapped)."""

    argv: list[str]
    env: dict[str, str]
    cwd: Path
    log_dir: Path
    probe_target: ProbeTarget
    oom: bool = False  # simulated: killed as OOMKilled after Timing.oom_after


@dataclass
class Container:
    spec: Obj
    timing: Timing
    changed: Callable[[], None]
    emit: Emit
    pod_label: str  # "name_namespace(uid)" as the kubelet's messages name a pod
    state: Obj = field(default_factory=lambda: {"waiting": {"reason": "ContainerCreating"}})
    last_state: Obj = field(default_factory=dict)
    restarts: int = 0
    ready: bool = False
    started: bool = False
    container_id: str = ""
    image_id: str = ""
    ever_ran: bool = False
    _proc: asyncio.subprocess.Process | None = None
    _kill_reason: str = ""

    @property
    def name(self) -> str:
        return str(self.spec.get("name"))

    def status(self) -> Obj:
        image = str(self.spec.get("image", ""))
        status: Obj = {
            "name": self.name,
            "image": image,
            "imageID": self.image_id,
            "ready": self.ready,
            "restartCount": self.restarts,
            "started": self.started,
            "state": self.state,
            "lastState": self.last_state,
        }
        if self.container_id:
            status["containerID"] = self.container_id
        return status

    def set_waiting(self, reason: str, message: str = "") -> None:
        self.state = {"waiting": {"reason": reason, **({"message": message} if message else {})}}
        self.ready = False
        self.changed()

    def log_file(self, log_dir: Path, run: int) -> Path:
        return log_dir / self.name / f"{run}.log"

    async def run_once(self, launch: Launch) -> int:
        """Run the process until it exits; its exit code (128+N when killed by signal N)."""
        log = self.log_file(launch.log_dir, self.restarts)
        log.parent.mkdir(parents=True, exist_ok=True)
        self._kill_reason = ""
        with log.open("ab") as out:
            spawn = asyncio.ensure_future(
                asyncio.create_subprocess_exec(
                    *launch.argv,
                    cwd=launch.cwd,
                    env=launch.env,
                    stdin=asyncio.subprocess.DEVNULL,
                    stdout=out,
                    stderr=asyncio.subprocess.STDOUT,
                    start_new_session=True,
                )
            )
            try:
                self._proc = await asyncio.shield(spawn)
            except asyncio.CancelledError:
                # the pod went away while its process was starting: never leave it behind
                with contextlib.suppress(Exception):
                    _signal_group((await spawn).pid, signal.SIGKILL)
                raise
            except OSError as exc:
                # what runc reports for a missing executable: the container never starts
                self.set_waiting("RunContainerError", f"failed to start {launch.argv[0]}: {exc}")
                self.emit("Failed", f"Error: {exc}", True)
                return 128
        started_at = now_iso()
        self.container_id = (
            "containerd://"
            + hashlib.sha256(
                f"{self.pod_label}/{self.name}/{self.restarts}/{time.time()}".encode()
            ).hexdigest()
        )
        self.state = {"running": {"startedAt": started_at}}
        self.ever_ran = True
        self.started = "startupProbe" not in self.spec
        self.ready = False
        self.emit("Started", f"Started container {self.name}", False)
        self.changed()
        # A simulated `oom` container is killed while it loads its model: it never gets as far
        # as answering a probe, so no verify can see it Ready before the kill.
        if launch.oom:
            watchers = [asyncio.create_task(self._oom_after(self.timing.oom_after))]
        else:
            watchers = [asyncio.create_task(self._probe(launch.probe_target))]
        try:
            code = await self._proc.wait()
        finally:
            for task in watchers:
                task.cancel()
            await asyncio.gather(*watchers, return_exceptions=True)
        exit_code = code if code >= 0 else 128 - code
        reason = self._kill_reason or ("Completed" if exit_code == 0 else "Error")
        self.state = {
            "terminated": {
                "exitCode": exit_code,
                "reason": reason,
                "startedAt": started_at,
                "finishedAt": now_iso(),
                "containerID": self.container_id,
            }
        }
        self.ready = False
        self.started = False
        self._proc = None
        self.changed()
        return exit_code

    async def stop(self, grace: float) -> None:
        """SIGTERM the process group, SIGKILL after grace seconds."""
        proc = self._proc
        if proc is None or proc.returncode is not None:
            return
        _signal_group(proc.pid, signal.SIGTERM)
        try:
            await asyncio.wait_for(proc.wait(), grace)
        except TimeoutError:
            _signal_group(proc.pid, signal.SIGKILL)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(proc.wait(), 5)

    def stop_now(self) -> None:
        """SIGKILL the process group (emulator shutting down without its loop)."""
        if self._proc is not None and self._proc.returncode is None:
            _signal_group(self._proc.pid, signal.SIGKILL)

    async def _oom_after(self, seconds: float) -> None:
        await asyncio.sleep(seconds)
        self._kill_reason = "OOMKilled"
        if self._proc is not None:
            _signal_group(self._proc.pid, signal.SIGKILL)

    # -- probes ---------------------------------------------------------------------------
    async def _probe(self, target: ProbeTarget) -> None:
        startup = self.spec.get("startupProbe")
        if startup and not await self._probe_loop("Startup", startup, target, until_pass=True):
            return
        self.started = True
        self.changed()
        loops = []
        readiness = self.spec.get("readinessProbe")
        liveness = self.spec.get("livenessProbe")
        if readiness:
            loops.append(self._probe_loop("Readiness", readiness, target))
        else:
            self.ready = True
            self.changed()
        if liveness:
            loops.append(self._probe_loop("Liveness", liveness, target))
        if loops:
            await asyncio.gather(*loops)

    async def _probe_loop(
        self, kind: str, probe: Obj, target: ProbeTarget, *, until_pass: bool = False
    ) -> bool:
        t = self.timing
        period = min(float(probe.get("periodSeconds", 10)), t.probe_period_max)
        timeout = min(float(probe.get("timeoutSeconds", 1)), t.probe_timeout_max)
        failure_threshold = int(probe.get("failureThreshold", 3))
        success_threshold = int(probe.get("successThreshold", 1))
        await asyncio.sleep(min(float(probe.get("initialDelaySeconds", 0)), t.probe_period_max))
        failures = successes = 0
        while True:
            passed, message = await run_probe(probe, target, timeout=timeout)
            if passed:
                failures, successes = 0, successes + 1
                if until_pass:
                    return True
                if kind == "Readiness" and successes >= success_threshold and not self.ready:
                    self.ready = True
                    self.changed()
            else:
                failures, successes = failures + 1, 0
                self.emit("Unhealthy", f"{kind} probe failed: {message}", True)
                if kind == "Readiness" and failures >= failure_threshold and self.ready:
                    self.ready = False
                    self.changed()
                if kind != "Readiness" and failures >= failure_threshold:
                    self.emit(
                        "Killing",
                        f"Container {self.name} failed {kind.lower()} probe, will be restarted",
                        False,
                    )
                    if self._proc is not None:
                        await self.stop(t.grace_max)
                    return False
            await asyncio.sleep(period)


def _signal_group(pid: int, sig: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, sig)


def base_env(extra_path: Sequence[str] = ()) -> dict[str, str]:
    """What every container process gets from the host: PATH (the venv first), PYTHONPATH,
    locale; nothing else leaks in from the emulator's environment."""
    env = {k: v for k, v in os.environ.items() if k in ("PYTHONPATH", "LANG", "LC_ALL", "TZ")}
    env["PATH"] = os.pathsep.join([*extra_path, os.environ.get("PATH", "/usr/bin:/bin")])
    return env


def probe_ports(spec: Obj, pod_ports: Mapping[int, int]) -> dict[str, int]:
    """Name or number -> loopback port, for this container's probes."""
    ports = {str(n): p for n, p in pod_ports.items()}
    for port in spec.get("ports") or []:
        if port.get("name") and int(port["containerPort"]) in pod_ports:
            ports[str(port["name"])] = pod_ports[int(port["containerPort"])]
    return ports
