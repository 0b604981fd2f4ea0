"""What the rules tolerate, and for how long: the verify: thresholds, two switches, and the
no-model grace (a few seconds, so not a config key)."""

from __future__ import annotations

from pydantic import Field

from ci_plugins.config.models import RuleThresholds, VerifyConfig


class Policy(RuleThresholds):
    """The thresholds (defaults in config.models.RuleThresholds) and rule switches."""

    ondelete_requires_updated: bool = True
    require_auto_sync: bool = Field(default=False, description="verify.controller's switch")
    no_model_grace: float = Field(
        default=3.0,
        ge=0,
        description="a serving container may log that it has no model version this long",
    )


def policy_of(vcfg: VerifyConfig) -> Policy:
    """The policy the verify: section asks for."""
    thresholds = {name: getattr(vcfg, name) for name in RuleThresholds.model_fields}
    auto_sync = vcfg.controller.require_auto_sync if vcfg.controller else False
    return Policy(**thresholds, require_auto_sync=auto_sync)


DEFAULT_POLICY = Policy()
