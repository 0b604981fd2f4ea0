"""A canary in an environment whose route carries the weight (rollout.traffic: gateway-api
or istio): promote starts it, the rollout's changes move the route's weights, promote and
abort send everything to one track (real helm, real git)."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest
import yaml

from ci_plugins.config.models import load_config
from ci_plugins.envrepo.checkout import app_path, checkout
from ci_plugins.envrepo.publish import Change, push_change
from ci_plugins.output import Output
from ci_plugins.render.chart import shipped_chart
from ci_plugins.rollout import changes
from ci_plugins.step import REAL_CLOCK
from tests.integration.rollout.test_canary_promote import (
    MANIFESTS,
    RELEASE,
    canary_config,
    deployments,
    promote_to_prod,
)
from tests.support.cli import CliRunner
from tests.support.envrepo import commit_message, remote_head, remote_objects, remote_yaml
from tests.support.promote import digest_of, promote_args, write_release_inputs

GATEWAY = {
    "traffic": {"gatewayApi": {"parentRefs": [{"name": "ml-gateway", "namespace": "infra"}]}}
}
ROUTES = {"gateway-api": "HTTPRoute", "istio": "VirtualService"}
MODES = [pytest.param(mode, id=mode) for mode in ROUTES]


def routed_config(tmp_path: Path, env_repo: Path, mode: str, **chart: Any) -> Path:
    path = canary_config(tmp_path, env_repo, traffic=mode)
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    data["chart"] = {"values": GATEWAY, **chart}
    path.write_text(yaml.safe_dump(data), encoding="utf-8")
    return path


def objects(env_repo: Path, kind: str) -> dict[str, dict[str, Any]]:
    return remote_objects(env_repo, MANIFESTS, kind)


def weights(env_repo: Path, mode: str) -> dict[str, int]:
    """Service name -> weight, as the one route of the release sends requests."""
    ((route),) = objects(env_repo, ROUTES[mode]).values()
    if mode == "gateway-api":
        ((rule),) = route["spec"]["rules"]
        return {ref["name"]: ref["weight"] for ref in rule["backendRefs"]}
    ((http),) = route["spec"]["http"]
    return {d["destination"]["host"]: d["weight"] for d in http["route"]}


def replicas(env_repo: Path) -> dict[str, int]:
    return {name: d["spec"]["replicas"] for name, d in deployments(env_repo).items()}


def apply(tmp_path: Path, env_repo: Path, make: Any) -> str | None:
    """Push one of the rollout's changes, as `ci-plugins rollout` does between steps."""
    config = load_config(tmp_path / "ci-plugins.yaml")
    change: Change = make(config)
    with checkout(str(env_repo), branch="main", sparse=[app_path("prod", "digits")]) as repo:
        outcome = push_change(
            repo, change, paths=[app_path("prod", "digits")], clock=REAL_CLOCK, out=Output()
        )
    assert outcome.refusal is None
    return outcome.commit


@pytest.mark.parametrize("mode", MODES)
def test_a_routed_canary_moves_the_route_weights_and_keeps_stable_at_full_size(
    tmp_path: Path, cli: CliRunner, env_repo: Path, mode: str
) -> None:
    routed_config(tmp_path, env_repo, mode)
    promote_to_prod(tmp_path, cli, "3")
    assert weights(env_repo, mode) == {"digits-model-server-stable": 100}

    result = promote_to_prod(tmp_path, cli, "4")

    assert weights(env_repo, mode) == {
        "digits-model-server-stable": 75,
        "digits-model-server-candidate": 25,
    }
    # stable keeps its 4 pods (an abort needs no scale-up); the candidate gets ceil(25% of 4)
    assert replicas(env_repo) == {"digits-model-server": 4, "digits-model-server-canary": 1}
    tracks = {
        name: svc["spec"]["selector"].get("ci-plugins.dev/track")
        for name, svc in objects(env_repo, "Service").items()
    }
    assert tracks == {
        "digits-model-server": None,  # the model's own Service selects both tracks
        "digits-model-server-stable": "stable",
        "digits-model-server-candidate": "candidate",
    }
    assert commit_message(env_repo, result["commit"]).startswith(
        "canary digits 4 in prod: 25% of traffic next to 3"
    )

    digest = digest_of("4")
    apply(
        tmp_path, env_repo,
        lambda c: changes.advance(c, "prod", "digits", candidate_digest=digest, weight=100),
    )  # fmt: skip
    assert weights(env_repo, mode) == {
        "digits-model-server-stable": 0,
        "digits-model-server-candidate": 100,
    }
    assert replicas(env_repo) == {"digits-model-server": 4, "digits-model-server-canary": 4}

    apply(
        tmp_path, env_repo,
        lambda c: changes.promote_candidate(c, "prod", "digits", candidate_digest=digest),
    )  # fmt: skip
    assert weights(env_repo, mode) == {"digits-model-server-stable": 100}
    assert set(objects(env_repo, "Service")) == {
        "digits-model-server",
        "digits-model-server-stable",
    }
    assert remote_yaml(env_repo, RELEASE)["model"]["digest"] == digest
    assert replicas(env_repo) == {"digits-model-server": 4}


@pytest.mark.parametrize("mode", MODES)
def test_an_aborted_routed_canary_sends_everything_to_stable(
    tmp_path: Path, cli: CliRunner, env_repo: Path, mode: str
) -> None:
    routed_config(tmp_path, env_repo, mode)
    promote_to_prod(tmp_path, cli, "3")
    promote_to_prod(tmp_path, cli, "4")

    apply(
        tmp_path, env_repo,
        lambda c: changes.abort(
            c, "prod", "digits", candidate_digest=digest_of("4"), reason="error_ratio 0.5",
            actor="ci",
        ),
    )  # fmt: skip

    assert weights(env_repo, mode) == {"digits-model-server-stable": 100}
    assert replicas(env_repo) == {"digits-model-server": 4}
    assert remote_yaml(env_repo, RELEASE)["model"]["digest"] == digest_of("3")
    assert (
        "canary of 4 aborted"
        in remote_yaml(env_repo, "environments/prod/digits/pin.yaml")["reason"]
    )


def test_gateway_api_without_a_gateway_to_attach_to_is_exit_2_and_changes_nothing(
    tmp_path: Path, cli: CliRunner, env_repo: Path
) -> None:
    canary_config(tmp_path, env_repo)
    promote_to_prod(tmp_path, cli, "3")
    canary_config(tmp_path, env_repo, traffic="gateway-api")  # no traffic.gatewayApi.parentRefs
    manifest, rendered = write_release_inputs(tmp_path, env="staging", version="4")
    assert cli(*promote_args("staging", manifest, rendered, json=False)).exit_code == 0
    head = remote_head(env_repo)

    result = cli("promote", "--from-env", "staging", "--to-env", "prod")

    assert result.exit_code == 2, result.stderr
    assert "traffic.mode gateway-api needs traffic.gatewayApi.parentRefs" in result.stderr
    assert remote_head(env_repo) == head
    assert "canary" not in remote_yaml(env_repo, RELEASE)


def own_chart(tmp_path: Path, edit: Any) -> Path:
    """A copy of the shipped chart, changed by edit(templates dir)."""
    chart = tmp_path / "own-chart"
    shutil.copytree(shipped_chart(), chart)
    edit(chart / "templates")
    return chart


@pytest.mark.parametrize(
    ("mode", "edit", "message"),
    [
        pytest.param(
            "istio",
            lambda t: (t / "traffic.yaml").unlink(),
            "environments.prod.rollout.traffic: istio sets the candidate's weight on a "
            "VirtualService, but the chart rendered for prod has none (it renders "
            "Deployment, Service, ServiceAccount)",
            id="istio-without-a-virtualservice",
        ),
        pytest.param(
            "gateway-api",
            lambda t: (t / "traffic.yaml").write_text(
                (t / "traffic.yaml").read_text().replace("$weight := int .Values.canary.weight",
                                                         "$weight := 0")
            ),
            "environments.prod.rollout.traffic: gateway-api: no HTTPRoute in the chart "
            "rendered for prod sends candidate 25%, stable 75% (found: candidate 0%, "
            "stable 100%)",
            id="gateway-api-route-ignoring-the-weight",
        ),
    ],
)  # fmt: skip
def test_a_chart_whose_objects_cannot_express_the_weight_is_exit_2_and_changes_nothing(
    tmp_path: Path, cli: CliRunner, env_repo: Path, mode: str, edit: Any, message: str
) -> None:
    chart = own_chart(tmp_path, edit)
    routed_config(tmp_path, env_repo, mode, path=str(chart))
    promote_to_prod(tmp_path, cli, "3")
    manifest, rendered = write_release_inputs(tmp_path, env="staging", version="4")
    assert cli(*promote_args("staging", manifest, rendered, json=False)).exit_code == 0
    head = remote_head(env_repo)

    result = cli("promote", "--from-env", "staging", "--to-env", "prod")

    assert result.exit_code == 2, result.stderr
    assert message in result.stderr, result.stderr
    assert remote_head(env_repo) == head
    assert "canary" not in remote_yaml(env_repo, RELEASE)
