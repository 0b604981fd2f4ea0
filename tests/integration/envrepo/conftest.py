"""Fixtures for the environment-repo tests: real bare repos and a git smart-HTTP server."""

from tests.support.envrepo import env_repo, http_git

__all__ = ["env_repo", "http_git"]
