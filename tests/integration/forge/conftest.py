"""A local forge server per test, with one GitLab project and one GitHub repository."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.support.envrepo import env_repo
from tests.support.forge_server import ForgeServer

__all__ = ["clock", "env_repo", "forge"]

TOKEN = "s3cret-forge-token-0123456789"
GITLAB_PROJECT = "platform/environments"
GITHUB_REPO = "acme/environments"


class FakeClock:
    """Records sleeps instead of sleeping."""

    def __init__(self) -> None:
        self.now = 0.0
        self.sleeps: list[float] = []

    def time(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


@pytest.fixture
def forge() -> Iterator[ForgeServer]:
    with ForgeServer(token=TOKEN) as server:
        server.add_gitlab_project(GITLAB_PROJECT)
        server.add_github_repo(GITHUB_REPO)
        yield server


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()
