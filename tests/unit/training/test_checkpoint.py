"""Which checkpoints a run resumes from (the weights themselves: tests/integration/train)."""

from __future__ import annotations

import json
from pathlib import Path

from ci_plugins.training.checkpoint import STATE_FILE, WEIGHTS_FILE, Checkpoints, fingerprint

RUN = fingerprint({"entrypoint": "model:build", "seed": 0, "source_commit": "abc"})


def write_state(directory: Path, *, epoch: int = 3, owner: str = RUN, weights: bool = True) -> None:
    directory.mkdir(parents=True, exist_ok=True)
    state = {"epoch": epoch, "fingerprint": owner, "history": [{"epoch": 1, "loss": 1.0}]}
    (directory / STATE_FILE).write_text(json.dumps(state), encoding="utf-8")
    if weights:
        (directory / WEIGHTS_FILE).write_bytes(b"h5")


def test_an_empty_directory_starts_fresh_silently(tmp_path: Path) -> None:
    assert Checkpoints(tmp_path / "ckpt", RUN).load() == (None, None)


def test_a_checkpoint_of_the_same_run_resumes(tmp_path: Path) -> None:
    write_state(tmp_path)
    state, why = Checkpoints(tmp_path, RUN).load()
    assert why is None
    assert state is not None
    assert state.epoch == 3
    assert state.history[0]["loss"] == 1.0


def test_a_checkpoint_of_another_run_is_never_resumed(tmp_path: Path) -> None:
    write_state(tmp_path, owner=fingerprint({"source_commit": "other"}))
    state, why = Checkpoints(tmp_path, RUN).load()
    assert state is None
    assert why is not None
    assert "belongs to another run" in why


def test_a_corrupt_state_file_starts_over_with_a_reason(tmp_path: Path) -> None:
    (tmp_path / STATE_FILE).write_text("{", encoding="utf-8")
    state, why = Checkpoints(tmp_path, RUN).load()
    assert state is None
    assert why is not None
    assert "unreadable" in why


def test_a_state_without_weights_starts_over(tmp_path: Path) -> None:
    write_state(tmp_path, weights=False)
    state, why = Checkpoints(tmp_path, RUN).load()
    assert state is None
    assert why is not None
    assert WEIGHTS_FILE in why


def test_clear_removes_the_checkpoint(tmp_path: Path) -> None:
    write_state(tmp_path)
    Checkpoints(tmp_path, RUN).clear()
    assert sorted(p.name for p in tmp_path.iterdir()) == []


def test_the_fingerprint_ignores_key_order() -> None:
    assert fingerprint({"a": 1, "b": 2}) == fingerprint({"b": 2, "a": 1})
    assert fingerprint({"a": 1}) != fingerprint({"a": 2})
