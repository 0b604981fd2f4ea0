"""Validate an environment repo change: manifests parse, release records are complete and carry
gate evidence, and no environment is downgraded.

Runs in the environment repo's own CI on a promotion merge/pull request (`--base` names the
target branch; only the apps changed since it are checked) or on any checkout (every app).
Outputs the changed environments and apps, for the verify jobs after the merge.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import yaml

from ci_plugins.adapters.git import Git
from ci_plugins.envrepo.checkout import MANIFESTS_DIR, RELEASE_FILE, release_from_text
from ci_plugins.envrepo.record import ReleaseRecord
from ci_plugins.errors import CiPluginsError, InputError
from ci_plugins.reports import TestCase, junit_xml, markdown_table, to_json, write_reports
from ci_plugins.step import StepContext, StepResult

ENVIRONMENTS = "environments"


@dataclass(frozen=True)
class Options:
    repo: Path | None = None
    base: str | None = None
    report_dir: Path | None = None
    allow_downgrade: bool = False
    kubernetes_version: str | None = None


@dataclass(frozen=True)
class AppChange:
    env: str
    app: str
    removed: bool


def run(ctx: StepContext, options: Options) -> StepResult:
    """Check every changed env/app of the environment repo checkout; exit 1 on a problem."""
    root = (options.repo or Path(".")).resolve()
    if not (root / ENVIRONMENTS).is_dir():
        raise InputError(
            f"{root} is not an environment repo checkout: it has no {ENVIRONMENTS}/ directory",
            hint="run validate in the environment repo's pipeline, or pass --repo DIR",
        )
    if options.base is not None and (not options.base.strip() or options.base.startswith("-")):
        raise InputError(
            f"--base {options.base!r} is not a git revision (a leading '-' reads as an option)"
        )
    git = Git(root)
    changes = _changed(git, root, options.base)
    downgrade_ok = options.allow_downgrade or _is_rollback(git, options.base)
    _require_schema_valid(ctx, root, [c for c in changes if not c.removed], options)
    cases: list[TestCase] = []
    for change in changes:
        if change.removed:
            continue
        base = _base_release(git, options.base, change)
        cases += check_app(root, change, base=base, allow_downgrade=downgrade_ok)
    failed = [case for case in cases if case.failure]
    envs = sorted({c.env for c in changes})
    apps = sorted(f"{c.env}/{c.app}" for c in changes)
    summary = _summary(cases, apps, base=options.base)
    data = {
        "verdict": "failed" if failed else "passed",
        "environments": envs,
        "apps": apps,
        "checks": [{"app": c.classname, "check": c.name, "problem": c.failure} for c in cases],
    }
    if options.report_dir:
        write_reports(
            options.report_dir,
            {
                "validate-report.md": summary,
                "validate-junit.xml": junit_xml("ci-plugins validate", cases),
                "validate-report.json": to_json({"command": "validate", **data}),
            },
        )
    outputs = {"environments": " ".join(envs), "apps": " ".join(apps)}
    if failed:
        reasons = "; ".join(f"{c.classname}: {c.failure}" for c in failed)
        message = f"validate failed: {len(failed)} of {len(cases)} checks: {reasons}"
        return StepResult.failed(message, data=data, outputs=outputs, summary=summary)
    scope = f"changed since {options.base}" if options.base else "in the repo"
    message = f"validate passed: {len(cases)} checks for {len(apps)} apps {scope}"
    return StepResult.passed(message, data=data, outputs=outputs, summary=summary)


def _require_schema_valid(
    ctx: StepContext, root: Path, changes: list[AppChange], options: Options
) -> None:
    """Every changed app's objects against the Kubernetes schemas: exit 2 naming file,
    object and field (render checks the same before anything is committed)."""
    from ci_plugins.render import kube_schema

    config = ctx.optional_config()
    requested = options.kubernetes_version or (config.render.kubernetes_version if config else None)
    version = kube_schema.resolve_version(requested)
    objects: dict[str, dict[str, object]] = {}
    for change in changes:
        directory = root / ENVIRONMENTS / change.env / change.app / MANIFESTS_DIR
        for path in sorted(directory.glob("*.yaml")) if directory.is_dir() else []:
            try:
                documents = [d for d in yaml.safe_load_all(path.read_text(encoding="utf-8")) if d]
            except (yaml.YAMLError, OSError, UnicodeDecodeError):
                continue  # the "manifests parse" check reports it
            relpath = str(path.relative_to(root))
            for index, doc in enumerate(d for d in documents if isinstance(d, dict)):
                objects[relpath if index == 0 else f"{relpath}#{index + 1}"] = doc
    report = kube_schema.require_valid(objects, version=version, where="the manifests")
    note = kube_schema.skipped_note(report)
    if note:
        ctx.out.info(note)


def check_app(
    root: Path, change: AppChange, *, base: ReleaseRecord | None, allow_downgrade: bool
) -> list[TestCase]:
    """The checks of one env/app directory: release record, gate evidence, manifests, version."""
    name = f"{change.env}/{change.app}"
    directory = root / ENVIRONMENTS / change.env / change.app
    record, problem = _read_record(directory / RELEASE_FILE, change)
    cases = [TestCase(name, "release record complete", problem)]
    cases.append(TestCase(name, "manifests parse", _manifest_problem(directory / MANIFESTS_DIR)))
    if record is None:
        return cases
    evidence = None if record.metrics else "the release record has no gate metrics"
    cases.append(TestCase(name, "gate evidence present", evidence))
    downgrade = _downgrade(record, base) if base is not None and not allow_downgrade else None
    cases.append(TestCase(name, "no downgrade", downgrade))
    return cases


def _read_record(path: Path, change: AppChange) -> tuple[ReleaseRecord | None, str | None]:
    if not path.is_file():
        return None, f"{RELEASE_FILE} is missing"
    try:
        record = release_from_text(path.read_text(encoding="utf-8"), source=RELEASE_FILE)
    except CiPluginsError as exc:
        return None, str(exc).replace("\n", " ")
    if (record.environment, record.app) != (change.env, change.app):
        where = f"{record.environment}/{record.app}"
        return None, f"{RELEASE_FILE} names {where}, but lives under {change.env}/{change.app}"
    return record, None


def _manifest_problem(directory: Path) -> str | None:
    files = sorted(directory.glob("*.yaml")) if directory.is_dir() else []
    if not files:
        return f"no {MANIFESTS_DIR}/*.yaml"
    for path in files:
        try:
            documents = [d for d in yaml.safe_load_all(path.read_text(encoding="utf-8")) if d]
        except yaml.YAMLError as exc:
            return f"{MANIFESTS_DIR}/{path.name} is not valid YAML: {str(exc).splitlines()[0]}"
        for doc in documents:
            meta = doc.get("metadata") if isinstance(doc, dict) else None
            if not (isinstance(meta, dict) and meta.get("name") and doc.get("kind")):
                return f"{MANIFESTS_DIR}/{path.name} holds an object without kind or metadata.name"
            if not doc.get("apiVersion"):
                return f"{MANIFESTS_DIR}/{path.name}: {doc['kind']} has no apiVersion"
    return None


def _downgrade(record: ReleaseRecord, base: ReleaseRecord) -> str | None:
    new, old = record.model.version, base.model.version
    if _version_key(new) < _version_key(old):
        return f"model version {new} is older than {old}, which the target branch runs"
    return None


def _version_key(version: str) -> tuple[int, int | str]:
    return (0, int(version)) if version.isdigit() else (1, version)


def _changed(git: Git, root: Path, base: str | None) -> list[AppChange]:
    if base is None:
        return [
            AppChange(env.name, app.name, removed=False)
            for env in sorted((root / ENVIRONMENTS).iterdir())
            if env.is_dir()
            for app in sorted(env.iterdir())
            if app.is_dir()
        ]
    names = git.out("diff", "--name-only", f"{base}...HEAD", "--", ENVIRONMENTS).splitlines()
    pairs = sorted({tuple(n.split("/")[1:3]) for n in names if n.count("/") >= 3})
    return [
        AppChange(env, app, removed=not (root / ENVIRONMENTS / env / app).is_dir())
        for env, app in pairs
    ]


def _base_release(git: Git, base: str | None, change: AppChange) -> ReleaseRecord | None:
    if base is None:
        return None
    path = f"{ENVIRONMENTS}/{change.env}/{change.app}/{RELEASE_FILE}"
    proc = git.run("show", f"{base}:{path}", check=False)
    if proc.returncode != 0:
        return None  # a new app or environment
    try:
        return release_from_text(proc.stdout, source=f"{base}:{path}")
    except CiPluginsError:
        return None  # the target branch's record is broken: nothing to compare with


def _is_rollback(git: Git, base: str | None) -> bool:
    """Rollback commits (trailer Rollback-Of:) restore an older release on purpose."""
    if base is None:
        return False
    return "Rollback-Of:" in git.out("log", "--format=%B", f"{base}..HEAD")


def _summary(cases: list[TestCase], apps: list[str], *, base: str | None) -> str:
    failed = [c for c in cases if c.failure]
    icon = "❌" if failed else "✅"
    verdict = "failed" if failed else "passed"
    scope = f" (changed since `{base}`)" if base else ""
    if not cases:
        return f"### {icon} ci-plugins validate {verdict}\n\nNo app changed{scope}."
    rows = [[c.classname, c.name, "✅ pass" if not c.failure else f"❌ {c.failure}"] for c in cases]
    table = markdown_table(["app", "check", "result"], rows)
    return f"### {icon} ci-plugins validate {verdict}\n\nApps{scope}: {', '.join(apps)}\n\n{table}"
