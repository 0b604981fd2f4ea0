"""README.md stays true: its pipeline snippets are the files the template tests run."""

from __future__ import annotations

import re

import pytest

from tests.conftest import REPO

SNIPPET = re.compile(r"<!-- snippet: (?P<path>\S+) -->\n```\w*\n(?P<body>.*?)\n```", re.DOTALL)


def snippets() -> list[tuple[str, str]]:
    text = (REPO / "README.md").read_text(encoding="utf-8")
    return [(m["path"], m["body"]) for m in SNIPPET.finditer(text)]


def test_readme_starts_with_the_two_commands() -> None:
    lines = (REPO / "README.md").read_text(encoding="utf-8").splitlines()
    block = lines[lines.index("```bash") + 1 : lines.index("```bash") + 3]
    assert [line.split()[0] for line in block] == ["scripts/demo", "scripts/test"]
    assert "scripts/test" in (REPO / ".ci" / "run").read_text(encoding="utf-8")


def test_readme_has_a_snippet_for_each_ci_system() -> None:
    paths = [path for path, _ in snippets()]
    assert paths == [
        "examples/gitlab/.gitlab-ci.yml",
        "examples/github/ml.yml",
        "examples/jenkins/Jenkinsfile",
    ]


@pytest.mark.parametrize(("path", "body"), snippets(), ids=[p for p, _ in snippets()])
def test_readme_snippet_is_the_tested_example_file(path: str, body: str) -> None:
    assert body == (REPO / path).read_text(encoding="utf-8").rstrip(), (
        f"README.md's snippet of {path} drifted: copy the file into the README"
    )


def test_every_document_the_readme_links_exists() -> None:
    text = (REPO / "README.md").read_text(encoding="utf-8")
    for link in re.findall(r"\]\(((?:docs|examples|benchmarks|ci_plugins)/[^)#]+)", text):
        assert (REPO / link).exists(), link
