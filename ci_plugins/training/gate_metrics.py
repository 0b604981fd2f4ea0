"""Which metrics a compiled Keras model reports, and which the gate needs but will not get.

Pure (no TensorFlow): it reads `model.get_compile_config()`, so train can warn before the
first epoch instead of the gate failing after the whole run (#17).
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Mapping
from typing import Any


def reported_names(compile_config: Mapping[str, Any]) -> set[str] | None:
    """The names model.evaluate() will report (`loss` and each compiled metric), or None
    when they cannot be told from the config (per-output metrics, custom objects)."""
    names = {"loss"}
    for key in ("metrics", "weighted_metrics"):
        entries = compile_config.get(key)
        if entries is None:
            continue
        if not isinstance(entries, list | tuple):
            return None  # a dict per output: Keras prefixes the output names
        for entry in entries:
            name = _name(entry)
            if name is None:
                return None
            names.add(name)
    return names


def unreported(gate_metrics: Iterable[str], reported: set[str]) -> list[str]:
    """One warning line per gate metric the model will not report, with the nearest name."""
    lines = []
    for metric in dict.fromkeys(gate_metrics):
        if metric in reported:
            continue
        match = difflib.get_close_matches(metric, sorted(reported), n=1, cutoff=0.5)
        hint = f"; did you mean {match[0]!r}?" if match else ""
        lines.append(
            f"the gate checks {metric!r}, which the model does not compile (it reports: "
            f"{', '.join(sorted(reported))}){hint}: add it to model.compile(metrics=[...]) "
            "or the gate will fail"
        )
    return lines


def _name(entry: Any) -> str | None:
    if isinstance(entry, str):
        return entry
    if isinstance(entry, Mapping):
        config = entry.get("config")
        if isinstance(config, Mapping) and isinstance(config.get("name"), str):
            return str(config["name"])
    return None
