"""A TensorFlow-Serving-compatible model server on real TensorFlow, for the local cluster.

Interface (what the kubelet runs for a `tensorflow/serving` container):

    [sys.executable, "-m", "ci_plugins_emulator.tfserving", *container_args]

with the container's environment, where container_args are tensorflow_model_server's
flags (`--port`, `--rest_api_port`, `--model_name`, `--model_base_path`,
`--monitoring_config_file`, `--file_system_poll_wait_seconds`, `--max_num_load_retries`,
`--load_retry_interval_micros`, `--saved_model_tags`, `--rest_api_enable_cors_support`;
every other flag of tensorflow_model_server is accepted without effect). A container with
no `command` runs the image's ENTRYPOINT, whose flags `flags.entrypoint_args(env)` gives
(put them before the container's args). The REST API listens on 127.0.0.1:<rest_api_port>.
SIGTERM and SIGINT end the process at once, as they end tensorflow_model_server (it has
no handlers: the kubelet sees 128 + the signal). It exits 255 when it cannot start (bad
flag value, no --model_base_path, a version that fails to load after its retries, a
monitoring config that does not parse). While no version exists under the base path it
keeps polling and logging TF Serving's warning, without importing TensorFlow; the REST
port opens only once the first version is AVAILABLE (as in TF Serving, so probes see
connection refused until then). A REST port that cannot be bound is logged and the
process keeps running, as TF Serving does (it would still serve gRPC). A newer version
that appears later is loaded (LOADING) and replaces the served one (END); when no
version is left on disk the model is unloaded (END), as the latest-version policy does.

Matched against tensorflow/serving (master, 2026-07):
- g3doc/api_rest.md: the endpoints, row/columnar request and response formats,
  `{"error": ...}` bodies.
- model_servers/http_server.cc: error code -> HTTP status, /v1/ dispatch, the Prometheus
  path, request_count for every request and request_latency for successful ones (API =
  the method, entrypoint = REST).
- model_servers/http_rest_api_handler.cc, http_rest_api_util.cc: path regexes, "Malformed
  request", "Missing model name in request.", status JSON (model_version_status,
  version as a string, state and status {error_code, error_message}), metadata JSON
  (model_spec + metadata.signature_def.signature_def from the SavedModel's SignatureDefs).
- util/json_tensor.cc: JSON -> tensor value checks, shape from nesting and their error
  texts; answers `predictions`/`outputs`, floats written as the shortest round-trip text.
- util/prometheus_exporter.cc, servables/tensorflow/util.cc and TensorFlow's
  cc/saved_model/loader.cc: metric names, labels, buckets and the exposition format.
- model_servers/main.cc, server.cc, server_core.cc, core/loader_harness.cc,
  sources/storage_path/file_system_storage_path_source.cc: flags, start-up checks, log
  lines, waiting for a first version, load retries, exit status.

Deviations (the emulator is not TF Serving):
- Models load with `tf.saved_model.load` (TF2 signature functions), not a C++ Session:
  predictions are the same numbers; TensorFlow's error texts differ in their node names.
- No gRPC (`--port` is only checked), no classify/regress (501), no model config file, no
  version labels, no batching; one model per process; 127.0.0.1 only.
- The default --load_retry_interval_micros is 0.5 s (TF Serving: 1 minute), so a model
  that cannot load ends the process in seconds; the kubelet turns that exit into
  CrashLoopBackOff evidence with the loader's error in the log (TF Serving exits the same
  way, only minutes later).
- TF Serving's JSON debug strings in error messages are rapidjson-pretty; here compact.
"""
