"""Golden requests: one JSON body (a :predict request) a line; a bad line is exit 2."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from ci_plugins.errors import InputError


def read_golden_requests(path: Path) -> list[str]:
    """The file's request bodies, compact JSON, blank lines skipped; InputError naming the
    line when one is not a JSON object, and when there is none."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise InputError(
            f"golden request file {path} does not exist",
            hint="analysis.load.requests is relative to ci-plugins.yaml",
        ) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"cannot read golden request file {path}: {exc}") from None
    bodies = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        bodies.append(json.dumps(_body(path, number, line), sort_keys=True))
    if not bodies:
        raise InputError(f"golden request file {path} holds no request (one JSON body a line)")
    return bodies


def _body(path: Path, number: int, line: str) -> dict[str, Any]:
    try:
        body = json.loads(line)
    except ValueError as exc:
        raise InputError(
            f"{path} line {number} is not JSON: {exc}",
            hint='one :predict body a line, e.g. {"instances": [[0.0, 1.0]]}',
        ) from None
    if not isinstance(body, dict):
        raise InputError(
            f"{path} line {number} must be a JSON object (a :predict body), "
            f"got {type(body).__name__}",
            hint='e.g. {"instances": [[0.0, 1.0]]}',
        )
    return body
