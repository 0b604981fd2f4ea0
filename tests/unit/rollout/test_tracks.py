"""The pods and the route weights of a canary step, per traffic mode."""

from __future__ import annotations

from pathlib import Path

import pytest

from ci_plugins.config.models import load_config
from ci_plugins.errors import InputError
from ci_plugins.rollout.tracks import check_traffic, replica_split, routed_split


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
        check_traffic(load_config(path), "prod", files, weight=10)

    assert str(raised.value) == (
        f"environments.prod.rollout.traffic: {traffic} sets the candidate's weight on a "
        f"{kind}, but the chart rendered for prod has none (it renders Service)"
    )


def test_replicas_traffic_needs_no_extra_object(tmp_path: Path) -> None:
    path = tmp_path / "ci-plugins.yaml"
    path.write_text("app: digits\nenvironments: {prod: {rollout: {strategy: canary}}}\n")
    check_traffic(load_config(path), "prod", {}, weight=10)


@pytest.mark.parametrize(
    ("total", "weight", "stable", "candidate"),
    [
        pytest.param(4, 10, 4, 1, id="stable-keeps-all-its-pods"),
        pytest.param(4, 50, 4, 2, id="half"),
        pytest.param(4, 60, 4, 3, id="rounded-up"),
        pytest.param(3, 100, 3, 3, id="candidate-full-size-at-100"),
    ],
)
def test_a_routed_step_keeps_stable_whole_and_sizes_the_candidate_for_its_weight(
    total: int, weight: int, stable: int, candidate: int
) -> None:
    split = routed_split(total, weight)
    assert (split.stable, split.candidate) == (stable, candidate)


def track_service(name: str, track: str) -> bytes:
    return (
        f"apiVersion: v1\nkind: Service\nmetadata: {{name: {name}}}\n"
        f"spec: {{selector: {{app: digits, ci-plugins.dev/track: {track}}}}}\n"
    ).encode()


def virtual_service(route: str) -> bytes:
    return (
        "apiVersion: networking.istio.io/v1\nkind: VirtualService\nmetadata: {name: digits}\n"
        f"spec: {{hosts: [digits], http: [{{route: {route}}}]}}\n"
    ).encode()


def istio_config(tmp_path: Path) -> Path:
    path = tmp_path / "ci-plugins.yaml"
    path.write_text(
        "app: digits\nenvironments:\n  prod:\n    rollout: {strategy: canary, traffic: istio}\n",
        encoding="utf-8",
    )
    return path


def test_a_virtualservice_naming_the_track_services_by_fqdn_expresses_the_weight(
    tmp_path: Path,
) -> None:
    files = {
        "s.yaml": track_service("digits-stable", "stable"),
        "c.yaml": track_service("digits-candidate", "candidate"),
        "vs.yaml": virtual_service(
            "[{destination: {host: digits-stable.ml-prod.svc.cluster.local}, weight: 90},"
            " {destination: {host: digits-candidate.ml-prod.svc.cluster.local}, weight: 10}]"
        ),
    }
    check_traffic(load_config(istio_config(tmp_path)), "prod", files, weight=10)


def test_a_route_with_other_weights_is_refused_naming_what_it_sends(tmp_path: Path) -> None:
    files = {
        "s.yaml": track_service("digits-stable", "stable"),
        "c.yaml": track_service("digits-candidate", "candidate"),
        "vs.yaml": virtual_service(
            "[{destination: {host: digits-stable}, weight: 50},"
            " {destination: {host: digits-candidate}, weight: 50}]"
        ),
    }
    with pytest.raises(InputError) as raised:
        check_traffic(load_config(istio_config(tmp_path)), "prod", files, weight=10)
    assert str(raised.value) == (
        "environments.prod.rollout.traffic: istio: no VirtualService in the chart rendered for "
        "prod sends candidate 10%, stable 90% (found: candidate 50%, stable 50%)"
    )


def test_a_route_without_a_service_per_track_is_refused(tmp_path: Path) -> None:
    files = {
        "s.yaml": track_service("digits-stable", "stable"),
        "vs.yaml": virtual_service("[{destination: {host: digits-stable}}]"),
    }
    with pytest.raises(InputError) as raised:
        check_traffic(load_config(istio_config(tmp_path)), "prod", files, weight=10)
    assert "has no Service selecting the candidate track's pods" in str(raised.value)
