"""One model's versions under --model_base_path, loaded with real TensorFlow.

Versions are the numeric children of the base path (sources/storage_path/
file_system_storage_path_source.cc, default policy: the latest one). Each version moves
through ModelVersionStatus states (apis/get_model_status.proto): LOADING, AVAILABLE,
UNLOADING, END; END with an error status when its load failed. TensorFlow is imported
here, on the first load, so a server still waiting for a version stays small.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from .metrics import Metrics
from .status import ServingError, code_name

DEFAULT_SIGNATURE = "serving_default"


@dataclass
class VersionState:
    """A version's state and status as GetModelStatus reports them."""

    version: int
    state: str = "START"
    error: ServingError | None = None

    def as_json(self) -> dict[str, Any]:
        code, message = ("OK", "") if self.error is None else (self.error.code, self.error.message)
        return {
            "version": str(self.version),
            "state": self.state,
            "status": {"error_code": code, "error_message": message},
        }


@dataclass
class Loaded:
    """A loaded SavedModel: its signature functions and their SignatureDefs."""

    version: int
    path: str
    functions: dict[str, Any]
    signature_defs: dict[str, Any]
    inputs: dict[str, dict[str, str]] = field(default_factory=dict)


def list_versions(base_path: str, *, name: str) -> list[int]:
    """Numeric children of the base path, ascending; raises ServingError if it is missing."""
    base = Path(base_path)
    if not base.exists():
        raise ServingError(
            "INVALID_ARGUMENT",
            f"Could not find base path {base_path} for servable {name} with error "
            f"NOT_FOUND: {base_path} not found",
        )
    versions = []
    for child in base.iterdir():
        if child.name.isdigit():
            versions.append(int(child.name))
    return sorted(versions)


def version_dir(base_path: str, version: int) -> str:
    """The child directory that holds a version (its name may have leading zeros)."""
    for child in Path(base_path).iterdir():
        if child.name.isdigit() and int(child.name) == version:
            return str(child)
    return str(Path(base_path) / str(version))


class Servable:
    """The versions of one model and the one that answers requests."""

    def __init__(self, *, name: str, base_path: str, tags: list[str], metrics: Metrics) -> None:
        self.name = name
        self.base_path = base_path
        self.tags = tags
        self.metrics = metrics
        self._lock = threading.Lock()
        self._states: dict[int, VersionState] = {}
        self._serving: Loaded | None = None

    def states(self) -> list[VersionState]:
        with self._lock:
            return [self._states[version] for version in sorted(self._states, reverse=True)]

    def state_of(self, version: int) -> VersionState | None:
        with self._lock:
            return self._states.get(version)

    def serving(self, name: str, version: int | None = None) -> Loaded:
        """The loaded version a request names (latest unless given); raises NOT_FOUND."""
        with self._lock:
            loaded = self._serving
        if (
            name != self.name
            or loaded is None
            or (version is not None and version != loaded.version)
        ):
            request = f"Latest({name})" if version is None else f"Specific({name}, {version})"
            raise ServingError("NOT_FOUND", f"Servable not found for request: {request}")
        return loaded

    def current_version(self) -> int | None:
        with self._lock:
            return None if self._serving is None else self._serving.version

    def unload(self) -> int | None:
        """Stop serving (state END): no version is aspired any more. The version, if any."""
        with self._lock:
            loaded, self._serving = self._serving, None
            if loaded is not None:
                self._states[loaded.version] = VersionState(loaded.version, "END")
        return None if loaded is None else loaded.version

    def _set(self, version: int, state: str, error: ServingError | None = None) -> None:
        with self._lock:
            self._states[version] = VersionState(version, state, error)

    def load(self, version: int) -> Loaded:
        """Load one version (state LOADING, then AVAILABLE); raises ServingError on failure."""
        self._set(version, "LOADING")
        path = version_dir(self.base_path, version)
        try:
            loaded = load_saved_model(path, version=version, tags=self.tags)
        except ServingError:
            self.metrics.count_load_attempt(model_path=path, success=False)
            raise
        self.metrics.count_load_attempt(model_path=path, success=True)
        return loaded

    def fail(self, version: int, error: ServingError) -> None:
        self._set(version, "END", error)

    def make_available(self, loaded: Loaded) -> None:
        """Serve this version; a previously served one goes through UNLOADING to END."""
        with self._lock:
            previous = self._serving
            self._serving = loaded
            self._states[loaded.version] = VersionState(loaded.version, "AVAILABLE")
            if previous is not None and previous.version != loaded.version:
                self._states[previous.version] = VersionState(previous.version, "END")

    def predict(
        self, loaded: Loaded, signature_name: str, inputs: dict[str, np.ndarray[Any, Any]]
    ) -> dict[str, np.ndarray[Any, Any]]:
        """Run a signature on the inputs; raises ServingError with TensorFlow's error text."""
        function = loaded.functions[signature_name or DEFAULT_SIGNATURE]
        import tensorflow as tf

        try:
            tensors = {name: tf.constant(value) for name, value in inputs.items()}
            results = function(**tensors)
        except tf.errors.OpError as exc:
            raise ServingError(code_name(exc.error_code), exc.message) from None
        except (TypeError, ValueError) as exc:
            raise ServingError("INVALID_ARGUMENT", str(exc)) from None
        return {name: np.asarray(value) for name, value in results.items()}


def signature_inputs(loaded: Loaded, signature_name: str) -> dict[str, str]:
    """A signature's inputs as name -> DataType name (GetInfoMap in http_rest_api_handler.cc)."""
    name = signature_name or DEFAULT_SIGNATURE
    if name not in loaded.inputs or name not in loaded.functions:
        raise ServingError(
            "INVALID_ARGUMENT", f'Serving signature name: "{name}" not found in signature def'
        )
    return loaded.inputs[name]


def configure_threads(*, intra_op: int, inter_op: int) -> None:
    """--tensorflow_intra/inter_op_parallelism (0: TensorFlow's choice); before any load."""
    import tensorflow as tf

    if intra_op > 0:
        tf.config.threading.set_intra_op_parallelism_threads(intra_op)
    if inter_op > 0:
        tf.config.threading.set_inter_op_parallelism_threads(inter_op)


def load_saved_model(path: str, *, version: int, tags: list[str]) -> Loaded:
    """tf.saved_model.load one version directory; raises ServingError with the loader's text."""
    import tensorflow as tf
    from google.protobuf import json_format  # type: ignore[import-untyped]
    from tensorflow.core.framework import types_pb2
    from tensorflow.core.protobuf import saved_model_pb2

    try:
        model = tf.saved_model.load(path, tags=tags)
        proto = saved_model_pb2.SavedModel()
        proto.ParseFromString((Path(path) / "saved_model.pb").read_bytes())
    except tf.errors.OpError as exc:
        raise ServingError(code_name(exc.error_code), exc.message) from None
    except OSError as exc:  # no saved_model.pb, or one that does not parse
        code = "NOT_FOUND" if "does not exist" in str(exc) else "DATA_LOSS"
        raise ServingError(code, str(exc)) from None
    except Exception as exc:  # the loader also raises ValueError, KeyError, ...
        raise ServingError("UNKNOWN", f"{type(exc).__name__}: {exc}") from None
    graph = next(
        (g for g in proto.meta_graphs if set(g.meta_info_def.tags) == set(tags)),
        proto.meta_graphs[0],
    )
    defs = {
        key: json_format.MessageToDict(
            value, preserving_proto_field_name=True, always_print_fields_with_no_presence=True
        )
        for key, value in graph.signature_def.items()
    }
    inputs = {
        key: {name: types_pb2.DataType.Name(info.dtype) for name, info in value.inputs.items()}
        for key, value in graph.signature_def.items()
    }
    return Loaded(
        version=version,
        path=path,
        functions=dict(model.signatures),
        signature_defs=defs,
        inputs=inputs,
    )
