"""A local forge server per test, with one GitLab project and one GitHub repository."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.support.forge_server import GITHUB_REPO, GITLAB_PROJECT, TOKEN, ForgeServer


@pytest.fixture
def forge() -> Iterator[ForgeServer]:
    with ForgeServer(token=TOKEN) as server:
        server.add_gitlab_project(GITLAB_PROJECT)
        server.add_github_repo(GITHUB_REPO)
        yield server
