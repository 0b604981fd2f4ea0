"""`python -m ci_plugins` runs the CLI."""

from ci_plugins.cli import entrypoint

entrypoint()
