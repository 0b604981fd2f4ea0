"""ci-plugins command line: argv -> step -> exit code, nothing else.

Every flag also reads CI_PLUGINS_<FLAG> (for --env-repo: CI_PLUGINS_ENV_REPO), so that
pipeline templates stay short. Steps are imported only when their command runs, so that
`--help` is fast and only `train` ever imports TensorFlow.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING, Any, NoReturn

from ci_plugins import __version__, signals

if TYPE_CHECKING:
    from ci_plugins.output import Output

# The one table of commands: subcommand = step module = pipeline template name. Everything
# else about a command lives in its module: the first line of its docstring is the
# summary (`--help`), `arguments(p)` declares its flags, `Options` and `run` do the work.
# A step is listed here only once it is built.
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
    "analyze": "ci_plugins.steps.analyze",
    "rollout": "ci_plugins.steps.rollout",
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
        except (ValueError, argparse.ArgumentTypeError) as exc:
            self.error(f"{env_name}={env_value!r} is not a valid value for {name}: {exc}")
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


EPILOG = """exit codes: 0 done/passed/healthy, 1 a check said no, 2 bad input,
3 an outside system failed, 4 a bug in ci-plugins, 130 interrupted"""


def build_parser(argv: Sequence[str] = ()) -> argparse.ArgumentParser:
    """The parser for argv: only the chosen command's module is imported (for its flags),
    so that start-up stays fast and only `train` ever imports TensorFlow."""
    parser = _Parser(
        prog="ci-plugins",
        description="GitOps CI/CD for ML models: train, gate, render, promote, verify, roll back.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"ci-plugins {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    chosen = next((arg for arg in argv if not arg.startswith("-")), None)
    for name in STEPS:
        module = importlib.import_module(STEPS[name]) if name == chosen else None
        if module is not None:
            head = _summary_line(module.__doc__ or "")
        elif chosen in STEPS:
            head = ""  # another command runs: its summary is never shown
        else:
            head = _summary_line(_source_docstring(name))
        sub = commands.add_parser(
            name,
            help=head[:1].lower() + head[1:].rstrip("."),
            description=head,
            epilog=EPILOG,
            formatter_class=argparse.RawDescriptionHelpFormatter,
        )
        assert isinstance(sub, _Parser)
        if module is not None:
            module.arguments(sub)
        _common(sub)
    return parser


def _summary_line(docstring: str) -> str:
    """The first line of a step module's docstring: the command's summary."""
    return docstring.strip().split("\n", 1)[0].strip()


def _source_docstring(name: str) -> str:
    """A step module's docstring read from its source, without importing the module."""
    from importlib.util import find_spec

    spec = find_spec(STEPS[name])
    if spec is None or spec.origin is None:
        return ""
    text = Path(spec.origin).read_text(encoding="utf-8")
    if text.startswith('"""'):  # every step module starts with its docstring
        return text[3:].split('"""', 1)[0]
    import ast

    return ast.get_docstring(ast.parse(text)) or ""


def main(argv: Sequence[str] | None = None, *, settle: bool = False) -> int:
    """Run one command; SIGTERM and ^C anywhere in it exit 130 (ci_plugins.signals).

    settle: ignore signals once the exit code is known (the console script); otherwise
    the caller's handlers are put back.
    """
    previous = signals.install()
    try:
        return _main(argv)
    finally:
        signals.settle() if settle else signals.restore(previous)


def _main(argv: Sequence[str] | None) -> int:
    args: argparse.Namespace | None = None
    try:
        from ci_plugins.output import Output

        out = Output()
        argv = list(sys.argv[1:] if argv is None else argv)
        _Parser.json_requested = "--json" in argv
        args = build_parser(argv).parse_args(argv)
        code = _run(args, out)
        if signals.noted():
            out.info(
                f"{', '.join(signals.noted())} arrived after the change was pushed; "
                "finished reporting it instead of stopping"
            )
    except KeyboardInterrupt:
        code = signals.EXIT_INTERRUPTED
        from ci_plugins.output import Output

        Output().error("interrupted; stopped before anything was half-written")
        if args is not None:
            _print_json(args, {"ok": False, "exit_code": code, "error": "interrupted"})
    signals.defer()  # the exit code is known: a signal from here on cannot change it
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


def entrypoint() -> None:
    """The console script: exit with main()'s code; signals can no longer change it."""
    signals.install_early()
    code = main(settle=True)
    _exit_before_stragglers(code)
    sys.exit(code)


def _exit_before_stragglers(code: int) -> None:
    """Exit at once when a daemon thread is still busy (a watch the server holds open).

    The interpreter's shutdown tears such a thread down in the middle of the Kubernetes
    client's compiled (pydantic-core) frames, which aborts the process (SIGABRT, exit
    134) after the verdict was printed (#17). Everything is flushed first; the exit code
    stays the command's.
    """
    import threading

    if any(t.daemon and t.is_alive() for t in threading.enumerate()):
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)
