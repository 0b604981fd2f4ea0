"""Checkpoints for preemptible runners: weights, optimizer state and the epochs done.

One weights file and one `checkpoint.json`, each replaced atomically, so a kill at any
moment leaves the previous checkpoint (or the new one) readable.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ci_plugins.errors import InputError

STATE_FILE = "checkpoint.json"
WEIGHTS_FILE = "ckpt.weights.h5"
TEMP_WEIGHTS = "ckpt-partial.weights.h5"


def fingerprint(values: Mapping[str, Any]) -> str:
    """A short hash of what makes a checkpoint reusable (entrypoint, params, seed, commit...)."""
    text = json.dumps(values, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


@dataclass
class CheckpointState:
    """How many epochs the saved weights completed, and their per-epoch logs."""

    epoch: int
    fingerprint: str
    history: list[dict[str, float]] = field(default_factory=list)


class Checkpoints:
    """A checkpoint directory for one training run (identified by its fingerprint)."""

    def __init__(self, directory: Path, fingerprint: str) -> None:
        self.directory = directory
        self.fingerprint = fingerprint
        try:
            directory.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise InputError(f"cannot create checkpoint directory {directory}: {exc}") from None

    def load(self) -> tuple[CheckpointState | None, str | None]:
        """(state, None) to resume; (None, why) when there is nothing usable to resume."""
        path = self.directory / STATE_FILE
        if not path.exists():
            return None, None
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
            state = CheckpointState(int(data["epoch"]), str(data["fingerprint"]), data["history"])
        except (OSError, ValueError, KeyError, TypeError) as exc:
            return None, f"{path} is unreadable ({exc}); starting over"
        if state.fingerprint != self.fingerprint:
            return None, (
                f"{path} belongs to another run (different commit, entrypoint, params, seed "
                "or batch size); starting over"
            )
        if not (self.directory / WEIGHTS_FILE).exists():
            return None, f"{path} has no {WEIGHTS_FILE} beside it; starting over"
        return state, None

    def save(self, model: Any, *, epoch: int, history: list[dict[str, float]]) -> None:
        """Save weights and optimizer state as having completed `epoch` epochs."""
        temp = self.directory / TEMP_WEIGHTS
        model.save_weights(str(temp))
        os.replace(temp, self.directory / WEIGHTS_FILE)
        state = {"epoch": epoch, "fingerprint": self.fingerprint, "history": history}
        staged = self.directory / (STATE_FILE + ".tmp")
        staged.write_text(json.dumps(state, indent=2) + "\n", encoding="utf-8")
        os.replace(staged, self.directory / STATE_FILE)

    def restore(self, model: Any) -> None:
        """Load the saved weights and optimizer state into a freshly built model."""
        optimizer = getattr(model, "optimizer", None)
        if optimizer is not None and not optimizer.built:
            optimizer.build(model.trainable_variables)
        model.load_weights(str(self.directory / WEIGHTS_FILE))

    def clear(self) -> None:
        """Remove this run's checkpoint after a successful export."""
        for name in (STATE_FILE, WEIGHTS_FILE, TEMP_WEIGHTS, STATE_FILE + ".tmp"):
            (self.directory / name).unlink(missing_ok=True)
