"""Budgets, grace windows and switches of the rules, with docs/readiness.md's defaults."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Policy:
    """What the rules tolerate, and for how long (seconds)."""

    missing_grace: float = 60.0
    spec_drift_grace: float = 60.0
    replicafailure_grace: float = 30.0
    image_pull_grace: float = 180.0
    config_grace: float = 30.0
    unschedulable_grace: float = 120.0
    scale_up_grace: float = 900.0
    hpa_metrics_grace: float = 120.0
    app_condition_grace: float = 60.0
    unknown_grace: float = 60.0
    admission_failures_max: int = 3
    tolerate_oom_restarts: int = 0
    fail_on_paused: bool = True
    require_terminated_old_pods: bool = False
    ondelete_requires_updated: bool = True
    require_auto_sync: bool = False


DEFAULT_POLICY = Policy()
