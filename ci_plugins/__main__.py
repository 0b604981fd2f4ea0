"""`python -m ci_plugins` runs the CLI."""

from ci_plugins import signals

signals.install_early()  # before the CLI's imports: a SIGTERM now is exit 130 too

from ci_plugins.cli import entrypoint  # noqa: E402

entrypoint()
