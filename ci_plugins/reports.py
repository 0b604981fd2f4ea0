"""Report files every CI system shows: JUnit XML, Markdown, JSON."""

from __future__ import annotations

import json
import os
import tempfile
import xml.etree.ElementTree as ET
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ci_plugins.errors import InputError
from ci_plugins.redact import redact


@dataclass(frozen=True)
class TestCase:
    """One JUnit testcase: a check that passed, or failed with a message."""

    classname: str
    name: str
    failure: str | None = None
    details: str = ""


def junit_xml(suite: str, cases: Sequence[TestCase]) -> str:
    """A JUnit XML document with one testsuite (GitLab, GitHub and Jenkins all read it)."""
    failures = sum(1 for case in cases if case.failure is not None)
    root = ET.Element("testsuites", tests=str(len(cases)), failures=str(failures))
    element = ET.SubElement(
        root, "testsuite", name=suite, tests=str(len(cases)), failures=str(failures), errors="0"
    )
    for case in cases:
        node = ET.SubElement(element, "testcase", classname=case.classname, name=case.name)
        if case.failure is not None:
            failure = ET.SubElement(node, "failure", message=redact(case.failure))
            failure.text = redact(case.details or case.failure)
        elif case.details:
            ET.SubElement(node, "system-out").text = redact(case.details)
    ET.indent(root)
    return ET.tostring(root, encoding="unicode", xml_declaration=True) + "\n"


def markdown_table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    """A GitHub/GitLab-flavoured Markdown table; pipes in cells are escaped."""

    def line(cells: Sequence[str]) -> str:
        return "| " + " | ".join(str(cell).replace("|", "\\|") for cell in cells) + " |"

    return "\n".join([line(header), line(["---"] * len(header)), *(line(row) for row in rows)])


def write_reports(directory: Path, files: dict[str, str]) -> list[Path]:
    """Write report files atomically into directory; InputError if it cannot be created."""
    try:
        directory.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise InputError(f"cannot create report directory {directory}: {exc}") from None
    written = []
    for name, text in files.items():
        target = directory / name
        fd, tmp = tempfile.mkstemp(dir=directory, prefix=f".{name}.")
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(redact(text))
        Path(tmp).replace(target)
        written.append(target)
    return written


def to_json(data: Any) -> str:
    return json.dumps(data, indent=2, sort_keys=True, default=str) + "\n"
