"""Which Service the load and the model check talk to when a canary renders a Service per
track (traffic: gateway-api or istio): the model's own Service, over both tracks."""

from __future__ import annotations

from typing import Any

from ci_plugins.config.models import ModelCheckConfig
from ci_plugins.verify.serving import find_target


def service(name: str, **selector: str) -> dict[str, Any]:
    return {
        "kind": "Service",
        "metadata": {"name": name, "namespace": "ml-prod"},
        "spec": {
            "selector": {"app.kubernetes.io/name": "model-server", **selector},
            "ports": [{"name": "http", "port": 8501}],
        },
    }


def test_the_service_over_both_tracks_is_the_target_not_a_track_service() -> None:
    deployment = {
        "kind": "Deployment",
        "metadata": {"name": "digits-model-server"},
        "spec": {"template": {"metadata": {"annotations": {"ci-plugins.dev/model-version": "7"}}}},
    }
    # file order puts the track Services first, as render names them
    objects = {
        ("Deployment", "ml-prod", "digits-model-server"): deployment,
        ("Service", "ml-prod", "digits-model-server-candidate"): service(
            "digits-model-server-candidate", **{"ci-plugins.dev/track": "candidate"}
        ),
        ("Service", "ml-prod", "digits-model-server-stable"): service(
            "digits-model-server-stable", **{"ci-plugins.dev/track": "stable"}
        ),
        ("Service", "ml-prod", "digits-model-server"): service("digits-model-server"),
    }

    target = find_target(objects, ModelCheckConfig(), app="digits")

    assert target is not None
    assert (target.service, target.port, target.version) == ("digits-model-server", "http", "7")
