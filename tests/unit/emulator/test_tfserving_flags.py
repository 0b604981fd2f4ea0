"""The emulated model server reads tensorflow_model_server's flags as TensorFlow's parser does."""

from __future__ import annotations

import io

import pytest
from ci_plugins_emulator.tfserving import flags


def test_flags_the_chart_passes_are_read() -> None:
    options = flags.parse(
        [
            "--port=8500",
            "--rest_api_port=8501",
            "--model_name=digits",
            "--model_base_path=/models/digits",
            "--monitoring_config_file=/etc/model-server/monitoring.config",
        ]
    )
    assert (options.port, options.rest_api_port) == (8500, 8501)
    assert (options.model_name, options.model_base_path) == ("digits", "/models/digits")
    assert options.monitoring_config_file == "/etc/model-server/monitoring.config"
    assert options.unknown == ()


@pytest.mark.parametrize(
    ("arg", "expected"),
    [
        pytest.param("--rest_api_enable_cors_support", True, id="bare"),
        pytest.param("--rest_api_enable_cors_support=true", True, id="true"),
        pytest.param("--rest_api_enable_cors_support=false", False, id="false"),
    ],
)
def test_boolean_flags_take_a_bare_name_or_true_false(arg: str, expected: bool) -> None:
    assert flags.parse([arg]).rest_api_enable_cors_support is expected


def test_the_last_occurrence_of_a_flag_wins() -> None:
    env = {"MODEL_NAME": "digits"}
    options = flags.parse([*flags.entrypoint_args(env), "--rest_api_port=9000"])
    assert options.rest_api_port == 9000
    assert options.model_base_path == "/models/digits"


def test_unknown_arguments_are_kept_and_reported_like_main_cc() -> None:
    # main.cc prints "unknown argument" and the usage, then starts the server anyway.
    options = flags.parse(["--model_name=m", "--no_such_flag=1", "--model_base_path", "/m"])
    assert options.unknown == ("--no_such_flag=1", "--model_base_path", "/m")
    assert options.model_base_path == ""
    out = io.StringIO()
    flags.warn_unknown(options, out)
    assert out.getvalue().startswith("unknown argument: --no_such_flag=1\nusage: ")
    assert "--rest_api_port=0" in out.getvalue()


@pytest.mark.parametrize(
    "arg",
    [
        pytest.param("--rest_api_port=abc", id="int"),
        pytest.param("--enable_batching=yes", id="bool"),
        pytest.param("--per_process_gpu_memory_fraction=half", id="float"),
    ],
)
def test_a_bad_value_of_a_known_flag_is_a_usage_error(arg: str) -> None:
    with pytest.raises(flags.UsageError, match="Couldn't interpret value"):
        flags.parse([arg])


def test_help_is_a_usage_error() -> None:
    with pytest.raises(flags.UsageError):
        flags.parse(["--help"])


def test_the_image_entrypoint_defaults_follow_the_dockerfile() -> None:
    assert flags.entrypoint_args({}) == [
        "--port=8500",
        "--rest_api_port=8501",
        "--model_name=model",
        "--model_base_path=/models/model",
    ]
