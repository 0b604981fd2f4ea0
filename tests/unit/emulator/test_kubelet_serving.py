"""tensorflow/serving pods run the TF-Serving-compatible server on real TensorFlow."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.support.models import GOLDEN_INPUTS, expected_predictions, tiny_savedmodel
from tests.support.node import Node, model_volume, pod, serving_container


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tiny_savedmodel(tmp_path_factory.mktemp("model"))


@pytest.mark.slow
def test_predictions_through_the_service_proxy_are_the_saved_models_own(
    node: Node, model_dir: Path
) -> None:
    serving = pod("digits", serving_container(model_dir), volumes=[model_volume(model_dir)])
    node.create(serving)
    node.create(
        {
            "apiVersion": "v1",
            "kind": "Service",
            "metadata": {"name": "digits", "namespace": "ml-dev"},
            "spec": {
                "selector": {"app": "digits"},
                "ports": [{"name": "http", "port": 8501, "targetPort": "http"}],
            },
        }
    )
    node.wait_for("model server ready", lambda: _ready(node, "digits"), timeout=90)
    code, status = node.proxy("digits", "v1/models/digits")
    assert code == 200, status
    assert status["model_version_status"][0]["state"] == "AVAILABLE"
    code, answer = node.client.request(
        "POST",
        "/api/v1/namespaces/ml-dev/services/digits:http/proxy/v1/models/digits:predict",
        {"instances": GOLDEN_INPUTS},
    )
    assert code == 200, answer
    want = expected_predictions(model_dir)
    got = answer["predictions"]
    assert len(got) == len(want)
    for row, expected_row in zip(got, want, strict=True):
        assert row == pytest.approx(expected_row, abs=1e-6)
    _, text = node.log("digits")
    assert "digits" in text  # the server's real start-up log
    json.dumps(answer)


def _ready(node: Node, name: str) -> bool:
    conditions = (node.pod(name).get("status") or {}).get("conditions") or []
    return any(c["type"] == "Ready" and c["status"] == "True" for c in conditions)
