"""SIGTERM and SIGINT for the CLI: exit 130 ("interrupted") from the first line to the last.

- `install_early()` runs before anything else is imported (`python -m ci_plugins` and the
  console script): until the CLI takes over, SIGTERM exits 130 at once; nothing has been
  started that could be half-written (#17).
- `install()` (the CLI's main): SIGTERM raises KeyboardInterrupt like ^C, so every
  `finally` and context manager cleans up (temporary clones, staging directories), and the
  CLI exits 130.
- `held()`: around a push. A signal that arrives while git pushes waits until the push
  has an outcome: pushed, and the signal is only noted (see `defer`); not pushed, and it
  interrupts (exit 130). So 130 always means "nothing was pushed".
- `defer()`: called right after an irreversible action succeeded (a push). From then on a
  signal is only noted, the command finishes reporting what it did, and its exit code says
  what happened (0 after a successful promotion), not "interrupted".
- `settle()`: before the interpreter exits, SIGTERM is ignored, so that the outcome can no
  longer be turned into a death by signal (-15) during finalization.
"""

from __future__ import annotations

import os
import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from types import FrameType

EXIT_INTERRUPTED = 130
_noted: list[int] = []
_cli: list[bool] = []  # non-empty once the CLI installed its handlers (not in library use)


def install_early() -> None:
    """Until the CLI runs: SIGTERM exits 130 immediately (nothing to clean up yet)."""
    signal.signal(signal.SIGTERM, _exit_now)


Handlers = tuple[object, object]


def install() -> Handlers:
    """SIGTERM raises KeyboardInterrupt (as SIGINT does), so clean-up code runs; returns
    the handlers it replaced, for `restore`."""
    _noted.clear()
    _cli[:] = [True]
    previous = (signal.getsignal(signal.SIGTERM), signal.getsignal(signal.SIGINT))
    signal.signal(signal.SIGTERM, _interrupt)
    signal.signal(signal.SIGINT, signal.default_int_handler)
    return previous


def restore(previous: Handlers) -> None:
    """Put back what `install` replaced (the CLI called in-process, as tests do)."""
    _cli.clear()
    term, interrupt = previous
    signal.signal(signal.SIGTERM, term if term is not None else signal.SIG_DFL)  # type: ignore[arg-type]
    signal.signal(signal.SIGINT, interrupt if interrupt is not None else signal.SIG_DFL)  # type: ignore[arg-type]


def defer() -> None:
    """After an irreversible success: note SIGTERM/SIGINT instead of interrupting.

    Only under the CLI, in its main thread; a no-op where ci-plugins is used as a library.
    """
    if not _cli or threading.current_thread() is not threading.main_thread():
        return
    signal.signal(signal.SIGTERM, _note)
    signal.signal(signal.SIGINT, _note)


@contextmanager
def held() -> Iterator[None]:
    """Hold SIGTERM/SIGINT until the block ends; deferred (noted) when it succeeded.

    Only under the CLI, in its main thread; elsewhere the block just runs.
    """
    if not _cli or threading.current_thread() is not threading.main_thread():
        yield
        return
    mask = {signal.SIGTERM, signal.SIGINT}
    signal.pthread_sigmask(signal.SIG_BLOCK, mask)
    try:
        yield
        defer()
    finally:
        signal.pthread_sigmask(signal.SIG_UNBLOCK, mask)  # a pending signal lands here


def noted() -> list[str]:
    """Names of the signals that arrived while deferred."""
    return [signal.Signals(number).name for number in _noted]


def settle() -> None:
    """From here to the process's end, SIGTERM and SIGINT change nothing."""
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    signal.signal(signal.SIGINT, signal.SIG_IGN)


def _exit_now(signum: int, frame: FrameType | None) -> None:
    os._exit(EXIT_INTERRUPTED)


def _interrupt(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt


def _note(signum: int, frame: FrameType | None) -> None:
    _noted.append(signum)
