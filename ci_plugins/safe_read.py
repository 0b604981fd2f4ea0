"""The one reader of files and YAML that users and environment repos give us.

Files: only regular files are read (never a symlink, a FIFO or a directory where a file
is expected, #17 items 15 and 17), and any failure to read is bad input naming the file.

YAML:
PyYAML's safe loader builds no objects, but it still expands aliases: a few hundred bytes
of nested `*a` references ("billion laughs") become gigabytes once anything walks the
result (#17 item 18). The composed node graph shares aliased nodes, so its expanded size
can be counted cheaply before anything is constructed; documents whose aliases expand
beyond EXPANDED_NODES_LIMIT, or that refer to themselves, are refused as bad input.
"""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path
from typing import Any

import yaml

from ci_plugins.errors import InputError

# libyaml's parser when PyYAML has it (5x faster on helm's output).
_LOADER: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
# Nodes a document may reach through aliases. A real manifest or values file holds far
# fewer nodes than this; an alias bomb holds billions.
EXPANDED_NODES_LIMIT = 1_000_000

YAMLError = yaml.YAMLError
MISSING = "does not exist"


class AliasBombError(yaml.YAMLError):
    """A document's aliases expand beyond the bound, or form a cycle."""


def load(text: str | bytes) -> Any:
    """The single document in text (None when empty). Raises yaml.YAMLError (incl.
    AliasBombError) so that each caller can name its file."""
    documents = load_all(text)
    if len(documents) > 1:
        raise yaml.YAMLError("expected a single document, found several")
    return documents[0] if documents else None


def load_all(text: str | bytes) -> list[Any]:
    """Every document in text, in order (empty documents as None)."""
    # An alias needs an anchor (&name) and a reference (*name): text without both has
    # none, and skips the walk (helm's output, most values files).
    may_alias = ("&" in text and "*" in text) if isinstance(text, str) else b"&" in text
    loader = _LOADER(text)
    try:
        documents = []
        while loader.check_node():
            node = loader.get_node()
            if node is None:
                break
            if may_alias:
                check_expansion(node)
            documents.append(loader.construct_document(node))
        return documents
    finally:
        loader.dispose()


def check_expansion(root: yaml.Node) -> None:
    """AliasBombError when the node graph, aliases expanded, exceeds the bound or loops."""
    sizes: dict[int, int] = {}
    visiting: set[int] = set()
    stack: list[tuple[yaml.Node, bool]] = [(root, False)]
    while stack:
        node, children_done = stack.pop()
        key = id(node)
        if children_done:
            visiting.discard(key)
            sizes[key] = 1 + sum(sizes[id(child)] for child in _children(node))
            if sizes[key] > EXPANDED_NODES_LIMIT:
                raise AliasBombError(
                    f"its aliases expand to more than {EXPANDED_NODES_LIMIT:,} nodes "
                    "(an alias bomb?); write the repeated parts out"
                )
            continue
        if key in sizes:
            continue
        if key in visiting:
            raise AliasBombError("an alias refers to the node that contains it")
        visiting.add(key)
        stack.append((node, True))
        stack.extend((child, False) for child in _children(node) if id(child) not in sizes)


def _children(node: yaml.Node) -> list[yaml.Node]:
    if isinstance(node, yaml.SequenceNode):
        return list(node.value)
    if isinstance(node, yaml.MappingNode):
        return [part for pair in node.value for part in pair]
    return []


def problem(exc: yaml.YAMLError) -> str:
    """The first line of a YAML error, for messages that name the file themselves."""
    return str(exc).splitlines()[0] if str(exc) else type(exc).__name__


def load_text(text: str, *, source: str) -> Any:
    """load(text), with InputError (exit 2) naming source when it is not (safe) YAML."""
    try:
        return load(text)
    except yaml.YAMLError as exc:
        raise InputError(f"{source} is not valid YAML: {problem(exc)}") from None


class UnreadableFile(InputError):
    """A file that must not or cannot be read (exit 2); `.reason` is the predicate."""

    def __init__(self, label: str, reason: str, *, hint: str | None = None) -> None:
        super().__init__(f"{label} {reason}", hint=hint)
        self.reason = reason


def file_problem(path: Path) -> str | None:
    """Why path cannot be read as a regular file (a predicate: "is a symbolic link..."),
    None when it can; a missing file is "does not exist"."""
    try:
        mode = os.lstat(path).st_mode
    except FileNotFoundError:
        return MISSING
    except OSError as exc:
        return f"cannot be read: {exc.strerror or exc}"
    if stat.S_ISLNK(mode):
        return "is a symbolic link (refused: links are never followed)"
    if not stat.S_ISREG(mode):
        return "is not a regular file"
    return None


def read_bytes(path: Path, *, what: str = "", name: str | None = None) -> bytes | None:
    """The bytes of the regular file path; None when it does not exist. UnreadableFile
    (exit 2) naming it (`what path`, or `name`) when it is a link, not a regular file, or
    unreadable."""
    label = name or f"{what} {path}".strip()
    reason = file_problem(path)
    if reason == MISSING:
        return None
    if reason is not None:
        raise UnreadableFile(label, reason)
    try:
        # O_NOFOLLOW | O_NONBLOCK: a file swapped for a link or FIFO meanwhile fails here.
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
        with os.fdopen(fd, "rb") as handle:
            return handle.read()
    except OSError as exc:
        raise UnreadableFile(label, f"cannot be read: {exc.strerror or exc}") from None


def read_text(path: Path, *, what: str = "", name: str | None = None) -> str | None:
    """read_bytes as UTF-8 text; UnreadableFile naming the file when it is not UTF-8."""
    data = read_bytes(path, what=what, name=name)
    return None if data is None else decode(data, source=name or f"{what} {path}".strip())


def decode(data: bytes, *, source: str) -> str:
    """data as UTF-8; UnreadableFile (exit 2) naming source otherwise."""
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise UnreadableFile(
            source,
            f"is not UTF-8 text (byte {exc.start}: {data[exc.start : exc.start + 1]!r})",
            hint="the file is corrupt or binary; restore it from history or write it again",
        ) from None


def read_json(path: Path, *, what: str, missing_hint: str | None = None) -> Any:
    """The JSON document in the regular file path (`what path` names it in messages).

    InputError (exit 2) when it does not exist (with missing_hint), is a link, FIFO or
    directory, cannot be read, is not UTF-8 or not valid JSON (with line and column)."""
    label = f"{what} {path}".strip()
    text = read_text(path, what=what)
    if text is None:
        raise InputError(f"{label} does not exist", hint=missing_hint)
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise InputError(
            f"{label} is not valid JSON (line {exc.lineno}, column {exc.colno}): {exc.msg}"
        ) from None


def read_json_object(path: Path, *, what: str, missing_hint: str | None = None) -> dict[str, Any]:
    """read_json, which must give a JSON object (InputError naming the type otherwise)."""
    data = read_json(path, what=what, missing_hint=missing_hint)
    if not isinstance(data, dict):
        label = f"{what} {path}".strip()
        raise InputError(f"{label} must hold a JSON object, got {type(data).__name__}")
    return data
