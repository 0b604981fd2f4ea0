"""Predict answers and error bodies in TF Serving's JSON (util/json_tensor.cc, api_rest.md).

`predictions` for a row-format request, `outputs` for a columnar one; a single output
is written without its name, several as objects (one per row, or one of columns). Floats
are written as the shortest text that reads back as the same value (WriteDecimal),
DT_STRING outputs named `*_bytes` as `{"b64": ...}`, errors as `{"error": "<message>"}`
(MakeJsonFromStatus).
"""

from __future__ import annotations

import base64
import json
from collections.abc import Mapping
from typing import Any

import numpy as np

from .json_tensor import Format
from .status import ServingError, invalid_argument


def write_predict_response(outputs: Mapping[str, np.ndarray[Any, Any]], fmt: Format) -> bytes:
    """`{"predictions": ...}` (row) or `{"outputs": ...}` (columnar), as TF Serving answers."""
    if not outputs:
        raise invalid_argument("Cannot convert empty tensor map to JSON")
    names = sorted(outputs)
    values = {name: _json_values(name, outputs[name]) for name in names}
    if fmt == "columnar":
        body: Any = values[names[0]] if len(names) == 1 else values
        return _dumps({"outputs": body})
    batch = -1
    for name in names:
        if outputs[name].ndim == 0:
            raise invalid_argument(f"Tensor name: {name} has no shape information ")
        size = outputs[name].shape[0]
        if batch >= 0 and size != batch:
            raise invalid_argument(
                f"Tensor name: {name} has inconsistent batch size: {size} expecting: {batch}"
            )
        batch = size
    if len(names) == 1:
        return _dumps({"predictions": values[names[0]]})
    rows = [{name: values[name][index] for name in names} for index in range(batch)]
    return _dumps({"predictions": rows})


def _json_values(name: str, tensor: np.ndarray[Any, Any]) -> Any:
    if tensor.dtype == np.float32 or tensor.dtype == np.float16:
        # WriteDecimal: the shortest text that reads back as the same float.
        return _nested(tensor, lambda value: float(str(value)))
    if tensor.dtype == np.object_ or tensor.dtype.kind == "S":
        as_bytes = name.endswith("_bytes")
        return _nested(tensor, lambda value: _string_value(value, as_bytes=as_bytes))
    return tensor.tolist()


def _nested(tensor: np.ndarray[Any, Any], convert: Any) -> Any:
    if tensor.ndim == 0:
        return convert(tensor[()])
    if tensor.ndim == 1:
        return [convert(item) for item in tensor]
    return [_nested(item, convert) for item in tensor]


def _string_value(value: bytes, *, as_bytes: bool) -> Any:
    if as_bytes:
        return {"b64": base64.b64encode(value).decode()}
    return value.decode("utf-8", errors="replace")


def _dumps(body: Any) -> bytes:
    return json.dumps(body, allow_nan=True).encode()


def error_body(error: ServingError) -> bytes:
    """MakeJsonFromStatus: `{"error": "<status message>"}`."""
    return json.dumps({"error": error.message}).encode()
