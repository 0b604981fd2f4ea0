"""Strategy selection and require_gpu: pure rules, tested without a GPU."""

from __future__ import annotations

import json

import pytest

from ci_plugins.errors import ExternalError, InputError
from ci_plugins.training.devices import Devices, choose_strategy, require_gpu

CPU_ONLY = Devices(gpus=())
ONE_GPU = Devices(gpus=("GPU:0 NVIDIA L4 (compute 8.9)",))
FOUR_GPUS = Devices(gpus=tuple(f"GPU:{i} NVIDIA A100" for i in range(4)))


def tf_config(task_type: str, index: int, *, chief: bool = False, workers: int = 2) -> str:
    cluster: dict[str, list[str]] = {"worker": [f"w{i}:2222" for i in range(workers)]}
    if chief:
        cluster["chief"] = ["c0:2222"]
    return json.dumps({"cluster": cluster, "task": {"type": task_type, "index": index}})


def test_no_gpu_trains_on_the_cpu_with_the_default_strategy() -> None:
    choice = choose_strategy(CPU_ONLY, tf_config=None)
    assert (choice.kind, choice.devices, choice.chief) == ("default", ("CPU:0",), True)
    assert "no GPU" in choice.reason


def test_one_gpu_trains_there_with_the_default_strategy() -> None:
    choice = choose_strategy(ONE_GPU, tf_config=None)
    assert (choice.kind, choice.devices) == ("default", ONE_GPU.gpus)


def test_several_gpus_use_mirrored_strategy_on_all_of_them() -> None:
    choice = choose_strategy(FOUR_GPUS, tf_config=None)
    assert (choice.kind, choice.devices) == ("mirrored", FOUR_GPUS.gpus)
    assert "4 GPUs" in choice.reason


@pytest.mark.parametrize("devices", [CPU_ONLY, ONE_GPU, FOUR_GPUS], ids=["cpu", "1gpu", "4gpu"])
def test_tf_config_selects_multi_worker_mirrored_strategy(devices: Devices) -> None:
    choice = choose_strategy(devices, tf_config=tf_config("worker", 1, workers=3))
    assert (choice.kind, choice.workers, choice.chief) == ("multi_worker", 3, False)
    assert "worker:1" in choice.reason


@pytest.mark.parametrize(
    ("config", "chief"),
    [
        pytest.param(tf_config("worker", 0), True, id="worker-0-without-chief"),
        pytest.param(tf_config("worker", 0, chief=True), False, id="worker-0-with-chief"),
        pytest.param(tf_config("chief", 0, chief=True), True, id="chief"),
    ],
)
def test_only_the_chief_writes_outputs(config: str, chief: bool) -> None:
    assert choose_strategy(ONE_GPU, tf_config=config).chief is chief


def test_empty_tf_config_counts_as_unset() -> None:
    assert choose_strategy(FOUR_GPUS, tf_config="  ").kind == "mirrored"


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        pytest.param("{not json", "TF_CONFIG is not valid JSON", id="not-json"),
        pytest.param('{"cluster": {}}', "TF_CONFIG must hold", id="no-task"),
        pytest.param(tf_config("worker", 5), "task worker:5 is not in its cluster", id="index"),
    ],
)
def test_malformed_tf_config_is_bad_input(raw: str, message: str) -> None:
    with pytest.raises(InputError, match=message):
        choose_strategy(ONE_GPU, tf_config=raw)


def test_require_gpu_without_gpu_names_the_visible_devices() -> None:
    with pytest.raises(ExternalError) as error:
        require_gpu(Devices(gpus=(), cpus=("CPU:0",)), {"CUDA_VISIBLE_DEVICES": ""})
    assert error.value.exit_code == 3
    assert "devices: CPU:0" in str(error.value)
    assert "CUDA_VISIBLE_DEVICES=''" in str(error.value)


def test_require_gpu_with_a_gpu_passes() -> None:
    require_gpu(ONE_GPU, {})
