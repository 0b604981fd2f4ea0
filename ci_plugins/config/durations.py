"""The one duration parser: seconds as a number, or `90s`, `5m`, `1h`, `2d`; finite, bounded.

Used by the command line (`--timeout`) and by every duration key of ci-plugins.yaml, so
`nan`, `inf` and `1e300` are refused everywhere alike (exit 2) instead of waiting forever
or overflowing a sleep (#17).
"""

from __future__ import annotations

import math
import re

MAX_SECONDS = 7 * 24 * 3600.0  # a week: longer than any CI job may run
_UNITS = {"": 1.0, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0}
DURATION_PATTERN = r"^\s*([0-9]*\.?[0-9]+([eE][-+]?[0-9]+)?)\s*([smhd]?)\s*$"
_PATTERN = re.compile(DURATION_PATTERN)


def parse_duration(value: object) -> float:
    """Seconds from a number or a `<number>[s|m|h|d]` string; ValueError saying why not."""
    if isinstance(value, bool):
        raise ValueError(f"expected a duration (seconds, or e.g. 90s, 5m, 1h), got {value!r}")
    if isinstance(value, int | float):
        seconds = float(value)
    elif isinstance(value, str):
        match = _PATTERN.match(value)
        if match is None:
            raise ValueError(f"expected a duration (seconds, or e.g. 90s, 5m, 1h), got {value!r}")
        seconds = float(match.group(1)) * _UNITS[match.group(3)]
    else:
        raise ValueError(f"expected a duration (seconds, or e.g. 90s, 5m, 1h), got {value!r}")
    if not math.isfinite(seconds) or seconds < 0:
        raise ValueError(f"a duration must be a finite number of seconds >= 0, got {value!r}")
    if seconds > MAX_SECONDS:
        raise ValueError(
            f"{value!r} is longer than the longest duration accepted ({MAX_SECONDS:.0f}s, 7d)"
        )
    return seconds
