"""Worker mode: TF_CONFIG from the Job's worker list and the pod's completion index."""

from __future__ import annotations

import json

import pytest

from ci_plugins.errors import InputError
from ci_plugins.training.kubernetes.worker import artifact_of, tf_config_from

WORKERS = json.dumps(["127.0.0.1:24000", "127.0.0.1:24001"])


def test_tf_config_names_this_pod_by_its_completion_index() -> None:
    raw = tf_config_from({"CI_PLUGINS_TRAIN_WORKERS": WORKERS, "JOB_COMPLETION_INDEX": "1"})
    assert json.loads(raw) == {
        "cluster": {"worker": ["127.0.0.1:24000", "127.0.0.1:24001"]},
        "task": {"type": "worker", "index": 1},
    }


@pytest.mark.parametrize(
    ("environ", "message"),
    [
        pytest.param(
            {"JOB_COMPLETION_INDEX": "0"},
            "--worker needs CI_PLUGINS_TRAIN_WORKERS (set by the Job that `ci-plugins train` "
            "creates)",
            id="no-worker-list",
        ),
        pytest.param(
            {"CI_PLUGINS_TRAIN_WORKERS": WORKERS},
            "--worker needs JOB_COMPLETION_INDEX (set by the Job that `ci-plugins train` creates)",
            id="not-an-indexed-job",
        ),
        pytest.param(
            {"CI_PLUGINS_TRAIN_WORKERS": WORKERS, "JOB_COMPLETION_INDEX": "2"},
            "CI_PLUGINS_TRAIN_WORKERS/JOB_COMPLETION_INDEX are unusable: worker index 2 is not "
            "in 0..1",
            id="index-outside",
        ),
        pytest.param(
            {"CI_PLUGINS_TRAIN_WORKERS": '{"a": 1}', "JOB_COMPLETION_INDEX": "0"},
            "CI_PLUGINS_TRAIN_WORKERS/JOB_COMPLETION_INDEX are unusable: not a list of addresses",
            id="not-a-list",
        ),
    ],
)
def test_a_pod_without_its_job_inputs_is_bad_input(environ: dict[str, str], message: str) -> None:
    with pytest.raises(InputError) as caught:
        tf_config_from(environ)
    assert str(caught.value) == message
    assert caught.value.exit_code == 2  # never retried by the Job's podFailurePolicy


def test_the_chief_pushes_to_the_repository_and_tag_the_job_names() -> None:
    ref, tag = artifact_of(
        {"CI_PLUGINS_TRAIN_ARTIFACT": "127.0.0.1:5000/ml/digits/train-output:digits-train-1"}
    )
    assert (ref.host, ref.repository, tag) == (
        "127.0.0.1:5000",
        "ml/digits/train-output",
        "digits-train-1",
    )
    with pytest.raises(InputError, match="is not host"):
        artifact_of({"CI_PLUGINS_TRAIN_ARTIFACT": "digits"})
