"""README.md stays true: its pipeline snippets are the files the template tests run."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest

from tests.support.cli import REPO

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


LINK = re.compile(r"!?\[[^\]]*\]\(([^)\s]+)\)")
FENCE = re.compile(r"^(```|~~~).*?^\1", re.DOTALL | re.MULTILINE)
EXTERNAL = ("http://", "https://", "mailto:")


def documents() -> list[Path]:
    return [
        REPO / "README.md",
        REPO / "emulator" / "README.md",
        *sorted((REPO / "docs").glob("*.md")),
    ]


def relative_links(document: Path) -> list[str]:
    """The relative link targets of a Markdown file, outside fenced code blocks."""
    text = FENCE.sub("", document.read_text(encoding="utf-8"))
    text = re.sub(r"`[^`\n]*`", lambda m: m[0] if "](" in m[0] else "", text)
    return [target for target in LINK.findall(text) if not target.startswith(EXTERNAL)]


def anchors(document: Path) -> set[str]:
    """GitHub's heading anchors: lower case, punctuation dropped, spaces to hyphens."""
    text = FENCE.sub("", document.read_text(encoding="utf-8"))
    seen: dict[str, int] = {}
    found = set()
    for heading in re.findall(r"^#{1,6} +(.+?) *#*$", text, re.MULTILINE):
        slug = re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")
        count = seen.get(slug, 0)
        seen[slug] = count + 1
        found.add(slug if count == 0 else f"{slug}-{count}")
    return found


@pytest.mark.parametrize("document", documents(), ids=lambda p: str(p.relative_to(REPO)))
def test_every_relative_link_in_the_docs_resolves(document: Path) -> None:
    broken = []
    for target in relative_links(document):
        path, _, anchor = target.partition("#")
        resolved = (document.parent / path).resolve() if path else document
        if not resolved.exists():
            broken.append(f"{target}: no such file")
        elif anchor and resolved.suffix == ".md" and anchor not in anchors(resolved):
            broken.append(f"{target}: no heading #{anchor} in {resolved.name}")
    assert not broken, f"{document.relative_to(REPO)} has broken links: {broken}"


def test_the_link_check_sees_anchors_and_links() -> None:
    architecture = REPO / "docs" / "architecture.md"
    assert "exit-codes" in anchors(architecture)
    assert "config-keys-of-the-later-steps" in anchors(architecture)
    assert "readiness.md" in relative_links(architecture)
    assert "docs/architecture.md" in relative_links(REPO / "README.md")


def test_nothing_in_the_repository_points_outside_it() -> None:
    # The house documents outside the repository; spelled so that this file is no match.
    outside = re.compile(r"\.\.[/]shared|work[/]shared|\bARCHITECTURE\.md|\bREADINESS\.md")
    listed = subprocess.run(
        ["git", "ls-files", "--cached", "--others", "--exclude-standard", "-z"],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split("\0")
    files = [REPO / name for name in listed if name and (REPO / name).is_file()]
    assert REPO / "README.md" in files
    offenders = [
        str(path.relative_to(REPO))
        for path in files
        if outside.search(path.read_text(encoding="utf-8", errors="replace"))
    ]
    assert not offenders, offenders
