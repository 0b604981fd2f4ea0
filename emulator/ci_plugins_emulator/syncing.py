"""LOCAL CLUSTER EMULATOR: `sync` (once) and `sync --watch` (Argo CD's polling loop).

--watch asks the env repo for its branch head every --interval seconds (`git ls-remote`,
as Argo CD's repo server polls) and applies the environment's manifests whenever the head
moves; a commit that cannot be applied (no manifests, broken YAML) is recorded in the
Application as a failed sync, and the loop goes on with the next commit.
"""

from __future__ import annotations

import argparse
import dataclasses
import signal
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

from ci_plugins.verify.readiness.model import ObjectRef
from ci_plugins_emulator import LABEL


def run_sync(state: Path, args: argparse.Namespace) -> int:
    url_file = state / "url"
    if not url_file.exists():
        print(
            f"{LABEL} is not running: run `ci-plugins-emulator up --state-dir {state}`",
            file=sys.stderr,
        )
        return 3
    api = url_file.read_text(encoding="utf-8").strip()
    if not args.watch:
        return sync_once(api, args)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    print(
        f"{LABEL} Argo CD (emulated) watching {args.env_repo} ({args.branch}) for "
        f"{args.env} every {args.interval:g}s",
        file=sys.stderr,
        flush=True,
    )
    seen: str | None = None
    while not stop.is_set():
        head = branch_head(args.env_repo, args.branch)
        if head is not None and head != seen:
            sync_once(api, args)
            seen = head
        stop.wait(args.interval)
    return 0


def branch_head(url: str, branch: str) -> str | None:
    """The commit the branch points at, or None (unreachable or no such branch yet)."""
    try:
        out = subprocess.run(
            ["git", "ls-remote", "--", url, f"refs/heads/{branch}"],
            capture_output=True,
            text=True,
            timeout=30,
            check=False,
            env={"GIT_TERMINAL_PROMPT": "0", "PATH": "/usr/bin:/bin"},
        ).stdout
    except (OSError, subprocess.TimeoutExpired):
        return None
    return out.split()[0] if out.strip() else None


def sync_once(api: str, args: argparse.Namespace) -> int:
    from ci_plugins.config.models import load_config
    from ci_plugins.errors import CiPluginsError
    from ci_plugins.verify.committed import read_committed
    from ci_plugins_emulator.argocd import record_failure, sync

    try:
        config = load_config(args.config) if args.config else None
        committed = read_committed(
            args.env_repo, branch=args.branch, env=args.env, app=args.app, config=config
        )
    except CiPluginsError as exc:
        print(f"error: {exc}", file=sys.stderr, flush=True)
        if args.watch and args.app:
            record_failure(
                api, env=args.env, app=args.app, message=str(exc), repo_url=args.env_repo
            )
        return exc.exit_code
    for app in committed.apps:
        objects = {r: o for r, o in committed.objects.items() if committed.app_of[r] == app}
        if args.namespace:
            objects = {
                dataclasses.replace(r, namespace=args.namespace): _set_ns(o, args.namespace)
                for r, o in objects.items()
            }
        namespace = next(iter(objects)).namespace if objects else "default"
        changes = sync(
            api,
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
            flush=True,
        )
    return 0


def _set_ns(obj: dict[str, Any], namespace: str) -> dict[str, Any]:
    return {**obj, "metadata": {**(obj.get("metadata") or {}), "namespace": namespace}}


__all__ = ["ObjectRef", "branch_head", "run_sync", "sync_once"]
