"""reports in process: JUnit XML, Markdown tables, atomic and redacted report files."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from ci_plugins import reports
from ci_plugins.errors import InputError
from ci_plugins.reports import junit_xml, markdown_table, to_json, write_reports


def test_junit_xml_counts_failures_and_carries_messages() -> None:
    text = junit_xml(
        "ci-plugins gate",
        [
            reports.TestCase("accuracy", "min", None, "0.95 >= 0.9"),
            reports.TestCase("loss", "max", "loss 0.5 > 0.4", "details"),
        ],
    )
    root = ET.fromstring(text.split("\n", 1)[1])
    suite = root.find("testsuite")
    assert suite is not None
    assert (root.get("tests"), root.get("failures")) == ("2", "1")
    assert (suite.get("name"), suite.get("errors")) == ("ci-plugins gate", "0")
    passed, failed = suite.findall("testcase")
    assert passed.findtext("system-out") == "0.95 >= 0.9"
    failure = failed.find("failure")
    assert failure is not None
    assert failure.get("message") == "loss 0.5 > 0.4"
    assert failure.text == "details"
    assert text.startswith("<?xml")


def test_junit_xml_redacts_secrets() -> None:
    text = junit_xml(
        "s", [reports.TestCase("c", "n", "push to https://u:glpat-abcdefghij12@h/x failed")]
    )
    assert "glpat-" not in text
    assert "https://****@h/x" in text


def test_markdown_table_escapes_pipes() -> None:
    assert markdown_table(["a", "b"], [["1", "x|y"]]) == "| a | b |\n| --- | --- |\n| 1 | x\\|y |"


def test_write_reports_writes_redacted_files_and_no_temporaries(tmp_path: Path) -> None:
    target = tmp_path / "reports" / "nested"
    written = write_reports(target, {"r.md": "token ghp_" + "c" * 36 + "\n", "r.json": "{}\n"})
    assert written == [target / "r.md", target / "r.json"]
    assert (target / "r.md").read_text() == "token ****\n"
    assert sorted(p.name for p in target.iterdir()) == ["r.json", "r.md"]


def test_write_reports_into_an_unusable_directory_is_an_input_error(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    with pytest.raises(InputError, match="cannot create report directory") as raised:
        write_reports(blocker / "reports", {"r.md": "x"})
    assert raised.value.exit_code == 2


def test_to_json_is_sorted_indented_and_ends_with_a_newline() -> None:
    text = to_json({"b": 1, "a": Path("x")})
    assert json.loads(text) == {"a": "x", "b": 1}
    assert text == '{\n  "a": "x",\n  "b": 1\n}\n'
