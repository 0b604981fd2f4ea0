"""Names that become paths, Helm releases or Kubernetes names: validated before any write."""

from __future__ import annotations

import re

from ci_plugins.errors import InputError

_DNS1123_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
APP_MAX = 53  # Helm release names are at most 53 characters
ENV_MAX = 63  # a DNS-1123 label

# The pod label that tells a canary's tracks apart: the chart sets it, the analysis's
# PromQL selects on it (as ci_plugins_dev_track), render and rollout read it.
TRACK_LABEL = "ci-plugins.dev/track"
CANDIDATE_TRACK = "candidate"
STABLE_TRACK = "stable"


def dns_label_problem(value: object, *, max_length: int) -> str | None:
    """Why value is not a DNS-1123 label of at most max_length characters, or None."""
    if not isinstance(value, str):
        return f"expected a string, got {type(value).__name__}"
    if not value:
        return "must not be empty"
    if len(value) > max_length:
        return f"{value!r} is {len(value)} characters long; at most {max_length} are allowed"
    if not _DNS1123_LABEL.match(value):
        return (
            f"{value!r} is not a DNS-1123 label: use lower-case letters, digits and '-', "
            "starting and ending with a letter or digit (no '/', '..' or upper case)"
        )
    return None


def check_app(value: str, *, what: str = "app") -> str:
    """Return value if it is a valid app name; raise InputError (exit 2) otherwise."""
    problem = dns_label_problem(value, max_length=APP_MAX)
    if problem:
        raise InputError(f"invalid {what} name: {problem}")
    return value


def check_env(value: str, *, what: str = "environment") -> str:
    """Return value if it is a valid environment name; raise InputError (exit 2) otherwise."""
    problem = dns_label_problem(value, max_length=ENV_MAX)
    if problem:
        raise InputError(f"invalid {what} name: {problem}")
    return value


_BAD_REF_PARTS = ("..", "@{", "//", "/.", "\\")


def branch_problem(value: str) -> str | None:
    """Why value cannot be a git branch name (the rules of `git check-ref-format --branch`),
    or None. A leading '-' would read as an option to git: refused too."""
    if not value:
        return "must not be empty"
    if value.startswith("-"):
        return f"{value!r} starts with '-' (git would read it as an option)"
    bad = [c for c in value if c.isspace() or c in "~^:?*[" or ord(c) < 32 or ord(c) == 127]
    if bad or any(part in value for part in _BAD_REF_PARTS) or value == "@":
        return f"{value!r} is not a valid git branch name"
    if value.startswith(("/", ".")) or value.endswith(("/", ".", ".lock")):
        return f"{value!r} is not a valid git branch name"
    return None
