"""Shared test helpers, registered as plugins: their fixtures are visible to every test.

Import plain helpers (`REPO`, `write_json`, `FakeClock`, `make_bare_repo`, ...) from the
`tests.support` modules; fixtures (`cli`, `clock`, `env_repo`, `http_git`, `verify_env`)
need no import.
"""

pytest_plugins = [
    "tests.support.cli",
    "tests.support.clock",
    "tests.support.envrepo",
    "tests.support.verify",
]
