#!/usr/bin/env bash
# Shared by the composite actions: install ci-plugins pinned to the action's version (unless
# the `install` input says otherwise or it is already there), then run one step. Every input
# arrives as a CI_PLUGINS_* environment variable; the CLI reads them (no logic here). With
# CI_PLUGINS_RETRIES=N (the rollout action), exit code 3 (an outside system failed) is retried
# up to N times; every other exit code is final.
set -euo pipefail
if [ -n "${CI_PLUGINS_INSTALL:-}" ]; then
  bash -c "$CI_PLUGINS_INSTALL"
else
  python3 -m pip install --quiet "ci-plugins${CI_PLUGINS_EXTRAS:-}==${CI_PLUGINS_PIN:?}"
fi
retries="${CI_PLUGINS_RETRIES:-0}"
attempt=0
while true; do
  status=0
  ci-plugins "$@" || status=$?
  if [ "$status" -ne 3 ] || [ "$attempt" -ge "$retries" ]; then
    exit "$status"
  fi
  attempt=$((attempt + 1))
  echo "ci-plugins $1: an outside system failed (exit code 3); retry $attempt of $retries" >&2
done
