"""docs/architecture.md's package map names every module of ci_plugins (one hop to any of it)."""

from __future__ import annotations

from pathlib import Path

from tests.support.cli import REPO

PACKAGE = REPO / "ci_plugins"


def package_map() -> str:
    text = (REPO / "docs" / "architecture.md").read_text(encoding="utf-8")
    start = text.index("## Package map")
    return text[start : text.index("\n## ", start + 1)]


def modules() -> list[Path]:
    return sorted(
        path.relative_to(PACKAGE)
        for path in PACKAGE.rglob("*.py")
        if path.name != "__init__.py" and "__pycache__" not in path.parts
    )


def named(module: Path, text: str) -> bool:
    """The module's path appears, or its directory row does and names the file."""
    if module.as_posix() in text:
        return True
    directory = f"`{module.parent.as_posix()}/`"
    return directory in text and (module.name == "__main__.py" or f"`{module.name}`" in text)


def test_the_package_map_names_every_module() -> None:
    text = package_map()
    missing = [str(module) for module in modules() if not named(module, text)]
    assert not missing, f"add a line to docs/architecture.md's package map for: {missing}"


def test_the_package_map_names_no_module_that_is_gone() -> None:
    text = package_map()
    rows = [line for line in text.splitlines() if line.startswith("| `")]
    listed = [row.split("`")[1] for row in rows]
    paths = [name.removeprefix("ci_plugins/") for name in listed if name.endswith((".py", "/"))]
    gone = [path for path in paths if not (PACKAGE / path).exists()]
    assert paths, "the package map lost its tables"
    assert not gone, f"docs/architecture.md's package map names what is gone: {gone}"
