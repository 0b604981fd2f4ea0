"""The one duration parser: seconds as a number, or `90s`, `5m`, `1h30m`, `250ms`, `2d`;
finite and bounded.

Used by the command line (`--timeout`) and by every duration key of ci-plugins.yaml, so
`nan`, `inf` and `1e300` are refused everywhere alike (exit 2) instead of waiting forever
or overflowing a sleep (#17).
"""

from __future__ import annotations

import argparse
import math
import re

MAX_SECONDS = 7 * 24 * 3600.0  # a week: longer than any CI job may run
_UNITS = {"": 1.0, "ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0, "w": 604800.0}
_NUMBER = r"[0-9]*\.?[0-9]+([eE][-+]?[0-9]+)?"
# A plain number (seconds), or one or more <number><unit> parts: "90", "1.5h", "1h30m".
DURATION_PATTERN = rf"^\s*({_NUMBER}|({_NUMBER}(ms|s|m|h|d|w))+)\s*$"
_WHOLE = re.compile(DURATION_PATTERN)
_PART = re.compile(rf"(?P<number>{_NUMBER})(?P<unit>ms|s|m|h|d|w)")


def parse_duration(value: object) -> float:
    """Seconds from a number or a duration string; ValueError saying why not."""
    if isinstance(value, bool):
        raise ValueError(f"expected seconds or a duration like 90s, 5m, 1h, got {value!r}")
    if isinstance(value, int | float):
        seconds = float(value)
    elif isinstance(value, str) and _WHOLE.match(value):
        text = value.strip()
        parts = list(_PART.finditer(text))
        seconds = (
            sum(float(p["number"]) * _UNITS[p["unit"]] for p in parts) if parts else float(text)
        )
    else:
        raise ValueError(f"expected seconds or a duration like 90s, 5m, 1h, got {value!r}")
    if not math.isfinite(seconds) or seconds < 0:
        raise ValueError(f"a duration must be a finite number of seconds >= 0, got {value!r}")
    if seconds > MAX_SECONDS:
        raise ValueError(
            f"{value!r} is longer than the longest duration accepted ({MAX_SECONDS:.0f}s, 7d)"
        )
    return seconds


def duration_argument(text: str) -> float:
    """argparse type of a duration flag (`--timeout`): this grammar; a usage error if bad."""
    try:
        return parse_duration(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None
