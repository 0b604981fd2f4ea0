"""Predict requests in TF Serving's JSON (util/json_tensor.cc, g3doc/api_rest.md).

Row format (`instances`: one item per batch element, objects for several named inputs)
and columnar format (`inputs`: one value, or an object of named inputs). Value checks,
shapes from the nesting and the error texts follow json_tensor.cc; its JSON debug
strings are shown compact here rather than rapidjson-pretty. Answers: json_response.
"""

from __future__ import annotations

import base64
import binascii
import json
import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np

from .status import ServingError, invalid_argument

Format = Literal["row", "columnar"]
_MAX_DEBUG = 256
_INT_RANGES = {
    "DT_INT8": (-(2**31), 2**31 - 1),  # rapidjson IsInt(): the value fits an int32
    "DT_INT16": (-(2**31), 2**31 - 1),
    "DT_INT32": (-(2**31), 2**31 - 1),
    "DT_UINT8": (-(2**31), 2**31 - 1),
    "DT_INT64": (-(2**63), 2**63 - 1),
    "DT_UINT32": (0, 2**32 - 1),
    "DT_UINT64": (0, 2**64 - 1),
}
NUMPY_DTYPES = {
    "DT_FLOAT": np.float32,
    "DT_DOUBLE": np.float64,
    "DT_HALF": np.float16,
    "DT_INT8": np.int8,
    "DT_INT16": np.int16,
    "DT_INT32": np.int32,
    "DT_INT64": np.int64,
    "DT_UINT8": np.uint8,
    "DT_UINT32": np.uint32,
    "DT_UINT64": np.uint64,
    "DT_BOOL": np.bool_,
    "DT_STRING": np.object_,
}


@dataclass(frozen=True)
class PredictRequest:
    signature_name: str
    format: Format
    inputs: dict[str, np.ndarray[Any, Any]]


def parse_body(body: bytes) -> dict[str, Any]:
    """The request's top-level JSON object (NaN and Infinity accepted, as rapidjson does)."""
    if not body:
        raise invalid_argument("JSON Parse error: The document is empty")
    try:
        doc = json.loads(body)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        offset = getattr(exc, "pos", getattr(exc, "start", 0))
        reason = getattr(exc, "msg", getattr(exc, "reason", str(exc)))
        raise invalid_argument(f"JSON Parse error: {reason} at offset: {offset}") from None
    if not isinstance(doc, dict):
        raise invalid_argument(f"JSON Value: {_debug(doc)} Is not object")
    return doc


def signature_name_of(doc: Mapping[str, Any]) -> str:
    name = doc.get("signature_name", "")
    if not isinstance(name, str):
        raise invalid_argument(
            f"JSON Value: {_debug(doc)} not formatted correctly. "
            "'signature_name' key must be a string value."
        )
    return name


def read_predict_request(doc: Mapping[str, Any], inputs: Mapping[str, str]) -> PredictRequest:
    """Tensors for a signature whose inputs map name -> DataType name (e.g. DT_FLOAT)."""
    signature_name = signature_name_of(doc)
    if not inputs:
        raise invalid_argument(
            f"Failed to get input map for signature: {signature_name or 'DEFAULT'}"
        )
    if "instances" in doc:
        if "inputs" in doc:
            raise invalid_argument(
                f"JSON Value: {_debug(doc)} Not formatted correctly expecting only one of "
                "'inputs' or 'instances' keys to exist "
            )
        instances = doc["instances"]
        if not isinstance(instances, list):
            raise invalid_argument(
                f"JSON Value: {_debug(doc)} Expecting 'instances' to be an list/array"
            )
        if not instances:
            raise invalid_argument(f"JSON Value: {_debug(doc)} No values in 'instances' array")
        return PredictRequest(signature_name, "row", _from_instances(instances, inputs))
    if "inputs" in doc:
        return PredictRequest(signature_name, "columnar", _from_inputs(doc["inputs"], inputs))
    raise invalid_argument("Missing 'inputs' or 'instances' key")


def _from_instances(items: list[Any], inputs: Mapping[str, str]) -> dict[str, np.ndarray[Any, Any]]:
    if not _is_named(items[0]) and len(inputs) > 1:
        raise invalid_argument(
            "instances is a plain list, but expecting list of objects as multiple "
            "input tensors required as per tensorinfo_map"
        )
    named = _is_named(items[0])
    names = sorted(inputs)
    columns: dict[str, list[Any]] = {name: [] for name in names}
    shapes: dict[str, tuple[int, ...]] = {}
    for index, item in enumerate(items):
        if named != _is_named(item):
            kind = "object but got list" if named else "value/list but got object"
            raise invalid_argument(f"Expecting {kind} at item {index} of input list")
        pairs = item.items() if named else [(names[0], item)]
        for key, value in pairs:
            try:
                _add_instance_item(key, value, inputs, columns, shapes)
            except ServingError as exc:
                where = f" key: {key}" if named else ""
                raise invalid_argument(
                    f"Failed to process element: {index}{where} of 'instances' list. "
                    f"Error: {exc.status_string()}"
                ) from None
        if named and set(item) != set(names):
            raise invalid_argument(
                f"Failed to process element: {index} of 'instances' list. JSON object: "
                f"{_debug(item)} keys must be equal to: {','.join(names)}"
            )
    return {
        name: np.stack(values) if values else np.zeros((0,), NUMPY_DTYPES[inputs[name]])
        for name, values in columns.items()
    }


def _add_instance_item(
    name: str,
    value: Any,
    inputs: Mapping[str, str],
    columns: dict[str, list[Any]],
    shapes: dict[str, tuple[int, ...]],
) -> None:
    if name not in inputs:
        raise invalid_argument(f"JSON object: does not have named input: {name}")
    tensor = to_tensor(value, inputs[name])
    expected = shapes.setdefault(name, tensor.shape)
    if math.prod(expected) != tensor.size:
        size = math.prod(expected)
        raise invalid_argument(f"Expecting tensor size: {size} but got: {tensor.size}")
    if expected != tensor.shape:
        got = _shape(tensor.shape)
        raise invalid_argument(f"Expecting shape {_shape(expected)} but got: {got}")
    columns[name].append(tensor)


def _from_inputs(value: Any, inputs: Mapping[str, str]) -> dict[str, np.ndarray[Any, Any]]:
    if not _is_named(value):
        if len(inputs) > 1:
            raise invalid_argument(
                "inputs is a plain value/list, but expecting an object as multiple "
                "input tensors required as per tensorinfo_map"
            )
        name = sorted(inputs)[0]
        return {name: to_tensor(value, inputs[name])}
    tensors = {}
    for name in sorted(inputs):
        if name not in value:
            raise invalid_argument(f"Missing named input: {name} in 'inputs' object.")
        tensors[name] = to_tensor(value[name], inputs[name])
    return tensors


def to_tensor(value: Any, dtype: str) -> np.ndarray[Any, Any]:
    """One dense tensor from a (nested) JSON value; its shape follows the first elements."""
    shape: list[int] = []
    probe = value
    while isinstance(probe, list):
        shape.append(len(probe))
        probe = probe[0] if probe else None
    flat: list[Any] = []
    _fill(value, 0, shape, dtype, flat)
    if dtype not in NUMPY_DTYPES:
        message = f"Conversion of JSON Value to type: {dtype[3:].lower()}"
        raise ServingError("UNIMPLEMENTED", message)
    array: np.ndarray[Any, Any] = np.array(flat, dtype=NUMPY_DTYPES[dtype])
    return array.reshape(shape)


def _fill(value: Any, level: int, shape: list[int], dtype: str, flat: list[Any]) -> None:
    rank = len(shape)
    if not isinstance(value, list):
        if level != rank:
            raise invalid_argument(
                f"JSON Value: {_debug(value)} found at incorrect level: {level + 1} "
                f"in the JSON DOM. Expected at level: {rank}"
            )
        flat.append(_scalar(value, dtype))
        return
    if level >= rank:
        raise invalid_argument(f"Encountered list at unexpected level: {level} expected < {rank}")
    if len(value) != shape[level]:
        raise invalid_argument(
            f"Encountered list at unexpected size: {len(value)} at level: {level} "
            f"expected size: {shape[level]}"
        )
    for item in value:
        _fill(item, level + 1, shape, dtype, flat)


def _scalar(value: Any, dtype: str) -> Any:
    if dtype == "DT_STRING":
        if isinstance(value, str):
            return value.encode()
        if _is_b64(value):
            try:
                return base64.b64decode(value["b64"], validate=True)
            except binascii.Error:
                raise invalid_argument("Unable to base64 decode") from None
        if isinstance(value, dict):
            raise invalid_argument(
                f"JSON Value: {_debug(value)} not formatted correctly for base64 data"
            )
    elif dtype == "DT_BOOL":
        if isinstance(value, bool):
            return value
    elif dtype in ("DT_FLOAT", "DT_DOUBLE", "DT_HALF"):
        if isinstance(value, int | float) and not isinstance(value, bool):
            return value
    elif dtype in _INT_RANGES:
        low, high = _INT_RANGES[dtype]
        if isinstance(value, int) and not isinstance(value, bool) and low <= value <= high:
            return value
    else:
        return value
    raise invalid_argument(
        f"JSON Value: {_debug(value)} Type: {_json_type(value)} is not of expected type: "
        f"{dtype[3:].lower()}"
    )


def _is_b64(value: Any) -> bool:
    return isinstance(value, dict) and len(value) == 1 and isinstance(value.get("b64"), str)


def _is_named(value: Any) -> bool:
    return isinstance(value, dict) and not _is_b64(value)


def _json_type(value: Any) -> str:
    if value is None:
        return "Null"
    if isinstance(value, bool):
        return "True" if value else "False"
    if isinstance(value, int | float):
        return "Number"
    if isinstance(value, str):
        return "String"
    return "Array" if isinstance(value, list) else "Object"


def _debug(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"))[:_MAX_DEBUG]


def _shape(shape: tuple[int, ...]) -> str:
    return "[" + ",".join(str(size) for size in shape) + "]"
