"""What verify checks: the objects in the environment repo's rendered manifests."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from ci_plugins.config.models import Config
from ci_plugins.config.names import check_app, check_env
from ci_plugins.envrepo import checkout as envrepo
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
    with envrepo.checkout(url, branch=branch) as repo:
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
            files = repo.manifest_files(env, name)
            if not files:
                raise InputError(f"environments/{env}/{name}/manifests/ holds no *.yaml files")
            for path in files:
                for obj in _documents(path, root=repo.root):
                    ref = _ref(obj, namespace, where=path.relative_to(repo.root))
                    objects[ref] = obj
                    app_of[ref] = name
        return Committed(url, branch, repo.head, env, apps, objects, app_of)


def _documents(path: Path, *, root: Path) -> list[Obj]:
    try:
        docs = list(yaml.safe_load_all(path.read_text(encoding="utf-8")))
    except (yaml.YAMLError, UnicodeDecodeError) as exc:
        raise InputError(f"{path.relative_to(root)} is not valid YAML: {exc}") from None
    found: list[Obj] = []
    for doc in docs:
        if doc is None:
            continue
        if not isinstance(doc, dict):
            raise InputError(f"{path.relative_to(root)} holds a non-object YAML document")
        if doc.get("kind") == "List":
            found.extend(i for i in doc.get("items") or [] if isinstance(i, dict))
        else:
            found.append(doc)
    return found


def _ref(obj: Obj, namespace: str, *, where: Path) -> ObjectRef:
    meta = obj.get("metadata") or {}
    if not obj.get("apiVersion") or not obj.get("kind") or not meta.get("name"):
        raise InputError(f"{where}: a Kubernetes object needs apiVersion, kind and metadata.name")
    meta.setdefault("namespace", namespace)
    obj["metadata"] = meta
    return ObjectRef(
        str(obj["apiVersion"]), str(obj["kind"]), str(meta["namespace"]), str(meta["name"])
    )
