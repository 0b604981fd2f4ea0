"""The one wrapper around the `helm` binary: argv lists, a timeout, a non-interactive env.

Outcomes in our words: helm missing or failing is ExternalError (exit 3, with helm's own
message); values that break the chart's values.schema.json are InputError (exit 2) naming
each key, and so is a chart's own refusal of its values (`fail` / `required` in a
template), because the user fixes those in ci-plugins.yaml, not in helm.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from collections.abc import Sequence
from pathlib import Path

from ci_plugins.errors import ExternalError, InputError

DEFAULT_TIMEOUT = 120.0
INSTALL_HINT = (
    "install Helm 3.8 or newer (https://helm.sh/docs/intro/install/) and put it on PATH; "
    "in a ci-plugins checkout: scripts/install-tools && source .tools/env.sh"
)
_SCHEMA_FAILURE = "values don't meet the specifications of the schema"
# What `fail "..."` and `required "..."` in a template print (helm's engine).
_TEMPLATE_REFUSAL = re.compile(r"execution error at \((?P<where>[^)]*)\): (?P<msg>.+)")
# Helm 3.x/4.x list each violation as "- at '/service/port': got string, want integer"
# (older releases: "- service.port: Invalid type. Expected: integer, given: string").
_SCHEMA_LINE = re.compile(r"^-\s+(?:at\s+'(?P<pointer>[^']*)'|(?P<dotted>[^:\s]+)):\s*(?P<msg>.+)$")


def helm_binary() -> str:
    """The helm executable on PATH; ExternalError (exit 3) saying how to install it."""
    found = shutil.which("helm")
    if found is None:
        raise ExternalError("helm is not installed (not found on PATH)", hint=INSTALL_HINT)
    return found


def template(
    chart: Path,
    *,
    release: str,
    namespace: str,
    values: Sequence[Path] = (),
    timeout: float = DEFAULT_TIMEOUT,
) -> str:
    """Run `helm template --skip-tests` and return the rendered YAML stream.

    Raises InputError (exit 2) for values that violate the chart's schema or that a
    template refuses (`fail`, `required`), ExternalError (exit 3) when helm is missing,
    times out or fails for any other reason.
    """
    # Test hooks are for `helm test`, not for a GitOps controller to apply.
    argv = [helm_binary(), "template", "--skip-tests", "--namespace", namespace]
    for path in values:
        argv += ["--values", str(path)]
    argv += ["--", release, str(chart)]
    return run_helm(argv, timeout=timeout)


def run_helm(argv: Sequence[str], *, timeout: float = DEFAULT_TIMEOUT) -> str:
    """Run one helm command; stdout on success, our errors otherwise."""
    try:
        proc = subprocess.run(
            list(argv),
            env=helm_env(),
            capture_output=True,
            text=True,
            timeout=timeout,
            stdin=subprocess.DEVNULL,
            check=False,
        )
    except subprocess.TimeoutExpired:
        raise ExternalError(
            f"{' '.join(argv)} did not finish within {timeout:g} seconds",
            hint="a chart that renders this slowly usually loops; check its templates",
        ) from None
    except OSError as exc:
        raise ExternalError(f"could not run {argv[0]}: {exc}", hint=INSTALL_HINT) from None
    if proc.returncode != 0:
        problems = schema_problems(proc.stderr)
        if problems:
            raise InputError(
                "chart values do not match the chart's values.schema.json",
                problems=problems,
                hint="fix the value in chart.values or environments.<env>.values",
            )
        refusal = _TEMPLATE_REFUSAL.search(proc.stderr)
        if refusal:
            raise InputError(
                f"the chart refused its values: {refusal['msg'].strip()}",
                problems=[f"at {refusal['where']}"],
                hint="fix the value in chart.values or environments.<env>.values",
            )
        raise ExternalError.from_process(argv, proc)
    return proc.stdout


def schema_problems(stderr: str) -> list[str]:
    """'key.path: message' for each schema violation helm reported (empty if none)."""
    if _SCHEMA_FAILURE not in stderr:
        return []
    problems = []
    for line in stderr.splitlines():
        match = _SCHEMA_LINE.match(line.strip())
        if match is None:
            continue
        pointer = match["pointer"]
        key = pointer.strip("/").replace("/", ".") if pointer is not None else match["dotted"]
        problems.append(f"{key or '(top level)'}: {match['msg'].strip()}")
    # Helm lists violations in map order, which varies run to run: sort them.
    return sorted(problems) or [stderr.strip().splitlines()[-1]]


def helm_env() -> dict[str, str]:
    """The caller's environment, without debug output; helm never prompts for input."""
    env = dict(os.environ)
    env.pop("HELM_DEBUG", None)
    env.setdefault("HELM_NO_PLUGINS", "1")
    return env
