"""The model digest: identical bytes, identical digest; any change, another digest."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from ci_plugins.model.digest import directory_digest


def make_model_dir(root: Path) -> Path:
    (root / "variables").mkdir(parents=True)
    (root / "assets").mkdir()
    (root / "saved_model.pb").write_bytes(b"graph")
    (root / "variables" / "variables.index").write_bytes(b"index")
    (root / "variables" / "variables.data-00000-of-00001").write_bytes(b"\x00" * 3000)
    return root


def test_identical_bytes_give_identical_digests_wherever_they_live(tmp_path: Path) -> None:
    first = make_model_dir(tmp_path / "a" / "1")
    second = tmp_path / "elsewhere" / "42"
    shutil.copytree(first, second)
    os.utime(second / "saved_model.pb", (0, 0))
    digest = directory_digest(first)
    assert digest == directory_digest(second)
    assert digest.startswith("sha256:")
    assert len(digest) == 7 + 64


def test_changed_content_changes_the_digest(tmp_path: Path) -> None:
    model = make_model_dir(tmp_path / "1")
    before = directory_digest(model)
    (model / "variables" / "variables.index").write_bytes(b"indeX")
    assert directory_digest(model) != before


def test_moving_bytes_between_files_changes_the_digest(tmp_path: Path) -> None:
    left = tmp_path / "left"
    left.mkdir()
    (left / "a").write_bytes(b"xy")
    (left / "b").write_bytes(b"")
    right = tmp_path / "right"
    right.mkdir()
    (right / "a").write_bytes(b"x")
    (right / "b").write_bytes(b"y")
    assert directory_digest(left) != directory_digest(right)


def test_renaming_a_file_changes_the_digest(tmp_path: Path) -> None:
    model = make_model_dir(tmp_path / "1")
    before = directory_digest(model)
    (model / "saved_model.pb").rename(model / "saved_model.pbtxt")
    assert directory_digest(model) != before
