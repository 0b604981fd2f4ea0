"""Check an environment repo change: manifests, release records, no downgrade.

Manifests parse, release records (and pins) are readable and complete and carry gate
evidence, and no environment is downgraded.

Runs in the environment repo's own CI on a promotion merge/pull request (`--base` names the
target branch; only the apps changed since it are checked) or on any checkout (every app).
Outputs the changed environments and apps, for the verify jobs after the merge.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from ci_plugins import safe_read
from ci_plugins.adapters.git import Git
from ci_plugins.envrepo.checkout import (
    ENVIRONMENTS,
    MANIFESTS_DIR,
    PIN_FILE,
    RELEASE_FILE,
    pin_from_text,
    release_from_text,
)
from ci_plugins.envrepo.guards import downgrade_reason
from ci_plugins.envrepo.record import ReleaseRecord
from ci_plugins.errors import InputError
from ci_plugins.render.manifests import ManifestError, read_manifest_dir
from ci_plugins.reports import TestCase, junit_xml, markdown_table, to_json, write_reports
from ci_plugins.step import Flags, StepContext, StepResult


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
        base, broken = _base_release(git, options.base, change)
        if broken:
            cases.append(TestCase(f"{change.env}/{change.app}", "base release readable", broken))
        cases += check_app(root, change, base=base, allow_downgrade=downgrade_ok)
    unpackaged = [c for c in changes if not c.removed and _unpackaged(root, c)]
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
    if unpackaged:
        names = ", ".join(f"{c.env}/{c.app}/{RELEASE_FILE}" for c in unpackaged)
        raise InputError(
            f"{names}: no model.artifact recorded (the model was never packaged): the "
            "manifests would run TensorFlow Serving with no model",
            hint="promote a packaged model (`ci-plugins package` before render and promote)",
        )
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
        prefix = f"{directory.relative_to(root)}/"
        try:
            files = read_manifest_dir(directory, prefix=prefix)
        except ManifestError:
            continue  # the "manifests parse" check reports it
        for file in files:
            for index, doc in enumerate(file.objects):
                name = prefix + file.name
                objects[name if index == 0 else f"{name}#{index + 1}"] = doc
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
    pin_problem = _pin_problem(directory / PIN_FILE)
    if pin_problem:
        cases.append(TestCase(name, "pin readable", pin_problem))
    if record is None:
        return cases
    evidence = None if record.metrics else "the release record has no gate metrics"
    cases.append(TestCase(name, "gate evidence present", evidence))
    downgrade = None
    if base is not None and not allow_downgrade:
        downgrade = downgrade_reason(record, base, where="the target branch")
    cases.append(TestCase(name, "no downgrade", downgrade))
    return cases


def _read_record(path: Path, change: AppChange) -> tuple[ReleaseRecord | None, str | None]:
    try:
        text = safe_read.read_text(path, what=RELEASE_FILE)
        if text is None:
            return None, f"{RELEASE_FILE} is missing"
        record = release_from_text(text, source=RELEASE_FILE)
    except InputError as exc:
        return None, str(exc).replace("\n", " ")
    if (record.environment, record.app) != (change.env, change.app):
        where = f"{record.environment}/{record.app}"
        return None, f"{RELEASE_FILE} names {where}, but lives under {change.env}/{change.app}"
    return record, None


def _pin_problem(path: Path) -> str | None:
    """A pin.yaml that is there must be readable: promote and status refuse a broken one."""
    try:
        text = safe_read.read_text(path, what=PIN_FILE)
        if text is not None:
            pin_from_text(text, source=PIN_FILE)
    except InputError as exc:
        return str(exc).replace("\n", " ")
    return None


def _unpackaged(root: Path, change: AppChange) -> bool:
    """True when the release record parses but names no model artifact (a corrupt or missing
    record is the "release record complete" check's business)."""
    path = root / ENVIRONMENTS / change.env / change.app / RELEASE_FILE
    record, _ = _read_record(path, change)
    return record is not None and not record.model.artifact


def _manifest_problem(directory: Path) -> str | None:
    try:
        files = read_manifest_dir(directory, prefix=f"{MANIFESTS_DIR}/")
    except ManifestError as exc:
        return "; ".join(str(problem) for problem in exc.found)
    return None if files else f"no {MANIFESTS_DIR}/*.yaml"


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


def _base_release(
    git: Git, base: str | None, change: AppChange
) -> tuple[ReleaseRecord | None, str | None]:
    """The target branch's record of the app (None for a new app) or why it is unreadable:
    a broken base record fails the check instead of silently skipping the downgrade rule."""
    if base is None:
        return None, None
    path = f"{ENVIRONMENTS}/{change.env}/{change.app}/{RELEASE_FILE}"
    data = git.blob(f"{base}:{path}")
    if data is None:
        return None, None  # a new app or environment
    source = f"{base}:{path}"
    try:
        return release_from_text(safe_read.decode(data, source=source), source=source), None
    except InputError as exc:
        problem = str(exc).replace("\n", " ")
        return None, f"the target branch's release record cannot be read: {problem}"


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


def arguments(p: Flags) -> None:
    """The command's flags (each also read from CI_PLUGINS_<FLAG>)."""
    p.flag("--repo", type=Path, metavar="DIR", help="environment repo checkout (default: .)")
    p.flag("--base", metavar="REF", help="target branch of the merge request: check only changes")
    p.flag("--report-dir", type=Path, metavar="DIR", help="write Markdown, JUnit, JSON reports")
    p.flag("--allow-downgrade", action="store_true", help="accept an older model version")
    p.flag(
        "--kubernetes-version",
        metavar="X.Y",
        help="check objects against this Kubernetes version's schemas (default: "
        "render.kubernetes_version, else the newest shipped)",
    )
