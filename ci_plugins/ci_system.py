"""What the CI system says about this job: source repository, pipeline URL, who runs it.

One place that knows GitLab CI, GitHub Actions and Jenkins variables for provenance; the
train step stamps them into the model manifest, promote into the release record.
"""

from __future__ import annotations

from collections.abc import Mapping


def source_repo(environ: Mapping[str, str]) -> str:
    """The project's repository URL as the CI system names it."""
    if environ.get("CI_PROJECT_URL"):
        return environ["CI_PROJECT_URL"]
    if environ.get("GITHUB_REPOSITORY"):
        server = environ.get("GITHUB_SERVER_URL", "https://github.com")
        return f"{server}/{environ['GITHUB_REPOSITORY']}"
    return environ.get("GIT_URL", "")


def pipeline_url(environ: Mapping[str, str]) -> str:
    """This pipeline's URL (GitLab CI_PIPELINE_URL, GitHub run URL, Jenkins BUILD_URL)."""
    if environ.get("CI_PIPELINE_URL"):
        return environ["CI_PIPELINE_URL"]
    if environ.get("GITHUB_RUN_ID") and environ.get("GITHUB_REPOSITORY"):
        server = environ.get("GITHUB_SERVER_URL", "https://github.com")
        return f"{server}/{environ['GITHUB_REPOSITORY']}/actions/runs/{environ['GITHUB_RUN_ID']}"
    return environ.get("BUILD_URL", "")


def actor(environ: Mapping[str, str]) -> str:
    """Who runs this job, as the CI system names them."""
    for name in ("GITLAB_USER_LOGIN", "GITHUB_ACTOR", "BUILD_USER_ID", "USER"):
        if environ.get(name):
            return environ[name]
    return "ci-plugins"


def trigger_cause(environ: Mapping[str, str]) -> dict[str, str] | None:
    """Why this pipeline runs when `ci-plugins monitor` started it (CI_PLUGINS_TRIGGER_*
    variables, GitHub inputs mapped to the same names), else None."""
    by = environ.get("CI_PLUGINS_TRIGGERED_BY", "").strip()
    if not by:
        return None
    return {
        "by": by,
        "reason": environ.get("CI_PLUGINS_TRIGGER_REASON", "").strip(),
        "environment": environ.get("CI_PLUGINS_TRIGGER_ENV", "").strip(),
        "record": environ.get("CI_PLUGINS_TRIGGER_RECORD", "").strip(),
    }
