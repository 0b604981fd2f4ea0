"""Find and call the project's `module:function` (train.entrypoint) next to ci-plugins.yaml."""

from __future__ import annotations

import difflib
import importlib
import inspect
import sys
import traceback
from collections.abc import Callable, Mapping
from pathlib import Path
from types import ModuleType
from typing import Any

from ci_plugins.errors import InputError
from ci_plugins.training.read_tracker import ReadTracker

HINT = "see docs/train.md: build(params) returns TrainSpec(model=..., train=..., test=...)"


def check_module(entrypoint: str, project: Path) -> None:
    """InputError (exit 2) unless the entrypoint's module is a file or package in project.

    Cheap (no import), so a typo fails before TensorFlow loads.
    """
    module = entrypoint.partition(":")[0]
    top = module.split(".")[0]
    if (project / f"{top}.py").is_file() or (project / top).is_dir():
        return
    raise InputError(
        f"train.entrypoint {entrypoint!r}: no module {module!r} in {project} "
        f"(looked for {top}.py and {top}/)",
        hint="entrypoint modules are resolved relative to the directory of ci-plugins.yaml",
    )


def load_function(entrypoint: str, project: Path) -> Callable[..., Any]:
    """Import the module from project and return its function; InputError otherwise."""
    check_module(entrypoint, project)
    module_name, _, function_name = entrypoint.partition(":")
    module = _import(module_name, project, entrypoint)
    function = getattr(module, function_name, None)
    if function is None:
        names = [n for n, v in vars(module).items() if callable(v) and not n.startswith("_")]
        match = difflib.get_close_matches(function_name, names, n=1, cutoff=0.6)
        suggestion = f" (did you mean {match[0]!r}?)" if match else ""
        raise InputError(
            f"train.entrypoint {entrypoint!r}: {_where(module)} has no function "
            f"{function_name!r}{suggestion}",
            hint=HINT,
        )
    if not callable(function):
        raise InputError(
            f"train.entrypoint {entrypoint!r}: {function_name} in {_where(module)} is a "
            f"{type(function).__name__}, not a function",
            hint=HINT,
        )
    return function  # type: ignore[no-any-return]


def call_function(
    function: Callable[..., Any], params: Mapping[str, Any], *, entrypoint: str, project: Path
) -> Any:
    """Call build(params) (or build() when it takes no argument); user errors become exit 2."""
    try:
        takes_params = bool(inspect.signature(function).parameters)
    except (TypeError, ValueError):
        takes_params = True
    try:
        # A ReadTracker goes in as it is: it records which keys build() reads (train.tune).
        argument = params if isinstance(params, ReadTracker) else dict(params)
        return function(argument) if takes_params else function()
    except (KeyboardInterrupt, SystemExit):
        raise
    except Exception as exc:
        raise InputError(
            f"train.entrypoint {entrypoint!r} raised {_describe(exc, project)}",
            hint="run with --debug for the full traceback",
        ) from exc


def _import(module_name: str, project: Path, entrypoint: str) -> ModuleType:
    root = str(project.resolve())
    loaded = sys.modules.get(module_name)
    if loaded is not None and not str(getattr(loaded, "__file__", "")).startswith(root):
        raise InputError(
            f"train.entrypoint {entrypoint!r}: module name {module_name!r} is already taken "
            f"by {getattr(loaded, '__file__', None) or 'a built-in module'}",
            hint="rename your module (e.g. model.py) and update train.entrypoint",
        )
    if root not in sys.path:
        sys.path.insert(0, root)
    try:
        return importlib.import_module(module_name)
    except (KeyboardInterrupt, SystemExit):
        raise
    except ModuleNotFoundError as exc:
        missing = exc.name or str(exc)
        raise InputError(
            f"train.entrypoint {entrypoint!r}: importing {module_name} failed: it imports "
            f"{missing!r}, which is not installed ({_describe(exc, project)})",
            hint="install the project's requirements on the runner before ci-plugins train",
        ) from exc
    except Exception as exc:
        raise InputError(
            f"train.entrypoint {entrypoint!r}: importing {module_name} failed: "
            f"{_describe(exc, project)}",
            hint="run with --debug for the full traceback",
        ) from exc


def _describe(exc: BaseException, project: Path) -> str:
    """`ValueError: message (model.py:42)`: the innermost frame in the project's files."""
    text = f"{type(exc).__name__}: {exc}"
    root = str(project.resolve())
    if isinstance(exc, SyntaxError) and exc.filename:
        return f"{text} ({Path(exc.filename).name}:{exc.lineno})"
    frames = [f for f in traceback.extract_tb(exc.__traceback__) if f.filename.startswith(root)]
    if frames:
        frame = frames[-1]
        text += f" ({Path(frame.filename).relative_to(root)}:{frame.lineno})"
    return text


def _where(module: ModuleType) -> str:
    file = getattr(module, "__file__", None)
    return Path(file).name if file else module.__name__
