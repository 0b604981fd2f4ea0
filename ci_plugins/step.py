"""What every step receives (StepContext) and returns (StepResult)."""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from ci_plugins.output import Output

if TYPE_CHECKING:
    from ci_plugins.config.models import Config


class Clock(Protocol):
    """Time and sleep, passed in so that no test really waits."""

    def time(self) -> float: ...

    def sleep(self, seconds: float) -> None: ...


class Flags(Protocol):
    """What a step module's `arguments(p)` declares its flags on (cli.py's parser)."""

    def flag(self, name: str, *, required: bool = False, **kwargs: Any) -> None:
        """Add --name; its default also comes from CI_PLUGINS_<NAME>."""


class RealClock:
    def time(self) -> float:
        return time.monotonic()

    def sleep(self, seconds: float) -> None:
        time.sleep(seconds)


REAL_CLOCK: Clock = RealClock()


@dataclass
class StepContext:
    """Where a step runs: its config file, the output to talk through, the clock."""

    config_path: Path
    out: Output
    clock: Clock = REAL_CLOCK
    config_explicit: bool = False
    _config: Config | None = field(default=None, repr=False)

    def config(self) -> Config:
        """The validated ci-plugins.yaml; raises InputError when missing or invalid."""
        if self._config is None:
            from ci_plugins.config.models import load_config

            self._config = load_config(self.config_path)
        return self._config

    def optional_config(self) -> Config | None:
        """The config when the file exists (or was named explicitly), else None."""
        if self.config_explicit or self.config_path.exists():
            return self.config()
        return None

    def environment(self, name: str) -> str:
        """name, when it is a valid environment name the config defines (any valid name
        without a config); InputError (exit 2) "unknown environment ... did you mean" else.

        Every command that takes --env calls this, so they all refuse alike (#17).
        """
        from ci_plugins.config.names import check_env

        check_env(name)
        config = self.optional_config()
        if config is not None:
            config.environment(name)
        return name


@dataclass(frozen=True)
class StepResult:
    """The outcome of a step: exit code, one-line message, JSON fields and CI outputs."""

    exit_code: int
    message: str
    data: Mapping[str, Any] = field(default_factory=dict)
    outputs: Mapping[str, str] = field(default_factory=dict)
    summary: str | None = None

    @property
    def ok(self) -> bool:
        return self.exit_code == 0

    @classmethod
    def passed(
        cls,
        message: str,
        *,
        data: Mapping[str, Any] | None = None,
        outputs: Mapping[str, str] | None = None,
        summary: str | None = None,
    ) -> StepResult:
        return cls(0, message, dict(data or {}), dict(outputs or {}), summary)

    @classmethod
    def failed(
        cls,
        message: str,
        *,
        data: Mapping[str, Any] | None = None,
        outputs: Mapping[str, str] | None = None,
        summary: str | None = None,
    ) -> StepResult:
        """A check said no (exit 1)."""
        return cls(1, message, dict(data or {}), dict(outputs or {}), summary)
