"""Plain model.fit is refused on more than one worker (keras-team/keras#20585)."""

from __future__ import annotations

import pytest

from ci_plugins.errors import InputError
from ci_plugins.training.devices import StrategyChoice
from ci_plugins.training.kubernetes.keras_fit import check_fit


def multi_worker(workers: int) -> StrategyChoice:
    return StrategyChoice(
        kind="multi_worker", devices=("/cpu:0",), reason="TF_CONFIG", workers=workers
    )


def test_plain_fit_on_two_workers_is_bad_input_naming_the_keras_issue_and_the_way_out() -> None:
    with pytest.raises(InputError) as raised:
        check_fit(multi_worker(2), custom_fit=False, custom_evaluate=False)
    assert raised.value.exit_code == 2  # the Job's podFailurePolicy never retries it
    assert str(raised.value) == (
        "TrainSpec has no fit=/evaluate= and 2 workers train together: Keras 3's model.fit "
        "and model.evaluate do not work under MultiWorkerMirroredStrategy "
        "(https://github.com/keras-team/keras/issues/20585)"
    )
    assert "fit=your_loop" in str(raised.value.hint)
    assert "examples/digits/model.py" in str(raised.value.hint)


def test_a_custom_loop_with_keras_evaluate_is_refused_too() -> None:
    with pytest.raises(InputError, match=r"no evaluate= and 3 workers .* model\.evaluate do"):
        check_fit(multi_worker(3), custom_fit=True, custom_evaluate=False)


@pytest.mark.parametrize(
    ("choice", "custom"),
    [
        pytest.param(multi_worker(2), True, id="custom-loop-and-evaluate-on-two-workers"),
        pytest.param(multi_worker(1), False, id="fit-on-one-worker"),
        pytest.param(
            StrategyChoice(kind="mirrored", devices=("/gpu:0", "/gpu:1"), reason="2 GPUs"),
            False,
            id="fit-on-local-gpus",
        ),
        pytest.param(
            StrategyChoice(kind="default", devices=("/cpu:0",), reason="CPU"),
            False,
            id="fit-locally",
        ),
    ],
)
def test_custom_fit_and_evaluate_one_worker_or_a_local_strategy_pass(
    choice: StrategyChoice, custom: bool
) -> None:
    check_fit(choice, custom_fit=custom, custom_evaluate=custom)
