"""LOCAL CLUSTER EMULATOR command line (tests and the demo only; not part of ci-plugins' CLI).

ci-plugins-emulator up   --state-dir DIR [--run-image IMAGE=DIR ...]
    Starts, in the background, the Kubernetes API emulator with its controllers and a
    kubelet running pods as local processes, a local OCI registry (docker-registry) and
    Prometheus (scraping the pods every second); writes DIR/cluster.json
    {"kubeconfig", "api", "registry", "prometheus"} and DIR/kubeconfig.
ci-plugins-emulator sync --state-dir DIR --env-repo URL --env ENV [--app APP]
                         [--namespace NS | --config ci-plugins.yaml] [--watch [--interval S]]
    Plays Argo CD: applies the environment's committed manifests once, or with --watch
    polls the env repo every few seconds and applies each new commit (until stopped).
ci-plugins-emulator down --state-dir DIR
    Stops everything `up` started.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

from ci_plugins_emulator import LABEL
from ci_plugins_emulator.images import parse_run_image


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="ci-plugins-emulator",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    commands = parser.add_subparsers(dest="command", required=True)
    for name, summary in (
        ("up", "start the local platform in the background"),
        ("serve", "run the local platform in the foreground (what `up` runs)"),
        ("down", "stop what `up` started"),
        ("sync", "play Argo CD: apply an environment's committed manifests"),
    ):
        sub = commands.add_parser(name, help=summary, description=summary)
        sub.add_argument("--state-dir", type=Path, required=True)
        if name in ("up", "serve"):
            sub.add_argument(
                "--run-image",
                action="append",
                default=[],
                metavar="IMAGE=DIR",
                help="pods of IMAGE run their own command and args in DIR (repeatable)",
            )
        if name == "sync":
            sub.add_argument("--env-repo", required=True)
            sub.add_argument("--env", required=True)
            sub.add_argument("--app")
            sub.add_argument("--branch", default="main")
            sub.add_argument("--namespace")
            sub.add_argument("--config", type=Path)
            sub.add_argument("--watch", action="store_true", help="keep syncing new commits")
            sub.add_argument(
                "--interval", type=float, default=3.0, help="seconds between polls (--watch)"
            )
    args = parser.parse_args(argv)
    state: Path = args.state_dir.resolve()
    if args.command in ("up", "serve"):
        try:
            for spec in args.run_image:
                parse_run_image(spec)
        except ValueError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 2
    if args.command == "up":
        return _up(state, args)
    if args.command == "serve":
        return _serve(state, args)
    if args.command == "down":
        return _down(state)
    from ci_plugins_emulator.syncing import run_sync

    return run_sync(state, args)


def _up(state: Path, args: argparse.Namespace) -> int:
    state.mkdir(parents=True, exist_ok=True)
    if _alive(state):
        print(f"{LABEL} already running; see {state / 'cluster.json'}", file=sys.stderr)
        return 0
    for name in ("kubeconfig", "cluster.json", "url"):
        (state / name).unlink(missing_ok=True)
    images = [a for spec in args.run_image for a in ("--run-image", spec)]
    with (state / "emulator.log").open("ab") as log:
        proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "ci_plugins_emulator",
                "serve",
                "--state-dir",
                str(state),
                *images,
            ],
            stdout=log,
            stderr=log,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if (state / "cluster.json").exists():
            print(
                f"{LABEL} running (pid {proc.pid}): {state / 'cluster.json'}; "
                f"export KUBECONFIG={state / 'kubeconfig'}",
                file=sys.stderr,
            )
            return 0
        if proc.poll() is not None:
            break
        time.sleep(0.1)
    tail = (state / "emulator.log").read_text(errors="replace")[-1500:]
    print(f"{LABEL} did not start; {state / 'emulator.log'} ends:\n{tail}", file=sys.stderr)
    return 3


def _serve(state: Path, args: argparse.Namespace) -> int:
    from ci_plugins_emulator.cluster import start
    from ci_plugins_emulator.localplatform import PlatformError, start_prometheus, start_registry
    from ci_plugins_emulator.server import write_kubeconfig

    state.mkdir(parents=True, exist_ok=True)
    run_images = dict(parse_run_image(spec) for spec in args.run_image)
    services = []
    try:
        services.append(registry := start_registry(state))
        services.append(prometheus := start_prometheus(state))
    except PlatformError as exc:
        for service in services:
            service.stop()
        print(f"{LABEL} {exc}", file=sys.stderr, flush=True)
        return 3
    running, simulator = start(
        state, run_images=run_images, targets_file=state / "prometheus" / "targets.json"
    )
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    (state / "emulator.pid").write_text(f"{os.getpid()}\n", encoding="utf-8")
    (state / "url").write_text(running.url + "\n", encoding="utf-8")
    kubeconfig = write_kubeconfig(state / "kubeconfig", running.url)
    cluster = {
        "kubeconfig": str(kubeconfig),
        "api": running.url,
        "registry": registry.address,
        "prometheus": f"http://{prometheus.address}",
    }
    tmp = state / "cluster.json.tmp"
    tmp.write_text(json.dumps(cluster, indent=2) + "\n", encoding="utf-8")
    os.replace(tmp, state / "cluster.json")
    print(f"{LABEL} serving {json.dumps(cluster)}", flush=True)
    stop.wait()
    running.stop()  # the kubelet stops its pods' processes first
    simulator.kubelet.stop_all()
    for service in services:
        service.stop()
    for name in ("kubeconfig", "url", "cluster.json", "emulator.pid"):
        (state / name).unlink(missing_ok=True)
    print(f"{LABEL} stopped", flush=True)
    return 0


def _alive(state: Path) -> int | None:
    pid_file = state / "emulator.pid"
    if not pid_file.exists():
        return None
    pid = int(pid_file.read_text(encoding="utf-8").strip())
    try:
        os.kill(pid, 0)
    except OSError:
        return None
    return pid


def _down(state: Path) -> int:
    pid = _alive(state)
    if pid is None:
        print(f"{LABEL} is not running in {state}", file=sys.stderr)
        return 0
    os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and _alive(state) is not None:
        time.sleep(0.1)
    print(f"{LABEL} stopped (pid {pid})", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
