"""REST routing, dispatch and error statuses, before any model version is loaded."""

from __future__ import annotations

import json

import pytest
from ci_plugins_emulator.tfserving.metrics import Metrics
from ci_plugins_emulator.tfserving.rest import RestApi, parse_route
from ci_plugins_emulator.tfserving.servable import Servable


@pytest.fixture
def api() -> RestApi:
    metrics = Metrics()
    servable = Servable(name="digits", base_path="/nowhere", tags=["serve"], metrics=metrics)
    return RestApi(servable, metrics)


@pytest.mark.parametrize(
    ("method", "path", "expected"),
    [
        pytest.param("GET", "/v1/models/digits", ("digits", None, None, "", ""), id="status"),
        pytest.param(
            "GET",
            "/v1/models/digits/versions/3/metadata",
            ("digits", 3, None, "", "metadata"),
            id="metadata",
        ),
        pytest.param(
            "POST",
            "/v1/models/digits/labels/canary:predict",
            ("digits", None, "canary", "predict", ""),
            id="label-predict",
        ),
        pytest.param(
            "POST", "/V1/MODELS/a%20b:PREDICT", ("a b", None, None, "PREDICT", ""), id="case"
        ),
    ],
)
def test_paths_are_parsed_with_tf_servings_regexes(
    method: str, path: str, expected: tuple[object, ...]
) -> None:
    route = parse_route(method, path)
    assert route.matched
    assert (
        route.model_name,
        route.version,
        route.label,
        route.method,
        route.subresource,
    ) == expected


@pytest.mark.parametrize(
    ("method", "path", "status", "error"),
    [
        pytest.param(
            "GET",
            "/v1/models/digits",
            404,
            "Could not find any versions of model digits",
            id="status",
        ),
        pytest.param(
            "GET",
            "/v1/models/digits/metadata",
            404,
            "Servable not found for request: Latest(digits)",
            id="metadata",
        ),
        pytest.param(
            "PUT", "/v1/models/digits", 400, "Malformed request: PUT /v1/models/digits", id="put"
        ),
        pytest.param(
            "POST",
            "/v1/models/digits",
            400,
            "Malformed request: POST /v1/models/digits",
            id="post-status",
        ),
        pytest.param(
            "POST", "/v1/models/digits:regress", 501, "regress is not emulated", id="regress"
        ),
        pytest.param(
            "GET",
            "/v1/models/digits/labels/stable",
            400,
            "Unrecognized servable version label: stable",
            id="label",
        ),
    ],
)
def test_requests_without_a_loaded_version_get_tf_servings_errors(
    api: RestApi, method: str, path: str, status: int, error: str
) -> None:
    answer_status, body = api.handle(method, path, b"{}")
    assert (answer_status, json.loads(body)) == (status, {"error": error})


def test_predict_reads_the_body_before_looking_up_the_model(api: RestApi) -> None:
    status, body = api.handle("POST", "/v1/models/digits:predict", b"")
    assert (status, json.loads(body)) == (400, {"error": "JSON Parse error: The document is empty"})
    status, body = api.handle("POST", "/v1/models/digits:predict", b'{"instances": [1]}')
    assert (status, json.loads(body)) == (
        404,
        {"error": "Servable not found for request: Latest(digits)"},
    )


def test_every_api_request_is_counted_and_only_successes_are_timed(api: RestApi) -> None:
    api.handle("GET", "/v1/models/digits", b"")
    api.handle("POST", "/v1/models/digits:predict", b"{")
    page = api.metrics.page()
    assert ':tensorflow:serving:request_count{model_name="digits",status="NOT_FOUND"} 1' in page
    assert (
        ':tensorflow:serving:request_count{model_name="digits",status="INVALID_ARGUMENT"} 1' in page
    )
    assert "request_latency" not in page
