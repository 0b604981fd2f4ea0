#!/usr/bin/env bash
# Shared by the composite actions: install ci-plugins pinned to the action's version (unless
# the `install` input says otherwise or it is already there), then run one step. Every input
# arrives as a CI_PLUGINS_* environment variable; the CLI reads them (no logic here).
set -euo pipefail
if [ -n "${CI_PLUGINS_INSTALL:-}" ]; then
  bash -c "$CI_PLUGINS_INSTALL"
else
  python3 -m pip install --quiet "ci-plugins${CI_PLUGINS_EXTRAS:-}==${CI_PLUGINS_PIN:?}"
fi
exec ci-plugins "$@"
