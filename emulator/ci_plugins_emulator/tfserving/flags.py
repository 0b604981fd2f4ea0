"""tensorflow_model_server's command line, parsed the way TensorFlow's flag parser does.

Matched against tensorflow/core/util/command_line_flags.cc and model_servers/main.cc:
flags are only `--name=value` (booleans also `--name`); a bad value of a known flag
prints the usage and exits 255 (main returns -1); an unknown argument is printed as
`unknown argument: X` with the usage, and the server starts anyway.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TextIO

_CPUS = os.cpu_count() or 1

# name -> (type, default, usage). Every flag of main.cc, so none of them is "unknown";
# the emulator acts on the ones Options below names and accepts the rest without effect.
FLAGS: dict[str, tuple[type, object, str]] = {
    "port": (int, 8500, "TCP port to listen on for gRPC/HTTP API (gRPC is not emulated)"),
    "grpc_socket_path": (str, "", "UNIX socket for gRPC (not emulated)"),
    "rest_api_port": (int, 0, "Port to listen on for HTTP/REST API (0: none)"),
    "rest_api_num_threads": (int, 4 * _CPUS, "Number of threads for HTTP/REST API"),
    "rest_api_timeout_in_ms": (int, 30000, "Timeout for HTTP/REST API calls"),
    "rest_api_enable_cors_support": (bool, False, "Enable CORS headers in response"),
    "enable_batching": (bool, False, "enable batching (no effect)"),
    "allow_version_labels_for_unavailable_models": (bool, False, "(no effect)"),
    "batching_parameters_file": (str, "", "(no effect)"),
    "enable_per_model_batching_parameters": (bool, False, "(no effect)"),
    "model_config_file": (str, "", "ModelServerConfig file (not emulated)"),
    "model_config_file_poll_wait_seconds": (int, 0, "(no effect)"),
    "model_name": (str, "default", "name of model"),
    "model_base_path": (str, "", "path to export"),
    "num_load_threads": (int, 0, "(no effect)"),
    "num_unload_threads": (int, 0, "(no effect)"),
    "max_num_load_retries": (int, 5, "retries after the first failed load"),
    "load_retry_interval_micros": (
        int,
        500_000,
        "interval between load retries (emulator default; TF Serving's is 1 minute)",
    ),
    "file_system_poll_wait_seconds": (int, 1, "seconds between polls for a version"),
    "flush_filesystem_caches": (bool, True, "(no effect)"),
    "tensorflow_session_parallelism": (int, 0, "(no effect)"),
    "tensorflow_session_config_file": (str, "", "(no effect)"),
    "tensorflow_intra_op_parallelism": (int, 0, "threads within an op (0: auto)"),
    "tensorflow_inter_op_parallelism": (int, 0, "ops run at once (0: auto)"),
    "use_alts_credentials": (bool, False, "(no effect)"),
    "ssl_config_file": (str, "", "(no effect)"),
    "platform_config_file": (str, "", "(no effect)"),
    "per_process_gpu_memory_fraction": (float, 0.0, "(no effect)"),
    "saved_model_tags": (str, "", "Comma-separated tags of the meta graph to load"),
    "grpc_channel_arguments": (str, "", "(no effect)"),
    "grpc_max_threads": (int, 4 * _CPUS, "(no effect)"),
    "enable_model_warmup": (bool, True, "(no effect)"),
    "num_request_iterations_for_warmup": (int, 0, "(no effect)"),
    "version": (bool, False, "Display version"),
    "monitoring_config_file": (str, "", "ascii MonitoringConfig protobuf file"),
    "remove_unused_fields_from_bundle_metagraph": (bool, True, "(no effect)"),
    "prefer_tflite_model": (bool, False, "(no effect)"),
    "num_tflite_pools": (int, _CPUS, "(no effect)"),
    "num_tflite_interpreters_per_pool": (int, 1, "(no effect)"),
    "enable_signature_method_name_check": (bool, False, "(no effect)"),
    "xla_cpu_compilation_enabled": (bool, False, "(no effect)"),
    "xla_gpu_compilation_enabled": (bool, False, "(no effect)"),
    "enable_profiler": (bool, True, "(no effect)"),
    "thread_pool_factory_config_file": (str, "", "(no effect)"),
    "mixed_precision": (str, "", "(no effect)"),
    "skip_initialize_tpu": (bool, False, "(no effect)"),
    "enable_grpc_healthcheck_service": (bool, False, "(no effect)"),
    "enable_serialization_as_tensor_content": (bool, False, "(no effect)"),
}


@dataclass(frozen=True)
class Options:
    """The flags the emulated server acts on."""

    port: int = 8500
    rest_api_port: int = 0
    rest_api_enable_cors_support: bool = False
    model_name: str = "default"
    model_base_path: str = ""
    model_config_file: str = ""
    max_num_load_retries: int = 5
    load_retry_interval_micros: int = 500_000
    file_system_poll_wait_seconds: int = 1
    saved_model_tags: str = ""
    monitoring_config_file: str = ""
    tensorflow_intra_op_parallelism: int = 0
    tensorflow_inter_op_parallelism: int = 0
    version: bool = False
    unknown: tuple[str, ...] = field(default=())


class UsageError(Exception):
    """A known flag got a value it cannot take (the server prints the usage, exits 255)."""


def usage(program: str = "tensorflow_model_server") -> str:
    lines = [f"usage: {program}", "Flags:"]
    for name, (kind, default, text) in FLAGS.items():
        shown = str(default).lower() if kind is bool else str(default)
        shown = f'"{shown}"' if kind is str else shown
        lines.append(f"\t--{name}={shown:<24}\t{_TYPE_NAMES[kind]}\t{text}")
    return "\n".join(lines) + "\n"


_TYPE_NAMES = {int: "int32", str: "string", bool: "bool", float: "float"}


def parse(argv: Sequence[str]) -> Options:
    """Options from tensorflow_model_server's arguments; raises UsageError on a bad value."""
    values: dict[str, object] = {}
    unknown: list[str] = []
    for index, arg in enumerate(argv):
        if arg == "--":
            unknown.extend(argv[index:])
            break
        parsed = _parse_one(arg)
        if parsed is None:
            unknown.append(arg)
        else:
            values[parsed[0]] = parsed[1]
    if unknown and unknown[0] == "--help":
        raise UsageError("--help")
    known = {key: value for key, value in values.items() if key in Options.__dataclass_fields__}
    return Options(**known, unknown=tuple(unknown))  # type: ignore[arg-type]


def _parse_one(arg: str) -> tuple[str, object] | None:
    if not arg.startswith("--"):
        return None
    name, equals, raw = arg[2:].partition("=")
    spec = FLAGS.get(name)
    if spec is None or (spec[0] is not bool and not equals):
        return None
    kind = spec[0]
    try:
        return name, _convert(kind, raw, bare=not equals)
    except ValueError:
        raise UsageError(f"Couldn't interpret value {equals}{raw} for flag {name}.") from None


def _convert(kind: type, raw: str, *, bare: bool) -> object:
    if kind is bool:
        if bare or raw == "true":
            return True
        if raw == "false":
            return False
        raise ValueError(raw)
    if kind is int:
        return int(raw.strip())
    if kind is float:
        return float(raw)
    return raw


def warn_unknown(options: Options, out: TextIO = sys.stdout) -> None:
    """Print `unknown argument: X` and the usage, as main.cc does (it then starts anyway)."""
    if options.unknown:
        out.write(f"unknown argument: {options.unknown[0]}\n{usage()}")
        out.flush()


def entrypoint_args(env: dict[str, str]) -> list[str]:
    """The flags the tensorflow/serving image's ENTRYPOINT passes before the container args.

    The image runs `tensorflow_model_server --port=8500 --rest_api_port=8501
    --model_name=${MODEL_NAME} --model_base_path=${MODEL_BASE_PATH}/${MODEL_NAME} "$@"`
    (tensorflow_serving/tools/docker/Dockerfile, MODEL_NAME=model, MODEL_BASE_PATH=/models):
    a pod that sets no `command` gets these first; later flags win.
    """
    name = env.get("MODEL_NAME", "model")
    base = env.get("MODEL_BASE_PATH", "/models")
    return [
        "--port=8500",
        "--rest_api_port=8501",
        f"--model_name={name}",
        f"--model_base_path={base}/{name}",
    ]
