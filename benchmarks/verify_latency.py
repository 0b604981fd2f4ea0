"""verify's detection latency and API load, against the LOCAL CLUSTER EMULATOR.

Run: .venv/bin/python benchmarks/verify_latency.py [--quick]
1. A new pod shows CrashLoopBackOff -> `ci-plugins verify` exits 1 (goal <= 5 s; Argo CD, Flux
   and Argo Rollouts report it only at the 600 s progress deadline).
2. The last pod turns Ready -> verify exits 0 (goal <= 5 s); baseline: `kubectl rollout
   status` against the same emulated API in the same run.
3. API requests per minute while waiting for pods that never become ready: watch (default)
   vs poll (`verify.watch: false`), both with the default 10 s resync.
Each latency is the median of several runs through the real CLI (a subprocess).
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


from ci_plugins_emulator.cluster import start  # noqa: E402
from ci_plugins_emulator.server import RunningCluster, write_kubeconfig  # noqa: E402
from ci_plugins_emulator.timing import Timing  # noqa: E402

from tests.support.envrepo import make_bare_repo  # noqa: E402
from tests.support.node import FAST, WEB_DIR, WEB_IMAGE  # noqa: E402
from tests.support.verify import (  # noqa: E402
    APP,
    NAMESPACE,
    VerifyEnv,
    deployment,
    service,
)

KUBECTL = ROOT / ".tools" / "bin" / "kubectl"


def setup(tmp: Path, timing: Timing, **verify: Any) -> VerifyEnv:
    running, simulator = start(tmp / "node", timing, run_images={WEB_IMAGE: WEB_DIR})
    env = VerifyEnv(
        root=tmp,
        running=running,
        simulator=simulator,
        kubeconfig=write_kubeconfig(tmp / "kubeconfig", running.url),
        repo=make_bare_repo(tmp / "env.git"),
        verify={"progress_interval": 5, **verify},
    )
    env.write_config()
    return env


def run_verify(env: VerifyEnv, *, timeout: float = 60) -> tuple[int, float]:
    """Run the CLI; (exit code, time.monotonic() at exit)."""
    proc = subprocess.run(
        [sys.executable, "-m", "ci_plugins", *env.verify_args("--timeout", str(timeout))],
        cwd=env.root,
        capture_output=True,
        text=True,
        check=False,
        env={k: v for k, v in os.environ.items() if not k.startswith("CI_PLUGINS_")},
    )
    return proc.returncode, time.monotonic()


def first_time(
    running: RunningCluster, predicate: Callable[[list[dict[str, Any]]], bool]
) -> Callable[[], float | None]:
    """Watch the emulator's pods from a thread; the returned function gives when predicate held."""
    seen: list[float] = []
    stop = threading.Event()

    def poll() -> None:
        while not stop.is_set() and not seen:
            pods = running.call(lambda: _pods(running))
            if pods and predicate(pods):
                seen.append(time.monotonic())
            stop.wait(0.01)

    thread = threading.Thread(target=poll, daemon=True)
    thread.start()

    def result() -> float | None:
        stop.set()
        thread.join(2)
        return seen[0] if seen else None

    return result


def _pods(running: RunningCluster) -> list[dict[str, Any]]:
    return [
        dict(obj.raw)
        for (resource, _, _), obj in running.cluster.objects.items()
        if resource.plural == "pods" and not obj.deleted
    ]


def _crashing(pods: list[dict[str, Any]]) -> bool:
    return any(
        (s.get("state") or {}).get("waiting", {}).get("reason") == "CrashLoopBackOff"
        for p in pods
        for s in (p.get("status") or {}).get("containerStatuses") or []
    )


def _all_ready(pods: list[dict[str, Any]]) -> bool:
    return len(pods) >= 2 and all(
        any(
            c.get("type") == "Ready" and c.get("status") == "True"
            for c in (p.get("status") or {}).get("conditions") or []
        )
        for p in pods
    )


def crash_latency(watch: bool) -> float:
    with tempfile.TemporaryDirectory() as tmp:
        env = setup(Path(tmp), FAST, watch=watch)
        try:
            env.publish(deployment(fault="crashloop"), service())
            env.sync()
            crashed = first_time(env.running, _crashing)
            code, exited = run_verify(env)
            when = crashed()
            if code != 1 or when is None:
                raise RuntimeError(f"verify exited {code}; crash seen at {when}")
            return exited - when
        finally:
            env.running.stop()


def ready_latency(watch: bool) -> tuple[float, float | None]:
    """(verify's latency, kubectl rollout status's latency) from the last pod Ready."""
    with tempfile.TemporaryDirectory() as tmp:
        env = setup(Path(tmp), FAST, watch=watch)
        try:
            # the init container runs 6 s: verify is already waiting when the pods turn Ready
            env.publish(deployment(replicas=2, init=True, init_seconds=6.0), service())
            env.sync()
            ready = first_time(env.running, _all_ready)
            kubectl_exit: list[float] = []
            thread = threading.Thread(
                target=lambda: kubectl_exit.append(_kubectl(env)), daemon=True
            )
            thread.start()
            code, exited = run_verify(env)
            thread.join(30)
            when = ready()
            if code != 0 or when is None:
                raise RuntimeError(f"verify exited {code}; all ready at {when}")
            baseline = kubectl_exit[0] - when if kubectl_exit and kubectl_exit[0] > 0 else None
            return exited - when, baseline
        finally:
            env.running.stop()


def _kubectl(env: VerifyEnv) -> float:
    proc = subprocess.run(
        [
            str(KUBECTL),
            "--kubeconfig",
            str(env.kubeconfig),
            "-n",
            NAMESPACE,
            "rollout",
            "status",
            f"deployment/{APP}",
            "--timeout=25s",
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    return time.monotonic() if proc.returncode == 0 else -1.0


def requests_per_minute(watch: bool, seconds: float, *, resync: float = 10) -> float:
    """Client requests per minute during one verify run that waits `seconds` and times out."""
    with tempfile.TemporaryDirectory() as tmp:
        env = setup(Path(tmp), FAST, watch=watch, resync_interval=resync)
        try:
            env.publish(deployment(fault="not-ready"), service())
            env.sync()
            started = time.monotonic()
            _, exited = run_verify(env, timeout=seconds)
            requests = [r for r in env.running.cluster.client_requests if r[0] >= started]
            return len(requests) / (exited - started) * 60
        finally:
            env.running.stop()


def _row(name: str, ours: float, base_name: str, base: float, goal: str) -> str:
    return (
        f"| verify: {name} | {ours * 1000:.0f} ms | {base_name} {base * 1000:.0f} ms | "
        f"{(ours - base) * 1000:+.0f} ms | {ours / base:.4f}x | {goal} |"
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="3 runs instead of 5, 20 s load runs")
    args = parser.parse_args()
    runs = 3 if args.quick else 5
    if not KUBECTL.exists():
        print(f"kubectl not found at {KUBECTL}; run scripts/install-tools", file=sys.stderr)
        return 2
    crash = statistics.median(crash_latency(True) for _ in range(runs))
    crash_poll = statistics.median(crash_latency(False) for _ in range(runs))
    ready_runs = [ready_latency(True) for _ in range(runs)]
    ready = statistics.median(r[0] for r in ready_runs)
    kubectl = [r[1] for r in ready_runs if r[1] is not None]
    load_seconds = 20 if args.quick else 60
    rpm_watch = requests_per_minute(True, load_seconds)
    rpm_poll = requests_per_minute(False, load_seconds)
    rpm_poll_fast = requests_per_minute(False, load_seconds, resync=1)
    deadline = 600.0
    rows = [
        ("CrashLoopBackOff -> exit 1 (watch)", crash, "progress deadline", deadline, "<= 5 s"),
        ("CrashLoopBackOff -> exit 1 (poll 10 s)", crash_poll, "progress deadline", deadline, "-"),
    ]
    base = statistics.median(kubectl) if kubectl else float("nan")
    rows.append(("last pod Ready -> exit 0", ready, "kubectl rollout status", base, "<= 5 s"))
    for line in rows:
        print(_row(*line))
    for name, rpm in (("poll every 10 s", rpm_poll), ("poll every 1 s", rpm_poll_fast)):
        print(
            f"| verify: API requests/min while waiting | watch {rpm_watch:.0f}/min | "
            f"{name} {rpm:.0f}/min | {rpm_watch - rpm:+.0f}/min | {rpm_watch / rpm:.2f}x | "
            "fewer with watch |"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
