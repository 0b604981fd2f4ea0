"""LOCAL CLUSTER EMULATOR command line (tests and the demo only; not part of ci-plugins' CLI).

ci-plugins-emulator up   --state-dir DIR            # background server + DIR/kubeconfig
ci-plugins-emulator sync --state-dir DIR --env-repo URL --env ENV [--app APP]
                                   [--namespace NS | --config ci-plugins.yaml]
ci-plugins-emulator down --state-dir DIR
ci-plugins-emulator serve --state-dir DIR           # foreground (what `up` runs)
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

from ci_plugins.verify.readiness.model import ObjectRef
from ci_plugins_emulator import LABEL


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="ci-plugins-emulator",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    commands = parser.add_subparsers(dest="command", required=True)
    for name in ("up", "serve", "down", "sync"):
        sub = commands.add_parser(name)
        sub.add_argument("--state-dir", type=Path, required=True)
        if name in ("up", "serve"):
            sub.add_argument(
                "--ready-after", type=float, default=2.0, help="seconds until pods are ready"
            )
            sub.add_argument(
                "--crash-after",
                type=float,
                default=4.0,
                help="seconds until a crashloop pod crashes",
            )
        if name == "sync":
            sub.add_argument("--env-repo", required=True)
            sub.add_argument("--env", required=True)
            sub.add_argument("--app")
            sub.add_argument("--branch", default="main")
            sub.add_argument("--namespace")
            sub.add_argument("--config", type=Path)
    args = parser.parse_args(argv)
    state: Path = args.state_dir.resolve()
    if args.command == "up":
        return _up(state, args)
    if args.command == "serve":
        return _serve(state, args)
    if args.command == "down":
        return _down(state)
    return _sync(state, args)


def _up(state: Path, args: argparse.Namespace) -> int:
    state.mkdir(parents=True, exist_ok=True)
    if _alive(state):
        print(f"{LABEL} already running; KUBECONFIG={state / 'kubeconfig'}", file=sys.stderr)
        return 0
    (state / "kubeconfig").unlink(missing_ok=True)
    with (state / "emulator.log").open("ab") as log:
        proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "ci_plugins_emulator",
                "serve",
                "--state-dir",
                str(state),
                "--ready-after",
                str(args.ready_after),
                "--crash-after",
                str(args.crash_after),
            ],
            stdout=log,
            stderr=log,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
    for _ in range(300):
        if (state / "kubeconfig").exists():
            print(
                f"{LABEL} running (pid {proc.pid}); export KUBECONFIG={state / 'kubeconfig'}",
                file=sys.stderr,
            )
            return 0
        if proc.poll() is not None:
            break
        time.sleep(0.1)
    print(f"{LABEL} did not start; see {state / 'emulator.log'}", file=sys.stderr)
    return 3


def _serve(state: Path, args: argparse.Namespace) -> int:
    from ci_plugins_emulator.cluster import start
    from ci_plugins_emulator.kubelet import Timing
    from ci_plugins_emulator.server import write_kubeconfig

    state.mkdir(parents=True, exist_ok=True)
    running, _ = start(Timing(ready_after=args.ready_after, crash_after=args.crash_after))
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    (state / "emulator.pid").write_text(f"{os.getpid()}\n", encoding="utf-8")
    (state / "url").write_text(running.url + "\n", encoding="utf-8")
    write_kubeconfig(state / "kubeconfig", running.url)
    print(f"{LABEL} serving the emulated Kubernetes API on {running.url}", flush=True)
    stop.wait()
    running.stop()
    for name in ("kubeconfig", "url", "emulator.pid"):
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
    for _ in range(100):
        if _alive(state) is None or not (state / "emulator.pid").exists():
            break
        time.sleep(0.1)
    print(f"{LABEL} stopped (pid {pid})", file=sys.stderr)
    return 0


def _sync(state: Path, args: argparse.Namespace) -> int:
    from ci_plugins.config.models import load_config
    from ci_plugins.errors import CiPluginsError
    from ci_plugins.verify.committed import read_committed
    from ci_plugins_emulator.argocd import sync

    url_file = state / "url"
    if not url_file.exists():
        print(
            f"{LABEL} is not running: run `ci-plugins-emulator up --state-dir {state}`",
            file=sys.stderr,
        )
        return 3
    try:
        config = load_config(args.config) if args.config else None
        committed = read_committed(
            args.env_repo, branch=args.branch, env=args.env, app=args.app, config=config
        )
    except CiPluginsError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return exc.exit_code
    for app in committed.apps:
        objects = {r: o for r, o in committed.objects.items() if committed.app_of[r] == app}
        if args.namespace:
            objects = {
                _in_namespace(r, args.namespace): _set_ns(o, args.namespace)
                for r, o in objects.items()
            }
        namespace = next(iter(objects)).namespace if objects else "default"
        changes = sync(
            url_file.read_text().strip(),
            objects=objects,
            commit=committed.commit,
            env=committed.env,
            app=app,
            namespace=namespace,
            repo_url=args.env_repo,
        )
        print(
            f"{LABEL} Argo CD (emulated) synced {committed.env}/{app} to {committed.commit[:12]}: "
            + ", ".join(changes),
            file=sys.stderr,
        )
    return 0


def _in_namespace(ref: ObjectRef, namespace: str) -> ObjectRef:
    return dataclasses.replace(ref, namespace=namespace)


def _set_ns(obj: dict[str, Any], namespace: str) -> dict[str, Any]:
    return {**obj, "metadata": {**(obj.get("metadata") or {}), "namespace": namespace}}


if __name__ == "__main__":
    sys.exit(main())
