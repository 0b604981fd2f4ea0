"""The LOCAL CLUSTER EMULATOR's idle cost and how fast a sync turns into a Ready pod.

Run: .venv/bin/python benchmarks/emulator.py [--quick]
1. Idle CPU of `ci-plugins-emulator up` (API emulator + controllers + kubelet, and with the
   docker-registry and Prometheus it starts), measured from /proc over a window with no
   pods, and again with one app running (its pod's process and 1 s probes included; goal
   < 5% of one core either way; the 0.1 s tick it replaces used about 70% with several
   apps deployed, 5.7% with one Deployment of two pods on this machine).
2. Time from `ci-plugins-emulator sync` (the command starting) to the new pod Ready: the
   test web image (a Python process with a readiness probe), and with --serving also
   tensorflow/serving loading a real SavedModel (real TensorFlow start-up).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import yaml  # noqa: E402
from ci_plugins_emulator.argocd import EmulatorClient  # noqa: E402

from tests.support.envrepo import make_bare_repo, seed_files  # noqa: E402
from tests.support.models import tiny_savedmodel  # noqa: E402
from tests.support.node import (  # noqa: E402
    WEB_DIR,
    WEB_IMAGE,
    model_volume,
    serving_container,
    web_container,
)

TICKS = os.sysconf("SC_CLK_TCK")


def emulator(*args: str | Path) -> None:
    subprocess.run(
        [sys.executable, "-m", "ci_plugins_emulator", *map(str, args)],
        check=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def cpu_seconds(pid: int) -> float:
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except FileNotFoundError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / TICKS  # utime + stime


def children(pid: int) -> list[int]:
    out = subprocess.run(
        ["ps", "-o", "pid=", "--ppid", str(pid)], capture_output=True, text=True, check=False
    ).stdout
    return [int(p) for p in out.split()]


def idle_cpu(state: Path, seconds: float) -> tuple[float, float]:
    """(% of a core used by the emulator process, % by it plus its children: registry,
    Prometheus and the pods' processes)."""
    serve = int((state / "emulator.pid").read_text())
    pids = [serve, *children(serve)]
    pids += [grandchild for pid in pids[1:] for grandchild in children(pid)]
    time.sleep(3)  # let Prometheus and the registry finish starting
    before = {pid: cpu_seconds(pid) for pid in pids}
    started = time.monotonic()
    time.sleep(seconds)
    elapsed = time.monotonic() - started
    used = {pid: max(0.0, cpu_seconds(pid) - before[pid]) for pid in pids}
    return used[serve] / elapsed * 100, sum(used.values()) / elapsed * 100


def deployment(version: int, container: dict[str, Any], volumes: list[Any]) -> str:
    labels = {"app.kubernetes.io/name": "digits"}
    return yaml.safe_dump(
        {
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "metadata": {"name": "digits", "namespace": "ml-dev"},
            "spec": {
                "replicas": 1,
                "selector": {"matchLabels": labels},
                "template": {
                    "metadata": {
                        "labels": labels,
                        "annotations": {"ci-plugins.dev/model-version": str(version)},
                    },
                    "spec": {"containers": [container], "volumes": volumes},
                },
            },
        }
    )


def sync_to_ready(
    state: Path, repo: Path, version: int, container: dict[str, Any], volumes: list[Any]
) -> float:
    seed_files(
        repo,
        {
            "environments/dev/digits/manifests/deployment.yaml": deployment(
                version, container, volumes
            ),
            "environments/dev/digits/release.yaml": "app: digits\n",
        },
        message=f"release {version}",
    )
    api = EmulatorClient((state / "url").read_text().strip())
    started = time.monotonic()
    emulator("sync", "--state-dir", state, "--env-repo", repo, "--env", "dev", "--app", "digits")
    deadline = started + 180
    while time.monotonic() < deadline:
        _, pods = api.request("GET", "/api/v1/namespaces/ml-dev/pods")
        for pod in (pods or {}).get("items") or []:
            annotations = pod["metadata"].get("annotations") or {}
            conditions = (pod.get("status") or {}).get("conditions") or []
            ready = any(c["type"] == "Ready" and c["status"] == "True" for c in conditions)
            if ready and annotations.get("ci-plugins.dev/model-version") == str(version):
                return time.monotonic() - started
        time.sleep(0.05)
    raise RuntimeError(f"version {version} never became ready")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="10 s idle window, 3 syncs")
    parser.add_argument("--serving", action="store_true", help="also time tensorflow/serving")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        state = Path(tmp) / "state"
        emulator("up", "--state-dir", state, "--run-image", f"{WEB_IMAGE}={WEB_DIR}")
        try:
            own, total = idle_cpu(state, 10 if args.quick else 30)
            repo = make_bare_repo(Path(tmp) / "env.git")
            probe = {"httpGet": {"path": "/healthz", "port": "http"}, "periodSeconds": 1}
            web = web_container(readinessProbe=probe)
            runs = [
                sync_to_ready(state, repo, v, web, []) for v in range(1, 4 if args.quick else 6)
            ]
            time.sleep(3)  # the replaced pods' processes stop
            steady_own, steady_total = idle_cpu(state, 10 if args.quick else 30)
            serving = None
            if args.serving:
                model = tiny_savedmodel(Path(tmp) / "model")
                container = serving_container(model)
                serving = sync_to_ready(state, repo, 100, container, [model_volume(model)])
        finally:
            emulator("down", "--state-dir", state)
    print(
        f"| emulator: idle CPU of up (API + kubelet) | {own:.1f}% of a core | "
        f"0.1 s tick ~70% | | | < 5% |"
    )
    print(
        f"| emulator: idle CPU of up (+ registry + Prometheus) | {total:.1f}% of a core | "
        f"0.1 s tick ~70% | | | < 5% |"
    )
    print(
        f"| emulator: CPU with one app running (API + kubelet) | {steady_own:.1f}% of a core "
        "| | | | < 5% |"
    )
    print(
        f"| emulator: CPU with one app running (+ its pod, registry, Prometheus) | "
        f"{steady_total:.1f}% of a core | | | | < 5% |"
    )
    print(
        f"| emulator: sync -> Ready pod (web image, median of {len(runs)}) | "
        f"{statistics.median(runs) * 1000:.0f} ms | | | | seconds |"
    )
    if serving is not None:
        print(
            f"| emulator: sync -> Ready pod (tensorflow/serving, real SavedModel) | "
            f"{serving * 1000:.0f} ms | | | | TensorFlow start-up |"
        )
    print(
        json.dumps(
            {
                "idle_cpu_percent": own,
                "idle_cpu_percent_with_services": total,
                "one_app_cpu_percent": steady_own,
                "one_app_cpu_percent_with_children": steady_total,
                "sync_to_ready_seconds": runs,
                "serving_sync_to_ready_seconds": serving,
            }
        ),
        file=sys.stderr,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
