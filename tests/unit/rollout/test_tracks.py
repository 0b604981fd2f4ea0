"""The replica split of a canary step (traffic: replicas)."""

from __future__ import annotations

from pathlib import Path

import pytest

from ci_plugins.config.models import load_config
from ci_plugins.errors import InputError
from ci_plugins.rollout.tracks import check_traffic, replica_split


@pytest.mark.parametrize(
    ("total", "weight", "stable", "candidate"),
    [
        pytest.param(10, 10, 9, 1, id="10-percent-of-10"),
        pytest.param(4, 50, 2, 2, id="half"),
        pytest.param(4, 25, 3, 1, id="quarter"),
        pytest.param(2, 10, 1, 1, id="at-least-one-candidate-pod"),
        pytest.param(1, 50, 1, 1, id="at-least-one-stable-pod-below-100"),
        pytest.param(3, 100, 0, 3, id="all-at-100"),
    ],
)
def test_the_candidate_gets_its_weight_of_the_pods(
    total: int, weight: int, stable: int, candidate: int
) -> None:
    split = replica_split(total, weight)
    assert (split.stable, split.candidate) == (stable, candidate)


def test_the_split_says_the_share_the_pods_really_give() -> None:
    assert replica_split(2, 10).share == 50.0


@pytest.mark.parametrize(
    ("traffic", "kind"),
    [
        pytest.param("gateway-api", "HTTPRoute", id="gateway-api"),
        pytest.param("istio", "VirtualService", id="istio"),
    ],
)
def test_a_traffic_mode_without_its_object_in_the_render_is_refused(
    tmp_path: Path, traffic: str, kind: str
) -> None:
    path = tmp_path / "ci-plugins.yaml"
    path.write_text(
        "app: digits\nenvironments:\n  prod:\n"
        f"    rollout: {{strategy: canary, traffic: {traffic}}}\n",
        encoding="utf-8",
    )
    files = {"service-digits.yaml": b"apiVersion: v1\nkind: Service\nmetadata: {name: digits}\n"}

    with pytest.raises(InputError) as raised:
        check_traffic(load_config(path), "prod", files)

    assert str(raised.value) == (
        f"environments.prod.rollout.traffic: {traffic} sets the candidate's weight on a "
        f"{kind}, but the chart rendered for prod has none (it renders Service)"
    )


def test_replicas_traffic_needs_no_extra_object(tmp_path: Path) -> None:
    path = tmp_path / "ci-plugins.yaml"
    path.write_text("app: digits\nenvironments: {prod: {rollout: {strategy: canary}}}\n")
    check_traffic(load_config(path), "prod", {})
