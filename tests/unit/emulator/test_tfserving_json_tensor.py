"""Predict requests and answers use TF Serving's JSON formats and its error texts."""

from __future__ import annotations

import json
from typing import Any

import numpy as np
import pytest
from ci_plugins_emulator.tfserving import json_response, json_tensor
from ci_plugins_emulator.tfserving.status import ServingError

ONE_INPUT = {"x": "DT_FLOAT"}
TWO_INPUTS = {"image": "DT_FLOAT", "tag": "DT_STRING"}


def request(body: Any, inputs: dict[str, str] = ONE_INPUT) -> json_tensor.PredictRequest:
    doc = json_tensor.parse_body(json.dumps(body).encode())
    return json_tensor.read_predict_request(doc, inputs)


def error_of(body: Any, inputs: dict[str, str] = ONE_INPUT) -> ServingError:
    with pytest.raises(ServingError) as raised:
        request(body, inputs)
    return raised.value


def test_row_format_batches_instances_along_the_first_dimension() -> None:
    parsed = request({"instances": [[1, 2, 3], [4, 5, 6]]})
    assert parsed.format == "row"
    assert parsed.inputs["x"].dtype == np.float32
    np.testing.assert_array_equal(parsed.inputs["x"], [[1, 2, 3], [4, 5, 6]])


def test_row_format_with_named_inputs_takes_one_object_per_instance() -> None:
    parsed = request(
        {"instances": [{"image": [1.0], "tag": "a"}, {"image": [2.0], "tag": {"b64": "Yg=="}}]},
        TWO_INPUTS,
    )
    np.testing.assert_array_equal(parsed.inputs["image"], [[1.0], [2.0]])
    assert parsed.inputs["tag"].tolist() == [b"a", b"b"]


def test_columnar_format_takes_each_input_whole() -> None:
    parsed = request({"signature_name": "serving_default", "inputs": {"x": [[1, 2]]}})
    assert (parsed.format, parsed.signature_name) == ("columnar", "serving_default")
    assert parsed.inputs["x"].shape == (1, 2)


def test_columnar_format_takes_a_plain_value_for_a_single_input() -> None:
    assert request({"inputs": 3.5}).inputs["x"].shape == ()


@pytest.mark.parametrize(
    ("body", "inputs", "message"),
    [
        pytest.param({}, ONE_INPUT, "Missing 'inputs' or 'instances' key", id="no-key"),
        pytest.param(
            {"instances": [[1]], "inputs": [[1]]},
            ONE_INPUT,
            "Not formatted correctly expecting only one of 'inputs' or 'instances' keys",
            id="both-keys",
        ),
        pytest.param(
            {"instances": 1}, ONE_INPUT, "Expecting 'instances' to be an list/array", id="not-list"
        ),
        pytest.param({"instances": []}, ONE_INPUT, "No values in 'instances' array", id="empty"),
        pytest.param(
            {"instances": [["a"]]},
            ONE_INPUT,
            "Failed to process element: 0 of 'instances' list. Error: INVALID_ARGUMENT: "
            'JSON Value: "a" Type: String is not of expected type: float',
            id="type",
        ),
        pytest.param(
            {"instances": [[1, 2], [3]]},
            ONE_INPUT,
            "Failed to process element: 1 of 'instances' list. Error: INVALID_ARGUMENT: "
            "Expecting tensor size: 2 but got: 1",
            id="ragged-instances",
        ),
        pytest.param(
            {"inputs": [[1, 2], [3]]},
            ONE_INPUT,
            "Encountered list at unexpected size: 1 at level: 1 expected size: 2",
            id="ragged-columns",
        ),
        pytest.param(
            {"inputs": [[1], 2]},
            ONE_INPUT,
            "JSON Value: 2 found at incorrect level: 2 in the JSON DOM. Expected at level: 2",
            id="leaf-level",
        ),
        pytest.param(
            {"instances": [1.0]},
            TWO_INPUTS,
            "instances is a plain list, but expecting list of objects as multiple input "
            "tensors required as per tensorinfo_map",
            id="plain-list-two-inputs",
        ),
        pytest.param(
            {"instances": [{"image": [1.0]}]},
            TWO_INPUTS,
            "Failed to process element: 0 of 'instances' list. JSON object: {\"image\":[1.0]} "
            "keys must be equal to: image,tag",
            id="missing-key",
        ),
        pytest.param(
            {"inputs": {"image": [1.0]}},
            TWO_INPUTS,
            "Missing named input: tag in 'inputs' object.",
            id="missing-named-input",
        ),
        pytest.param(
            {"inputs": {"x": [1]}, "signature_name": 3},
            ONE_INPUT,
            "'signature_name' key must be a string value.",
            id="signature-name",
        ),
    ],
)
def test_bad_requests_get_tf_servings_invalid_argument_text(
    body: Any, inputs: dict[str, str], message: str
) -> None:
    error = error_of(body, inputs)
    assert (error.code, error.http_status) == ("INVALID_ARGUMENT", 400)
    assert message in str(error)


@pytest.mark.parametrize(
    ("body", "message"),
    [
        pytest.param(b"", "JSON Parse error: The document is empty", id="empty"),
        pytest.param(b"{", "JSON Parse error: ", id="truncated"),
        pytest.param(b"[1]", "JSON Value: [1] Is not object", id="not-object"),
    ],
)
def test_a_body_that_is_not_a_json_object_is_rejected(body: bytes, message: str) -> None:
    with pytest.raises(ServingError, match="^" + message.replace("[", r"\[").replace("]", r"\]")):
        json_tensor.parse_body(body)


def test_nan_and_infinity_are_accepted_as_tf_serving_does() -> None:
    doc = json_tensor.parse_body(b'{"inputs": [NaN, Infinity, -Infinity]}')
    values = json_tensor.read_predict_request(doc, ONE_INPUT).inputs["x"]
    assert np.isnan(values[0])
    assert np.isinf(values[1])
    assert values[2] < 0


def test_integer_inputs_reject_fractions() -> None:
    error = error_of({"inputs": [1.5]}, {"x": "DT_INT64"})
    assert "is not of expected type: int64" in str(error)


def test_one_output_answers_predictions_without_its_name() -> None:
    outputs = {"probabilities": np.array([[0.2, 0.8]], dtype=np.float32)}
    body = json.loads(json_response.write_predict_response(outputs, "row"))
    # WriteDecimal: float32 values as their shortest round-trip text, not 0.200000003.
    assert body == {"predictions": [[0.2, 0.8]]}


def test_several_outputs_answer_one_object_per_row_or_per_name() -> None:
    outputs = {
        "label": np.array([1, 0], dtype=np.int64),
        "label_bytes": np.array([b"\x00", b"y"], dtype=object),
    }
    rows = json.loads(json_response.write_predict_response(outputs, "row"))
    assert rows == {
        "predictions": [
            {"label": 1, "label_bytes": {"b64": "AA=="}},
            {"label": 0, "label_bytes": {"b64": "eQ=="}},
        ]
    }
    columns = json.loads(json_response.write_predict_response(outputs, "columnar"))
    assert columns == {
        "outputs": {"label": [1, 0], "label_bytes": [{"b64": "AA=="}, {"b64": "eQ=="}]}
    }


def test_row_answers_need_one_batch_size() -> None:
    outputs = {"a": np.zeros((2, 1)), "b": np.zeros((3, 1))}
    with pytest.raises(ServingError, match="Tensor name: b has inconsistent batch size: 3"):
        json_response.write_predict_response(outputs, "row")


def test_error_bodies_hold_only_the_message() -> None:
    error = ServingError("NOT_FOUND", "Servable not found for request: Latest(x)")
    assert json.loads(json_response.error_body(error)) == {
        "error": "Servable not found for request: Latest(x)"
    }
    assert error.http_status == 404
