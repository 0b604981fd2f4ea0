"""The replica split of a canary step (traffic: replicas)."""

from __future__ import annotations

import pytest

from ci_plugins.rollout.tracks import replica_split


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
