"""The one retry policy for every outside system (env-repo push, forge API, Kubernetes API).

Built on tenacity. Each caller says what is worth another try, how many tries and/or
until when, and how long to wait; the waiting always goes through the injected clock
(so that no test really sleeps) and never past the deadline. The last error is re-raised
unchanged, so callers translate it into our words with the number of tries.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, TypeVar

if TYPE_CHECKING:
    from tenacity import RetryCallState

    from ci_plugins.step import Clock

T = TypeVar("T")


@dataclass(frozen=True)
class Policy:
    """When to try again and how long to wait before the try after `attempt` failed."""

    retry_if: Callable[[BaseException], bool]
    wait: Callable[[int, BaseException], float]
    clock: Clock
    attempts: int | None = None  # at most this many tries
    deadline: float | None = None  # clock time after which no try starts
    on_retry: Callable[[int, BaseException, float], None] | None = None  # log the next try


def doubling(
    retry_if: Callable[[BaseException], bool], *, clock: Clock, attempts: int, cap: float = 4.0
) -> Policy:
    """attempts tries of what retry_if accepts, waiting 1 s, 2 s, 4 s... (at most cap)."""
    return Policy(
        retry_if=retry_if,
        wait=lambda attempt, _error: min(cap, 2.0 ** (attempt - 1)),
        clock=clock,
        attempts=attempts,
    )


class GaveUp(Exception):
    """Raised by call() around the last error: `.attempts` tries, the last error `.last`."""

    def __init__(self, last: BaseException, attempts: int) -> None:
        super().__init__(str(last))
        self.last = last
        self.attempts = attempts


def call(policy: Policy, fn: Callable[[int], T]) -> T:
    """fn(attempt) (1, 2, ...) until it returns, while policy.retry_if(error) holds.

    An error retry_if rejects is raised at once; when the tries or the time run out,
    GaveUp wraps the last error (with the number of tries)."""
    from tenacity import Retrying, retry_if_exception

    def stop(state: RetryCallState) -> bool:
        if policy.attempts is not None and state.attempt_number >= policy.attempts:
            return True
        return policy.deadline is not None and policy.clock.time() >= policy.deadline

    def wait(state: RetryCallState) -> float:
        seconds = policy.wait(state.attempt_number, _error_of(state))
        if policy.deadline is not None:
            seconds = min(seconds, policy.deadline - policy.clock.time())
        return max(0.0, seconds)

    def before_sleep(state: RetryCallState) -> None:
        if policy.on_retry is not None:
            delay = state.next_action.sleep if state.next_action else 0.0
            policy.on_retry(state.attempt_number, _error_of(state), delay)

    def give_up(state: RetryCallState) -> T:
        raise GaveUp(_error_of(state), state.attempt_number) from _error_of(state)

    retrying = Retrying(
        retry=retry_if_exception(policy.retry_if),
        stop=stop,
        wait=wait,
        sleep=policy.clock.sleep,
        before_sleep=before_sleep,
        retry_error_callback=give_up,
    )
    for attempt in retrying:
        with attempt:
            return fn(attempt.retry_state.attempt_number)
    raise AssertionError("unreachable")  # pragma: no cover


def _error_of(state: RetryCallState) -> BaseException:
    error = state.outcome.exception() if state.outcome else None
    assert error is not None
    return error
