"""Post Markdown reports as one merge request note / pull request comment, updated in place."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from ci_plugins.errors import InputError
from ci_plugins.step import StepContext, StepResult


@dataclass(frozen=True)
class Options:
    body_file: list[Path]
    marker: str = "report"
    change_request: int | None = None


def run(ctx: StepContext, options: Options) -> StepResult:
    """Join the report files and upsert our one comment (found by its marker) on the MR/PR."""
    from ci_plugins.adapters.forge import upsert_report_comment

    body = "\n\n".join(_read(path) for path in options.body_file)
    config = ctx.optional_config()
    url = upsert_report_comment(
        config=config.env_repo if config else None,
        environ=ctx.out.environ,
        change_request=options.change_request,
        marker=f"<!-- ci-plugins:{options.marker} -->",
        body=body,
        clock=ctx.clock,
    )
    return StepResult.passed(
        f"report posted: {url}", data={"url": url}, outputs={"comment_url": url}
    )


def _read(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8").strip()
    except FileNotFoundError:
        raise InputError(f"report file {path} does not exist") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"cannot read report file {path}: {exc}") from None
