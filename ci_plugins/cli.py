"""ci-plugins command line: argv -> step -> exit code, nothing else.

Every flag also reads CI_PLUGINS_<FLAG> (for --env-repo: CI_PLUGINS_ENV_REPO), so that
pipeline templates stay short. Steps are imported only when their command runs, so that
`--help` is fast and only `train` ever imports TensorFlow.
"""

from __future__ import annotations

import argparse
import importlib
import os
import signal
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from types import FrameType, ModuleType
from typing import TYPE_CHECKING, Any, NoReturn

from ci_plugins import __version__

if TYPE_CHECKING:
    from ci_plugins.output import Output

# One table: subcommand = step module = pipeline template name. A step is listed here
# only once it is built.
STEPS: dict[str, str] = {
    "train": "ci_plugins.steps.train",
    "gate": "ci_plugins.steps.gate",
    "package": "ci_plugins.steps.package",
    "render": "ci_plugins.steps.render",
    "promote": "ci_plugins.steps.promote",
    "verify": "ci_plugins.steps.verify",
    "rollback": "ci_plugins.steps.rollback",
    "unpin": "ci_plugins.steps.unpin",
    "status": "ci_plugins.steps.status",
    "comment": "ci_plugins.steps.comment",
    "validate": "ci_plugins.steps.validate",
    "monitor": "ci_plugins.steps.monitor",
}

TRUE_WORDS = {"1", "true", "yes", "on"}


def load_step(name: str) -> ModuleType:
    return importlib.import_module(STEPS[name])


class _Parser(argparse.ArgumentParser):
    """Adds flags whose default comes from CI_PLUGINS_<FLAG>."""

    json_requested = False  # set by main() from argv, so usage errors can answer in JSON

    def flag(self, name: str, *, required: bool = False, **kwargs: Any) -> None:
        env_name = "CI_PLUGINS_" + name.lstrip("-").upper().replace("-", "_")
        env_value = os.environ.get(env_name)
        help_text = kwargs.pop("help", "")
        help_text += f" [env: {env_name}]"
        convert = kwargs.get("type", str)
        try:
            if kwargs.get("action") == "store_true":
                kwargs["default"] = (env_value or "").lower() in TRUE_WORDS
            elif env_value and kwargs.get("action") == "append":  # comma-separated list
                kwargs["default"] = [convert(item) for item in env_value.split(",") if item]
            elif env_value:
                kwargs["default"] = convert(env_value)
        except ValueError:
            self.error(f"{env_name}={env_value!r} is not a valid value for {name}")
        self.add_argument(name, required=required and not env_value, help=help_text, **kwargs)

    def error(self, message: str) -> NoReturn:
        """Usage errors exit 2; with --json they also print the result object."""
        if self.json_requested or os.environ.get("CI_PLUGINS_JSON", "").lower() in TRUE_WORDS:
            import json

            command = self.prog.split()[-1] if " " in self.prog else None
            document = {"command": command, "ok": False, "exit_code": 2, "error": message}
            print(json.dumps(document, sort_keys=True), flush=True)
        super().error(message)


def _common(parser: _Parser) -> None:
    parser.flag(
        "--config", type=Path, metavar="FILE", help="config file (default: ci-plugins.yaml)"
    )
    parser.flag("--json", action="store_true", help="print a JSON result on stdout")
    parser.flag("--debug", action="store_true", help="show tracebacks for errors")


def _gate(p: _Parser) -> None:
    p.flag("--metrics", type=Path, metavar="FILE", required=True, help="metrics.json from train")
    p.flag("--policy", type=Path, metavar="FILE", help="policy file (default: gate: in config)")
    p.flag(
        "--baseline",
        type=Path,
        metavar="FILE",
        help="metrics.json or release.yaml of what runs now",
    )
    p.flag("--env-repo", metavar="URL", help="baseline: the release recorded in this repo...")
    p.flag("--env", metavar="ENV", help="... for this environment (not with --baseline)")
    p.flag("--report-dir", type=Path, metavar="DIR", help="write Markdown, JUnit, JSON reports")
    p.flag("--advisory", action="store_true", help="report only; never fail the job")


def _train(p: _Parser) -> None:
    p.flag("--output-dir", type=Path, metavar="DIR", required=True, help="where model/ goes")
    p.flag("--checkpoint-dir", type=Path, metavar="DIR", help="resume/save checkpoints here")
    p.flag("--epochs", type=int, metavar="N", help="override train.epochs")
    p.flag("--model-version", metavar="N", help="numeric version (default: UTC timestamp)")
    p.flag(
        "--require-gpu",
        action="store_true",
        help="fail (exit 3) without a GPU, as train.require_gpu: true (pipeline templates)",
    )
    p.flag(
        "--worker",
        action="store_true",
        help="train as one worker of a Kubernetes Job (TF_CONFIG from the Job; set by the Job)",
    )


def _package(p: _Parser) -> None:
    p.flag("--model-dir", type=Path, metavar="DIR", required=True, help="model/ from train")
    p.flag("--manifest", type=Path, metavar="FILE", required=True, help="model-manifest.json")
    p.flag("--registry", metavar="REF", help="OCI repository to push to")


def _render(p: _Parser) -> None:
    p.flag("--manifest", type=Path, metavar="FILE", required=True, help="model-manifest.json")
    p.flag("--env", metavar="ENV", required=True, help="environment from ci-plugins.yaml")
    p.flag("--output-dir", type=Path, metavar="DIR", required=True, help="rendered manifests")
    p.flag(
        "--diff-against",
        type=Path,
        metavar="DIR",
        help="an earlier render: summarise what changes (Markdown, step summary)",
    )
    p.flag(
        "--diff-against-env",
        action="store_true",
        help="summarise what changes against what the environment repo records for --env",
    )
    p.flag("--env-repo", metavar="URL", help="for --diff-against-env (default: env_repo.url)")


def _promote(p: _Parser) -> None:
    p.flag("--env-repo", metavar="URL", help="environment repo (default: env_repo.url)")
    p.flag("--env", metavar="ENV", help="environment to write the rendered release to")
    p.flag("--rendered", type=Path, metavar="DIR", help="output of ci-plugins render")
    p.flag("--manifest", type=Path, metavar="FILE", help="model-manifest.json")
    p.flag("--from-env", metavar="ENV", help="promote the release recorded in this environment")
    p.flag("--to-env", metavar="ENV", help="... into this environment")
    p.flag(
        "--allow-downgrade",
        action="store_true",
        help="promote even when the environment runs a newer model",
    )


def _verify(p: _Parser) -> None:
    p.flag("--env", metavar="ENV", required=True, help="environment to verify")
    p.flag("--env-repo", metavar="URL", help="environment repo (default: env_repo.url)")
    p.flag("--app", metavar="APP", help="only this app (default: the config's app)")
    p.flag("--kubeconfig", type=Path, metavar="FILE", help="default: KUBECONFIG")
    p.flag("--timeout", type=float, metavar="SECONDS", help="give up after this long")
    p.flag("--report-dir", type=Path, metavar="DIR", help="write Markdown, JUnit, JSON reports")
    p.flag(
        "--rollback-on-failure",
        action="store_true",
        help="on failure or timeout, roll the environment back (exit 1 either way)",
    )


def _rollback(p: _Parser) -> None:
    p.flag("--env-repo", metavar="URL", help="environment repo (default: env_repo.url)")
    p.flag("--env", metavar="ENV", required=True, help="environment to roll back")
    p.flag("--app", metavar="APP", help="app to roll back (default: the config's app)")


def _unpin(p: _Parser) -> None:
    p.flag("--env-repo", metavar="URL", help="environment repo (default: env_repo.url)")
    p.flag("--env", metavar="ENV", required=True, help="environment to unpin the app in")
    p.flag("--app", metavar="APP", help="app to unpin (default: the config's app)")


def _validate(p: _Parser) -> None:
    p.flag("--repo", type=Path, metavar="DIR", help="environment repo checkout (default: .)")
    p.flag("--base", metavar="REF", help="target branch of the merge request: check only changes")
    p.flag("--report-dir", type=Path, metavar="DIR", help="write Markdown, JUnit, JSON reports")
    p.flag("--allow-downgrade", action="store_true", help="accept an older model version")


def _monitor(p: _Parser) -> None:
    p.flag("--env", metavar="ENV", required=True, help="environment whose live model to judge")
    p.flag("--env-repo", metavar="URL", help="environment repo (default: env_repo.url)")
    p.flag("--app", metavar="APP", help="app to judge (default: the config's app)")
    p.flag("--prometheus", metavar="URL", help="Prometheus (default: monitor.prometheus)")
    p.flag("--at", metavar="TIME", help="judge the windows ending then (unix or ISO; default: now)")
    p.flag("--report-dir", type=Path, metavar="DIR", help="write Markdown and JSON reports")


def _status(p: _Parser) -> None:
    p.flag("--env-repo", metavar="URL", help="environment repo (default: env_repo.url)")
    p.flag("--env", metavar="ENV", help="only this environment")
    p.flag("--app", metavar="APP", help="only this app")
    p.flag("--history", action="store_true", help="list past releases from the repo's log")


def _comment(p: _Parser) -> None:
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


ARGUMENTS: dict[str, Callable[[_Parser], None]] = {
    "comment": _comment,
    "train": _train,
    "gate": _gate,
    "package": _package,
    "render": _render,
    "promote": _promote,
    "verify": _verify,
    "rollback": _rollback,
    "unpin": _unpin,
    "status": _status,
    "validate": _validate,
    "monitor": _monitor,
}

SUMMARIES: dict[str, str] = {
    "train": "train the model; write model/, metrics.json, model-manifest.json",
    "gate": "gate on evaluation metrics: absolute bounds and no regression",
    "package": "push the model as an OCI artifact pinned by digest",
    "render": "render the Helm chart for an environment with helm template",
    "promote": "commit rendered manifests and a release record to the environment repo",
    "verify": "wait until the cluster runs the committed release and it is healthy",
    "rollback": "restore the last healthy release with a new commit, and pin it",
    "unpin": "let automatic promotions into an environment resume after a rollback",
    "status": "show what runs in each environment, and why",
    "comment": "post reports as one merge/pull request comment, updated in place",
    "validate": "check an environment repo change: manifests, release records, no downgrade",
    "monitor": "judge the live model; when it degrades, start retraining once",
}

EPILOG = """exit codes: 0 done/passed/healthy, 1 a check said no, 2 bad input,
3 an outside system failed, 4 a bug in ci-plugins, 130 interrupted"""


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="ci-plugins",
        description="GitOps CI/CD for ML models: train, gate, render, promote, verify, roll back.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"ci-plugins {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name in STEPS:
        sub = commands.add_parser(
            name,
            help=SUMMARIES[name],
            description=SUMMARIES[name].capitalize() + ".",
            epilog=EPILOG,
            formatter_class=argparse.RawDescriptionHelpFormatter,
        )
        assert isinstance(sub, _Parser)
        ARGUMENTS[name](sub)
        _common(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    signal.signal(signal.SIGTERM, _interrupt)
    argv = list(sys.argv[1:] if argv is None else argv)
    _Parser.json_requested = "--json" in argv
    args = build_parser().parse_args(argv)
    from ci_plugins.output import Output

    out = Output()
    try:
        code = _run(args, out)
    except KeyboardInterrupt:
        out.error("interrupted; stopped before anything was half-written")
        code = 130
        _print_json(args, {"ok": False, "exit_code": code, "error": "interrupted"})
    return code


def _run(args: argparse.Namespace, out: Output) -> int:
    import traceback

    from ci_plugins.errors import CiPluginsError
    from ci_plugins.step import StepContext, StepResult

    try:
        module = load_step(args.command)
        options = _options(module, args)
        config = args.config or Path("ci-plugins.yaml")
        ctx = StepContext(config_path=config, out=out, config_explicit=args.config is not None)
        result: StepResult = module.run(ctx, options)
    except CiPluginsError as exc:
        if args.debug:
            traceback.print_exc()
        out.error(str(exc), hint=exc.hint)
        _print_json(args, {"ok": False, "exit_code": exc.exit_code, "error": str(exc)})
        return exc.exit_code
    except (KeyboardInterrupt, SystemExit):
        raise
    except Exception as exc:
        traceback.print_exc()
        out.error(
            f"ci-plugins {__version__} hit a bug ({type(exc).__name__}); please report it "
            "with the traceback above"
        )
        _print_json(args, {"ok": False, "exit_code": 4, "error": repr(exc)})
        return 4
    if result.outputs:
        out.set_outputs(result.outputs)
    if result.summary:
        out.add_summary(result.summary)
    (out.info if result.ok else out.error)(result.message)
    _print_json(args, {"ok": result.ok, "exit_code": result.exit_code, **result.data})
    return result.exit_code


def _options(module: ModuleType, args: argparse.Namespace) -> Any:
    import dataclasses

    names = [field.name for field in dataclasses.fields(module.Options)]
    return module.Options(**{name: getattr(args, name) for name in names})


def _print_json(args: argparse.Namespace, payload: dict[str, Any]) -> None:
    if getattr(args, "json", False):
        import json

        from ci_plugins.redact import redact

        document = {"command": args.command, **payload}
        print(redact(json.dumps(document, sort_keys=True, default=str)), flush=True)


def _interrupt(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt


def entrypoint() -> None:
    sys.exit(main())
