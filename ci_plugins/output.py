"""Every line a human reads, shaped for the CI system it runs in.

Knows GitLab CI, GitHub Actions and Jenkins (or none): collapsible log sections, step
outputs for the next job (GitLab dotenv report, `$GITHUB_OUTPUT`, a Jenkins properties
file), step summaries, and masking of secrets.
"""

from __future__ import annotations

import enum
import os
import re
import sys
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import TextIO

from ci_plugins.redact import redact, register_secret

# GitLab's default dotenv limits: 20 variables, 5 KB, single-line values.
DOTENV_MAX_KEYS = 20
DOTENV_MAX_BYTES = 5 * 1024


class CiSystem(enum.Enum):
    NONE = "none"
    GITLAB = "gitlab"
    GITHUB = "github"
    JENKINS = "jenkins"


def detect_ci(environ: Mapping[str, str]) -> CiSystem:
    """Tell which CI system runs us from the variables each one always sets."""
    if environ.get("GITLAB_CI") == "true":
        return CiSystem.GITLAB
    if environ.get("GITHUB_ACTIONS") == "true":
        return CiSystem.GITHUB
    if environ.get("JENKINS_URL") or environ.get("JENKINS_HOME"):
        return CiSystem.JENKINS
    return CiSystem.NONE


class Output:
    """Logs to stderr, sections, outputs and summaries for the detected CI system."""

    def __init__(
        self, *, environ: Mapping[str, str] | None = None, stream: TextIO | None = None
    ) -> None:
        self.environ = dict(os.environ if environ is None else environ)
        self.ci = detect_ci(self.environ)
        self.stream = stream if stream is not None else sys.stderr
        self._section = 0

    # -- log lines -------------------------------------------------------------------
    def info(self, message: str) -> None:
        """One line (or a few) for the human reading the job log."""
        print(redact(message), file=self.stream, flush=True)

    def warn(self, message: str) -> None:
        text = redact(message)
        if self.ci is CiSystem.GITHUB:
            print(f"::warning::{_escape_command(text)}", file=self.stream, flush=True)
        else:
            print(f"warning: {text}", file=self.stream, flush=True)

    def error(self, message: str, *, hint: str | None = None) -> None:
        text = redact(message)
        if self.ci is CiSystem.GITHUB:
            print(f"::error::{_escape_command(text.splitlines()[0])}", file=self.stream)
        print(f"error: {text}", file=self.stream)
        if hint:
            print(f"hint: {redact(hint)}", file=self.stream)
        self.stream.flush()

    @contextmanager
    def group(self, title: str, *, collapsed: bool = True) -> Iterator[None]:
        """A collapsible section of the log (GitLab section, GitHub group, plain header)."""
        self._section += 1
        name = f"ci_plugins_{self._section}_{re.sub(r'[^a-z0-9_]', '_', title.lower())[:40]}"
        if self.ci is CiSystem.GITLAB:
            flag = "[collapsed=true]" if collapsed else ""
            print(
                f"\x1b[0Ksection_start:{int(time.time())}:{name}{flag}\r\x1b[0K{title}",
                file=self.stream,
                flush=True,
            )
        elif self.ci is CiSystem.GITHUB:
            print(f"::group::{_escape_command(title)}", file=self.stream, flush=True)
        else:
            print(f"── {title}", file=self.stream, flush=True)
        try:
            yield
        finally:
            if self.ci is CiSystem.GITLAB:
                print(
                    f"\x1b[0Ksection_end:{int(time.time())}:{name}\r\x1b[0K",
                    file=self.stream,
                    flush=True,
                )
            elif self.ci is CiSystem.GITHUB:
                print("::endgroup::", file=self.stream, flush=True)

    def mask(self, secret: str | None) -> None:
        """Never show this value again, here or (on GitHub) anywhere in the job log."""
        if not secret:
            return
        register_secret(secret)
        if self.ci is CiSystem.GITHUB:
            print(f"::add-mask::{secret}", file=self.stream, flush=True)

    # -- outputs for the next job ------------------------------------------------------
    def outputs_file(self) -> Path | None:
        """Where step outputs go: `$CI_PLUGINS_OUTPUTS_FILE`, or the CI system's usual place."""
        explicit = self.environ.get("CI_PLUGINS_OUTPUTS_FILE")
        if explicit:
            return Path(explicit)
        if self.ci is CiSystem.GITHUB and self.environ.get("GITHUB_OUTPUT"):
            return Path(self.environ["GITHUB_OUTPUT"])
        if self.ci is CiSystem.GITLAB:
            return Path("ci-plugins.env")
        if self.ci is CiSystem.JENKINS:
            return Path("ci-plugins.properties")
        return None

    def set_outputs(self, values: Mapping[str, str]) -> None:
        """Pass values to the next job: `commit` becomes CI_PLUGINS_COMMIT in dotenv files."""
        path = self.outputs_file()
        if path is None or not values:
            return
        lines = {_output_key(self.ci, key): _one_line(value) for key, value in values.items()}
        if self.ci is CiSystem.GITHUB and "CI_PLUGINS_OUTPUTS_FILE" not in self.environ:
            with path.open("a", encoding="utf-8") as fh:
                fh.writelines(f"{key}={value}\n" for key, value in lines.items())
            return
        merged = _read_dotenv(path)
        merged.update(lines)
        text = "".join(f"{key}={value}\n" for key, value in merged.items())
        if len(merged) > DOTENV_MAX_KEYS or len(text.encode()) > DOTENV_MAX_BYTES:
            self.warn(
                f"{path} holds {len(merged)} keys / {len(text.encode())} bytes: over GitLab's "
                f"dotenv limits ({DOTENV_MAX_KEYS} keys, {DOTENV_MAX_BYTES} bytes)"
            )
        path.write_text(text, encoding="utf-8")

    def add_summary(self, markdown: str) -> None:
        """Append Markdown to the job summary (GitHub step summary, CI_PLUGINS_SUMMARY_FILE)."""
        targets = [
            self.environ.get("GITHUB_STEP_SUMMARY"),
            self.environ.get("CI_PLUGINS_SUMMARY_FILE"),
        ]
        for target in filter(None, targets):
            with Path(target).open("a", encoding="utf-8") as fh:
                fh.write(redact(markdown).rstrip() + "\n\n")


def _output_key(ci: CiSystem, key: str) -> str:
    if ci is CiSystem.GITHUB:
        return key.replace("_", "-")
    return "CI_PLUGINS_" + re.sub(r"[^A-Z0-9]", "_", key.upper())


def _one_line(value: str) -> str:
    return redact(str(value)).replace("\r", " ").replace("\n", " ")


def _read_dotenv(path: Path) -> dict[str, str]:
    if not path.exists():
        return {}
    values: dict[str, str] = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        key, sep, value = line.partition("=")
        if sep and key.strip():
            values[key.strip()] = value
    return values


def _escape_command(text: str) -> str:
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")
