"""The whole exception family. Only cli.py catches these; each kind has one exit code."""

from __future__ import annotations

import subprocess
from collections.abc import Sequence
from typing import ClassVar

from ci_plugins.redact import redact


class CiPluginsError(Exception):
    """The base of the family; never raised itself. Raise a subclass: InputError (2) or
    ExternalError (3). A bare CiPluginsError reaching cli.py is a bug in ci-plugins, so it
    exits 4 like any other unexpected exception. str() is the one-line message."""

    exit_code: ClassVar[int] = 4

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        super().__init__(redact(message))
        self.hint = redact(hint) if hint else None


class InputError(CiPluginsError):
    """Bad input: usage, config, metrics or policy file, names (exit 2)."""

    exit_code = 2

    def __init__(
        self, message: str, *, hint: str | None = None, problems: Sequence[str] = ()
    ) -> None:
        super().__init__(message, hint=hint)
        self.problems = [redact(p) for p in problems]

    def __str__(self) -> str:
        head = super().__str__()
        if not self.problems:
            return head
        return "\n".join([head, *(f"  {p}" for p in self.problems)])


class ExternalError(CiPluginsError):
    """An outside system failed: git, helm, Kubernetes, registries, forge and CI APIs (exit 3)."""

    exit_code = 3

    @classmethod
    def from_process(
        cls,
        argv: Sequence[str],
        proc: subprocess.CompletedProcess[str],
        *,
        hint: str | None = None,
    ) -> ExternalError:
        """Name the command, its exit status and the end of its stderr (redacted)."""
        tail = (proc.stderr or proc.stdout or "").strip().splitlines()[-15:]
        detail = "\n".join(f"  {line}" for line in tail)
        command = " ".join(argv)
        message = f"{command} failed with exit status {proc.returncode}"
        if detail:
            message += f":\n{detail}"
        return cls(message, hint=hint)


class PushRejectedError(ExternalError):
    """The remote refused our push because it moved on; promote fetches and retries.

    `remote_lines`: what the server said (`remote: ...`, e.g. a pre-receive hook's reason).
    """

    def __init__(
        self, message: str, *, hint: str | None = None, remote_lines: Sequence[str] = ()
    ) -> None:
        super().__init__(message, hint=hint)
        self.remote_lines = [redact(line) for line in remote_lines]
