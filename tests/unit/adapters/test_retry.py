"""The one retry policy: what is retried, how often, how long, with an injected clock."""

from __future__ import annotations

import pytest

from ci_plugins.adapters.retry import GaveUp, Policy, call
from tests.support.clock import FakeClock


class Flaky(Exception):
    pass


def failing_until(succeed_at: int) -> object:
    def fn(attempt: int) -> str:
        if attempt < succeed_at:
            raise Flaky(f"try {attempt}")
        return f"ok after {attempt}"

    return fn


def policy(clock: FakeClock, **kwargs: object) -> Policy:
    return Policy(
        retry_if=lambda exc: isinstance(exc, Flaky),
        wait=lambda attempt, _exc: float(attempt),
        clock=clock,
        **kwargs,  # type: ignore[arg-type]
    )


def test_retries_until_success_sleeping_only_on_the_clock() -> None:
    clock = FakeClock()
    retries: list[tuple[int, float]] = []
    found = call(
        policy(clock, attempts=5, on_retry=lambda n, _e, d: retries.append((n, d))),
        failing_until(3),  # type: ignore[arg-type]
    )
    assert found == "ok after 3"
    assert clock.sleeps == [1.0, 2.0]
    assert retries == [(1, 1.0), (2, 2.0)]


def test_gives_up_after_the_attempts_with_the_last_error() -> None:
    clock = FakeClock()
    with pytest.raises(GaveUp) as info:
        call(policy(clock, attempts=3), failing_until(99))  # type: ignore[arg-type]
    assert info.value.attempts == 3
    assert str(info.value.last) == "try 3"
    assert clock.sleeps == [1.0, 2.0]


def test_never_waits_past_the_deadline() -> None:
    clock = FakeClock()
    with pytest.raises(GaveUp) as info:
        call(policy(clock, deadline=4.0), failing_until(99))  # type: ignore[arg-type]
    assert clock.sleeps == [1.0, 2.0, 1.0]
    assert clock.now == 4.0
    assert info.value.attempts == 4


def test_other_errors_are_raised_at_once() -> None:
    clock = FakeClock()

    def fn(attempt: int) -> str:
        raise KeyError("not transient")

    with pytest.raises(KeyError):
        call(policy(clock, attempts=5), fn)
    assert clock.sleeps == []
