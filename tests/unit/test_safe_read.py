"""The one reader of user and env-repo files and YAML: links, FIFOs, alias bombs."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from ci_plugins import safe_read
from ci_plugins.errors import InputError


def bomb(levels: int) -> str:
    lines = ["a0: &a0 [x, x, x, x, x, x, x, x, x]"]
    for level in range(1, levels + 1):
        refs = ", ".join([f"*a{level - 1}"] * 9)
        lines.append(f"a{level}: &a{level} [{refs}]")
    return "\n".join(lines) + "\n"


def test_an_alias_bomb_is_refused_in_milliseconds() -> None:
    started = time.monotonic()
    with pytest.raises(safe_read.AliasBombError, match="expand to more than 1,000,000 nodes"):
        safe_read.load(bomb(9))
    assert time.monotonic() - started < 1.0


def test_a_few_aliases_are_fine_and_merge_keys_work() -> None:
    data = safe_read.load("base: &b {cpu: 1}\nprod: {<<: *b, memory: 2}\nsmall: " + "[*b]\n")
    assert data == {"base": {"cpu": 1}, "prod": {"cpu": 1, "memory": 2}, "small": [{"cpu": 1}]}
    assert len(safe_read.load(bomb(4))["a4"]) == 9  # 9**5 nodes expanded: under the bound


def test_an_alias_to_its_own_container_is_refused() -> None:
    with pytest.raises(safe_read.AliasBombError, match="refers to the node that contains it"):
        safe_read.load("a: &a [1, *a]\n")


def test_load_all_keeps_empty_documents_and_load_wants_one() -> None:
    assert safe_read.load_all("---\na: 1\n---\n---\nb: 2\n") == [{"a": 1}, None, {"b": 2}]
    with pytest.raises(safe_read.YAMLError, match="single document"):
        safe_read.load("a: 1\n---\nb: 2\n")


def test_load_text_names_the_source() -> None:
    with pytest.raises(InputError, match=r"^pin.yaml is not valid YAML: "):
        safe_read.load_text("a: [unclosed\n", source="pin.yaml")


@pytest.mark.parametrize(
    ("make", "reason"),
    [
        pytest.param(lambda p: p.symlink_to("/etc/hostname"), "is a symbolic link", id="link"),
        pytest.param(os.mkfifo, "is not a regular file", id="fifo"),
        pytest.param(lambda p: p.mkdir(), "is not a regular file", id="directory"),
    ],
)
def test_only_regular_files_are_read(tmp_path: Path, make: object, reason: str) -> None:
    path = tmp_path / "release.yaml"
    assert callable(make)
    make(path)
    with pytest.raises(safe_read.UnreadableFile, match=reason) as info:
        safe_read.read_bytes(path, what="release")
    assert info.value.exit_code == 2
    assert str(info.value).startswith(f"release {path} ")


def test_a_missing_file_is_none_and_bytes_that_are_not_utf8_are_named(tmp_path: Path) -> None:
    assert safe_read.read_text(tmp_path / "absent.yaml") is None
    (tmp_path / "bad.yaml").write_bytes(b"a: \xff\n")
    with pytest.raises(InputError, match=r"bad.yaml is not UTF-8 text \(byte 3"):
        safe_read.read_text(tmp_path / "bad.yaml")


def test_read_json_object_says_what_is_wrong(tmp_path: Path) -> None:
    path = tmp_path / "m.json"
    with pytest.raises(InputError, match=r"metrics file .* does not exist"):
        safe_read.read_json_object(path, what="metrics file")
    path.write_text("[1]")
    with pytest.raises(InputError, match="must hold a JSON object, got list"):
        safe_read.read_json_object(path, what="metrics file")
