"""`--tune-lock FILE`: the best values of a search, reused by later trains without searching.

Read before TensorFlow loads, so a stale or broken lock fails in a second (exit 2).
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from ci_plugins.config.models import SearchParameter, TuneConfig
from ci_plugins.errors import InputError
from ci_plugins.training.trials import SearchRecord

LOCK_VERSION = 1
HINT = "delete the lock file to search again, or fix its values"


def read_lock(path: Path, tune: TuneConfig) -> dict[str, Any]:
    """The locked values, checked against train.tune.space; InputError (2) otherwise."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"cannot read tune lock {path}: {exc}") from None
    except json.JSONDecodeError as exc:
        raise InputError(
            f"tune lock {path} is not valid JSON at line {exc.lineno}: {exc.msg}", hint=HINT
        ) from None
    values = data.get("values") if isinstance(data, dict) else None
    if not isinstance(values, dict):
        raise InputError(f'tune lock {path} must hold {{"values": {{...}}}}', hint=HINT)
    problems = lock_problems(values, tune.space)
    if problems:
        raise InputError(
            f"tune lock {path} does not fit train.tune.space", problems=problems, hint=HINT
        )
    return {name: values[name] for name in tune.space}


def lock_problems(values: Mapping[str, Any], space: Mapping[str, SearchParameter]) -> list[str]:
    """Every way values disagree with the search space (missing, extra, out of range)."""
    problems = [f"{name}: not in the lock" for name in space if name not in values]
    problems += [f"{name}: not in train.tune.space" for name in values if name not in space]
    for name, parameter in space.items():
        if name in values:
            problem = value_problem(values[name], parameter)
            if problem:
                problems.append(f"{name}: {problem}")
    return problems


def value_problem(value: Any, parameter: SearchParameter) -> str | None:
    """Why value is not a value of parameter, or None."""
    if parameter.type == "choice":
        options = parameter.values or []
        return None if value in options else f"{value!r} is not one of {options}"
    number = isinstance(value, int | float) and not isinstance(value, bool)
    if parameter.type == "int" and not (number and float(value).is_integer()):
        return f"{value!r} is not a whole number"
    if not number:
        return f"{value!r} is not a number"
    low, high = parameter.min, parameter.max
    if low is not None and high is not None and not low <= value <= high:
        return f"{value!r} is outside {low:g}..{high:g}"
    return None


def write_lock(path: Path, record: SearchRecord) -> None:
    """Write the chosen values (atomically) with the search that chose them."""
    document = {
        "version": LOCK_VERSION,
        "values": dict(record.values),
        "objective": {
            "metric": record.metric,
            "direction": record.direction,
            "value": record.best_objective,
        },
        "trial": record.best_trial,
        "search": record.key,
        "tuner": record.tuner,
    }
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        staged = path.with_name(f".{path.name}.tmp")
        staged.write_text(json.dumps(document, indent=2, sort_keys=True) + "\n", encoding="utf-8")
        os.replace(staged, path)
    except OSError as exc:
        raise InputError(f"cannot write tune lock {path}: {exc.strerror or exc}") from None
