"""The emulated tensorflow_model_server serves a real SavedModel the way TF Serving does.

One server process (module-scoped) starts on an empty base path, waits for a version,
loads the tiny model once it appears and answers status, metadata, predict and metrics;
other processes show how start-up fails.
"""

from __future__ import annotations

import json
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import requests
from ci_plugins_emulator.tfserving.metrics import Metrics
from ci_plugins_emulator.tfserving.rest import RestApi
from ci_plugins_emulator.tfserving.servable import Servable
from prometheus_client.parser import text_string_to_metric_families

from tests.support.cli import clean_env
from tests.support.registry import free_port

MODEL = "digits"
METRICS_PATH = "/monitoring/prometheus/metrics"
# What charts/model-server/templates/_pod.tpl renders into monitoring.config.
MONITORING = f'prometheus_config {{\n  enable: true,\n  path: "{METRICS_PATH}"\n}}\n'
START_TIMEOUT = 300  # first TensorFlow import on a busy 2-core machine


@dataclass
class Server:
    """A running `python -m ci_plugins_emulator.tfserving` and its captured output."""

    process: subprocess.Popen[bytes]
    port: int
    logs: Path

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def stdout(self) -> str:
        return (self.logs / "stdout").read_text()

    def stderr(self) -> str:
        return (self.logs / "stderr").read_text()

    def rss_mb(self) -> float:
        status = Path(f"/proc/{self.process.pid}/status").read_text()
        line = next(line for line in status.splitlines() if line.startswith("VmRSS:"))
        return int(line.split()[1]) / 1024

    def stop(self) -> int:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        return self.process.wait(timeout=60)


def start_server(logs: Path, *args: str) -> Server:
    logs.mkdir(parents=True, exist_ok=True)
    port = free_port()
    with (logs / "stdout").open("wb") as out, (logs / "stderr").open("wb") as err:
        process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "ci_plugins_emulator.tfserving",
                f"--rest_api_port={port}",
                *args,
            ],
            stdout=out,
            stderr=err,
            env=clean_env(),
        )
    return Server(process=process, port=port, logs=logs)


def wait_for(condition: Callable[[], bool], *, server: Server, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if server.process.poll() is not None:
            raise AssertionError(f"server exited {server.process.returncode}:\n{server.stderr()}")
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out; server log:\n{server.stderr()}")
        time.sleep(0.2)


def call(server: Server, path: str, body: Any = None, *, raw: bytes | None = None) -> Any:
    """(HTTP status, parsed JSON body) of a GET, or a POST when a body is given."""
    try:
        if body is None and raw is None:
            response = requests.get(server.url + path, timeout=30)
        else:
            data = raw if raw is not None else json.dumps(body).encode()
            response = requests.post(server.url + path, data=data, timeout=30)
    except requests.ConnectionError:
        return None, None
    return response.status_code, response.json()


@dataclass(frozen=True)
class Exported:
    path: Path
    predict: Callable[[np.ndarray[Any, Any]], np.ndarray[Any, Any]]


@pytest.fixture(scope="module")
def exported(tmp_path_factory: pytest.TempPathFactory) -> Exported:
    """A tiny trained Keras classifier exported as a SavedModel, and its own predictions."""
    import keras
    import tensorflow as tf

    keras.utils.set_random_seed(7)
    rng = np.random.default_rng(7)
    x = rng.normal(size=(64, 4)).astype("float32")
    y = (x[:, 0] > 0).astype("int64") + (x[:, 1] > 0).astype("int64")
    model = keras.Sequential(
        [keras.Input((4,), name="x"), keras.layers.Dense(3, activation="softmax")]
    )
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    model.fit(x, y, epochs=1, verbose=0)
    path = tmp_path_factory.mktemp("export") / "1"
    model.export(str(path), verbose=False)
    signature = tf.saved_model.load(str(path)).signatures["serving_default"]

    def predict(inputs: np.ndarray[Any, Any]) -> np.ndarray[Any, Any]:
        return np.asarray(signature(x=tf.constant(inputs, dtype=tf.float32))["output_0"])

    return Exported(path=path, predict=predict)


@dataclass
class Running:
    server: Server
    base: Path
    waiting_rss_mb: float
    start_seconds: float


@pytest.fixture(scope="module")
def running(tmp_path_factory: pytest.TempPathFactory, exported: Exported) -> Iterator[Running]:
    root = tmp_path_factory.mktemp("serving")
    base = root / "models" / MODEL
    base.mkdir(parents=True)
    (root / "monitoring.config").write_text(MONITORING)
    server = start_server(
        root / "logs",
        "--port=8500",
        f"--model_name={MODEL}",
        f"--model_base_path={base}",
        f"--monitoring_config_file={root / 'monitoring.config'}",
        "--file_system_poll_wait_seconds=1",
        "--bogus_flag=1",
    )
    try:
        wait_for(lambda: "No versions of servable" in server.stderr(), server=server, timeout=60)
        waiting_rss = server.rss_mb()
        started = time.monotonic()
        shutil.copytree(exported.path, root / "staging")
        (root / "staging").rename(base / "1")  # appears at once, as an init container's copy
        wait_for(
            lambda: call(server, f"/v1/models/{MODEL}")[0] == 200,
            server=server,
            timeout=START_TIMEOUT,
        )
        yield Running(server, base, waiting_rss, time.monotonic() - started)
    finally:
        exit_code = server.stop()
    # No signal handler, as in tensorflow_model_server: SIGTERM ends the process.
    assert exit_code == -signal.SIGTERM, server.stderr()


INPUTS = np.array([[0.5, -1.0, 2.0, 0.0], [1.5, 0.25, -0.75, 3.0]], dtype=np.float32)


def test_a_server_waiting_for_a_version_logs_tf_servings_warning_and_stays_small(
    running: Running,
) -> None:
    assert (
        f"No versions of servable {MODEL} found under base path {running.base}. Did you "
        "forget to name your leaf directory as a number (eg. '/1/')?"
    ) in running.server.stderr()
    # TensorFlow is imported only once there is a version to load.
    assert running.waiting_rss_mb < 250


def test_an_unknown_flag_is_reported_and_the_server_starts_anyway(running: Running) -> None:
    assert "unknown argument: --bogus_flag=1\nusage: tensorflow_model_server" in (
        running.server.stdout()
    )


def test_status_reports_the_loaded_version_available(running: Running) -> None:
    assert call(running.server, f"/v1/models/{MODEL}") == (
        200,
        {
            "model_version_status": [
                {
                    "version": "1",
                    "state": "AVAILABLE",
                    "status": {"error_code": "OK", "error_message": ""},
                }
            ]
        },
    )
    status, body = call(running.server, f"/v1/models/{MODEL}/versions/1")
    assert (status, body["model_version_status"][0]["state"]) == (200, "AVAILABLE")


@pytest.mark.parametrize(
    ("path", "status", "error"),
    [
        pytest.param(
            f"/v1/models/{MODEL}/versions/7",
            404,
            f"Could not find version 7 of model {MODEL}",
            id="unknown-version",
        ),
        pytest.param(
            "/v1/models/nope", 404, "Could not find any versions of model nope", id="unknown-model"
        ),
        pytest.param("/v1/models", 400, "Missing model name in request.", id="no-name"),
        pytest.param(
            f"/v1/models/{MODEL}:predict",
            400,
            f"Malformed request: GET /v1/models/{MODEL}:predict",
            id="get-predict",
        ),
        pytest.param(
            "/v1/models/nope/metadata",
            404,
            "Servable not found for request: Latest(nope)",
            id="unknown-metadata",
        ),
    ],
)
def test_bad_status_requests_get_tf_servings_errors(
    running: Running, path: str, status: int, error: str
) -> None:
    assert call(running.server, path) == (status, {"error": error})


def test_metadata_holds_the_savedmodels_signature_defs(running: Running) -> None:
    status, body = call(running.server, f"/v1/models/{MODEL}/metadata")
    assert status == 200
    assert body["model_spec"] == {"name": MODEL, "signature_name": "", "version": "1"}
    signature = body["metadata"]["signature_def"]["signature_def"]["serving_default"]
    assert signature["method_name"] == "tensorflow/serving/predict"
    x = signature["inputs"]["x"]
    assert x["dtype"] == "DT_FLOAT"
    assert [dim["size"] for dim in x["tensor_shape"]["dim"]] == ["-1", "4"]
    assert list(signature["outputs"]) == ["output_0"]


def test_row_predictions_equal_the_savedmodels_own_outputs(
    running: Running, exported: Exported
) -> None:
    status, body = call(
        running.server, f"/v1/models/{MODEL}:predict", {"instances": INPUTS.tolist()}
    )
    assert status == 200
    assert list(body) == ["predictions"]
    np.testing.assert_array_equal(
        np.array(body["predictions"], np.float32), exported.predict(INPUTS)
    )


def test_columnar_predictions_equal_the_savedmodels_own_outputs(
    running: Running, exported: Exported
) -> None:
    status, body = call(
        running.server,
        f"/v1/models/{MODEL}/versions/1:predict",
        {"signature_name": "serving_default", "inputs": {"x": INPUTS[:1].tolist()}},
    )
    assert status == 200
    np.testing.assert_array_equal(
        np.array(body["outputs"], np.float32), exported.predict(INPUTS[:1])
    )


@pytest.mark.parametrize(
    ("path", "body", "status", "error"),
    [
        pytest.param(
            f"/v1/models/{MODEL}:predict",
            {"instances": [[1.0, 2.0, 3.0]]},
            400,
            "Matrix size-incompatible: In[0]: [1,3], In[1]: [4,3]",
            id="wrong-shape",
        ),
        pytest.param(
            f"/v1/models/{MODEL}:predict",
            {"instances": [["a", 1, 2, 3]]},
            400,
            'JSON Value: "a" Type: String is not of expected type: float',
            id="wrong-type",
        ),
        pytest.param(
            f"/v1/models/{MODEL}:predict",
            {"examples": []},
            400,
            "Missing 'inputs' or 'instances' key",
            id="no-inputs",
        ),
        pytest.param(
            f"/v1/models/{MODEL}:predict",
            {"signature_name": "nope", "instances": [[1, 2, 3, 4]]},
            400,
            'Serving signature name: "nope" not found in signature def',
            id="unknown-signature",
        ),
        pytest.param(
            "/v1/models/nope:predict",
            {"instances": [[1, 2, 3, 4]]},
            404,
            "Servable not found for request: Latest(nope)",
            id="unknown-model",
        ),
        pytest.param(
            f"/v1/models/{MODEL}/versions/9:predict",
            {"instances": [[1, 2, 3, 4]]},
            404,
            f"Servable not found for request: Specific({MODEL}, 9)",
            id="unknown-version",
        ),
    ],
)
def test_bad_predict_requests_get_tf_servings_error_bodies(
    running: Running, path: str, body: Any, status: int, error: str
) -> None:
    answer_status, answer = call(running.server, path, body)
    assert answer_status == status
    assert list(answer) == ["error"]
    assert error in answer["error"]


def test_a_body_that_is_not_json_is_a_parse_error(running: Running) -> None:
    status, body = call(running.server, f"/v1/models/{MODEL}:predict", raw=b"{not json")
    assert status == 400
    assert body["error"].startswith("JSON Parse error: ")


def metric_samples(server: Server) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    response = requests.get(server.url + METRICS_PATH, timeout=30)
    assert (response.status_code, response.headers["Content-Type"]) == (200, "text/plain")
    page = response.text
    found = {}
    for family in text_string_to_metric_families(page):
        for sample in family.samples:
            # The parser names counter samples <name>_total; the page has <name>.
            name = family.name if family.type == "counter" else sample.name
            found[(name, frozenset(sample.labels.items()))] = sample.value
    return found


def test_metrics_count_requests_by_status_and_time_successful_ones(running: Running) -> None:
    server = running.server
    count = ":tensorflow:serving:request_count"
    ok = (count, frozenset({("model_name", MODEL), ("status", "OK")}))
    bad = (count, frozenset({("model_name", MODEL), ("status", "INVALID_ARGUMENT")}))
    latency = (
        ":tensorflow:serving:request_latency_count",
        frozenset({("model_name", MODEL), ("API", "predict"), ("entrypoint", "REST")}),
    )
    before = metric_samples(server)
    for _ in range(3):
        call(server, f"/v1/models/{MODEL}:predict", {"instances": INPUTS.tolist()})
    call(server, f"/v1/models/{MODEL}:predict", {"instances": [[1.0]]})
    after = metric_samples(server)
    assert after[ok] - before.get(ok, 0) == 3
    assert after[bad] - before.get(bad, 0) == 1
    assert after[latency] - before.get(latency, 0) == 3
    loads = ":tensorflow:cc:saved_model:load_attempt_count"
    path = str(running.base / "1")
    assert after[(loads, frozenset({("model_path", path), ("status", "success")}))] == 1


def test_an_unknown_path_is_not_found(running: Running) -> None:
    assert requests.get(running.server.url + "/metrics", timeout=30).status_code == 404


def test_start_up_time_and_memory_of_one_server_are_recorded(running: Running) -> None:
    # Measured, not asserted against a budget (see benchmarks/tfserving_start.py).
    print(
        f"tfserving: version seen -> AVAILABLE in {running.start_seconds:.1f}s, "
        f"RSS {running.server.rss_mb():.0f} MB serving, {running.waiting_rss_mb:.0f} MB waiting"
    )
    assert running.server.rss_mb() > running.waiting_rss_mb


def test_a_newer_version_replaces_the_served_one(running: Running, exported: Exported) -> None:
    # Last in this module: it changes what the shared server serves.
    shutil.copytree(exported.path, running.base.parent / "v2")
    (running.base.parent / "v2").rename(running.base / "2")
    server = running.server
    wait_for(
        lambda: (
            call(server, f"/v1/models/{MODEL}/versions/2")[0] == 200
            and call(server, f"/v1/models/{MODEL}/versions/1")[1]["model_version_status"][0][
                "state"
            ]
            == "END"
        ),
        server=server,
        timeout=120,
    )
    status, body = call(server, f"/v1/models/{MODEL}")
    states = {item["version"]: item["state"] for item in body["model_version_status"]}
    assert (status, states) == (200, {"2": "AVAILABLE", "1": "END"})
    assert call(server, f"/v1/models/{MODEL}/metadata")[1]["model_spec"]["version"] == "2"


def test_removing_every_version_unloads_the_model(running: Running) -> None:
    # After the swap: the latest policy aspires no version once none is on disk.
    server = running.server
    for version in running.base.iterdir():
        shutil.rmtree(version)
    wait_for(
        lambda: (
            call(server, f"/v1/models/{MODEL}/versions/2")[1]["model_version_status"][0]["state"]
            == "END"
        ),
        server=server,
        timeout=60,
    )
    status, body = call(server, f"/v1/models/{MODEL}:predict", {"instances": INPUTS.tolist()})
    assert (status, body) == (404, {"error": f"Servable not found for request: Latest({MODEL})"})
    assert f"Done unloading servable version {{name: {MODEL} version: 2}}" in server.stderr()


# -- several named inputs and outputs, through the same handler in this process ---------


@pytest.fixture(scope="module")
def two_headed(tmp_path_factory: pytest.TempPathFactory) -> tuple[RestApi, Any]:
    """A SavedModel with inputs image and scale and two outputs, behind RestApi."""
    import keras
    import tensorflow as tf

    image = keras.Input((4,), name="image")
    scale = keras.Input((1,), name="scale")
    probabilities = keras.layers.Dense(3, activation="softmax")(image)
    scaled = keras.layers.Multiply()([keras.layers.Dense(1)(image), scale])
    model = keras.Model({"image": image, "scale": scale}, [probabilities, scaled])
    path = tmp_path_factory.mktemp("two") / "1"
    model.export(str(path), verbose=False)
    metrics = Metrics()
    servable = Servable(name="two", base_path=str(path.parent), tags=["serve"], metrics=metrics)
    servable.make_available(servable.load(1))
    signature = tf.saved_model.load(str(path)).signatures["serving_default"]
    return RestApi(servable, metrics), signature


def test_named_inputs_and_outputs_in_row_format(two_headed: tuple[RestApi, Any]) -> None:
    import tensorflow as tf

    api, signature = two_headed
    rows = [{"image": [0.1, 0.2, 0.3, 0.4], "scale": [2.0]}, {"image": [1, 0, 0, 1], "scale": [-1]}]
    status, body = api.handle(
        "POST", "/v1/models/two:predict", json.dumps({"instances": rows}).encode()
    )
    assert status == 200
    expected = signature(
        image=tf.constant([row["image"] for row in rows], tf.float32),
        scale=tf.constant([row["scale"] for row in rows], tf.float32),
    )
    predictions = json.loads(body)["predictions"]
    assert [sorted(item) for item in predictions] == [sorted(expected)] * 2
    for name, tensor in expected.items():
        got = np.array([item[name] for item in predictions], np.float32)
        np.testing.assert_array_equal(got, np.asarray(tensor))


def test_named_inputs_and_outputs_in_columnar_format(two_headed: tuple[RestApi, Any]) -> None:
    import tensorflow as tf

    api, signature = two_headed
    inputs = {"image": [[0.5, 0.5, 0.5, 0.5]], "scale": [[3.0]]}
    status, body = api.handle(
        "POST", "/v1/models/two:predict", json.dumps({"inputs": inputs}).encode()
    )
    assert status == 200
    outputs = json.loads(body)["outputs"]
    expected = signature(**{name: tf.constant(value, tf.float32) for name, value in inputs.items()})
    assert sorted(outputs) == sorted(expected)
    for name, tensor in expected.items():
        np.testing.assert_array_equal(np.array(outputs[name], np.float32), np.asarray(tensor))


def test_a_missing_named_input_is_named_in_the_error(two_headed: tuple[RestApi, Any]) -> None:
    api, _ = two_headed
    body = json.dumps({"instances": [{"image": [1, 2, 3, 4]}]}).encode()
    status, answer = api.handle("POST", "/v1/models/two:predict", body)
    assert status == 400
    assert "keys must be equal to: image,scale" in json.loads(answer)["error"]


# -- start-up failures: each its own process ------------------------------------------


def test_a_model_that_cannot_load_exits_255_with_the_loaders_error(tmp_path: Path) -> None:
    version = tmp_path / "models" / "broken" / "1"
    version.mkdir(parents=True)
    (version / "saved_model.pb").write_bytes(b"this is not a SavedModel")
    server = start_server(
        tmp_path / "logs",
        "--model_name=broken",
        f"--model_base_path={version.parent}",
        "--max_num_load_retries=1",
        "--load_retry_interval_micros=0",
    )
    assert server.process.wait(timeout=START_TIMEOUT) == 255
    log = server.stderr()
    assert log.count("Loading servable: {name: broken version: 1} failed: ") == 2
    assert "Retrying of Loading servable: {name: broken version: 1} retry: 1" in log
    # The loader's own error: the file is not a SavedModel protobuf.
    assert "failed: DATA_LOSS: Cannot parse file" in log
    assert "Error parsing message with type 'tensorflow.SavedModel'" in log
    assert server.stdout().startswith(
        "Failed to start server. Error: UNKNOWN: 1 model(s) did not become available: "
        "{{name: broken version: 1} due to error: "
    )


def test_a_missing_base_path_is_logged_on_every_poll_and_the_server_keeps_waiting(
    tmp_path: Path,
) -> None:
    missing = tmp_path / "models" / "absent"
    server = start_server(tmp_path / "logs", "--model_name=absent", f"--model_base_path={missing}")
    try:
        message = (
            "FileSystemStoragePathSource encountered a filesystem access error: Could not find "
            f"base path {missing} for servable absent with error NOT_FOUND"
        )
        wait_for(lambda: server.stderr().count(message) >= 2, server=server, timeout=60)
        assert call(server, "/v1/models/absent") == (None, None)  # REST waits for the model
    finally:
        assert server.stop() == -signal.SIGTERM


@pytest.mark.parametrize(
    ("args", "stdout"),
    [
        pytest.param(
            ["--rest_api_port=abc", "--model_base_path=/m"],
            "usage: tensorflow_model_server",
            id="bad-flag-value",
        ),
        pytest.param(
            [],
            "Failed to start server. Error: INVALID_ARGUMENT: Both "
            "server_options.model_base_path and server_options.model_config_file are empty!",
            id="no-base-path",
        ),
        pytest.param(
            ["--port=0", "--model_base_path=/m"],
            "Failed to start server. Error: INVALID_ARGUMENT: At least one of "
            "server_options.grpc_port or server_options.grpc_socket_path must be set.",
            id="no-grpc-port",
        ),
    ],
)
def test_bad_start_options_exit_255_as_tensorflow_model_server_does(
    tmp_path: Path, args: list[str], stdout: str
) -> None:
    server = start_server(tmp_path / "logs", *args)
    assert server.process.wait(timeout=60) == 255
    assert stdout in server.stdout()


def test_a_missing_base_path_is_logged_as_tf_serving_logs_it_every_poll(tmp_path: Path) -> None:
    from ci_plugins.verify.readiness.no_model import NoVersion, find_no_version

    base = tmp_path / "models" / "digits"
    server = start_server(
        tmp_path / "logs",
        "--port=8500",
        f"--model_name={MODEL}",
        f"--model_base_path={base}",
        "--file_system_poll_wait_seconds=1",
    )
    line = (
        "FileSystemStoragePathSource encountered a filesystem access error: Could not find "
        f"base path {base} for servable {MODEL} with error NOT_FOUND: {base} not found"
    )
    try:
        wait_for(lambda: server.stderr().count(line) >= 2, server=server, timeout=60)
        assert " E file_system_storage_path_source.cc] " + line in server.stderr()
        # verify's no-model rule reads exactly this line (and the server stays up, unready)
        assert find_no_version(server.stderr()) == NoVersion(MODEL, str(base))
        assert server.process.poll() is None
    finally:
        server.stop()
