"""Post reports as one merge/pull request comment, updated in place.

The Markdown files become one merge request note (GitLab) or pull request comment
(GitHub), found again by its marker and edited instead of posted twice.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from ci_plugins.errors import InputError
from ci_plugins.step import Flags, StepContext, StepResult


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


def arguments(p: Flags) -> None:
    """The command's flags (each also read from CI_PLUGINS_<FLAG>)."""
    p.flag(
        "--body-file",
        type=Path,
        metavar="FILE",
        action="append",
        required=True,
        help="Markdown file to post (repeat to join several, e.g. gate and render reports)",
    )
    p.flag("--marker", metavar="NAME", default="report", help="which of our comments to update")
    p.flag(
        "--change-request",
        type=int,
        metavar="N",
        help="MR iid / PR number (default: from the CI variables)",
    )
