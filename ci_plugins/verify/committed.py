"""What verify checks: the objects in the environment repo's rendered manifests."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ci_plugins.config.models import Config
from ci_plugins.config.names import check_app, check_env
from ci_plugins.envrepo import checkout
from ci_plugins.errors import InputError
from ci_plugins.verify.readiness.model import ObjectRef

Obj = dict[str, Any]


@dataclass(frozen=True)
class Committed:
    """The env repo's commit and, per app, the committed objects."""

    url: str
    branch: str
    commit: str
    env: str
    apps: list[str]
    objects: dict[ObjectRef, Obj]
    app_of: dict[ObjectRef, str]


def read_committed(
    url: str, *, branch: str, env: str, app: str | None, config: Config | None
) -> Committed:
    """Clone the env repo and read the manifests of env (and app); InputError when none."""
    env = check_env(env)
    namespace = "default"
    if config is not None:
        namespace = config.environment(env).namespace or namespace
    with checkout.checkout(url, branch=branch) as repo:
        known = repo.apps(env)
        if not known:
            raise InputError(
                f"unknown environment {env!r}: the environment repo {repo.url} has nothing "
                f"under environments/{env}/",
                hint="promote a release into it first, or check --env and --env-repo",
            )
        apps = [check_app(app)] if app else sorted(known)
        objects: dict[ObjectRef, Obj] = {}
        app_of: dict[ObjectRef, str] = {}
        for name in apps:
            if name not in known:
                raise InputError(
                    f"app {name!r} has no release in environment {env!r} "
                    f"(it has {', '.join(known)})",
                    hint="pass --app, or set app: in ci-plugins.yaml",
                )
            files = repo.read_manifests(env, name)
            if not files:
                raise InputError(f"environments/{env}/{name}/manifests/ holds no *.yaml files")
            for file in files:
                for obj in file.objects:
                    ref = _ref(obj, namespace)
                    objects[ref] = obj
                    app_of[ref] = name
        return Committed(url, branch, repo.head, env, apps, objects, app_of)


def _ref(obj: Obj, namespace: str) -> ObjectRef:
    meta = obj["metadata"]
    meta.setdefault("namespace", namespace)
    return ObjectRef(
        str(obj["apiVersion"]), str(obj["kind"]), str(meta["namespace"]), str(meta["name"])
    )
