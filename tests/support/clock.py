"""The one fake clock: `time()` and `sleep()` for code that takes a Clock, never waiting."""

from __future__ import annotations

import pytest


class FakeClock:
    """Starts at `now`; sleep() records each wait and advances the time by it."""

    def __init__(self, now: float = 0.0) -> None:
        self.now = now
        self.sleeps: list[float] = []

    def time(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


@pytest.fixture
def clock() -> FakeClock:
    """A FakeClock at 0."""
    return FakeClock()
