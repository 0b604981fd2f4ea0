from pathlib import Path

import pytest

from tests.support.models import tiny_savedmodel
from tests.support.verify import verify_env

__all__ = ["model_dir", "verify_env"]


@pytest.fixture(scope="session")
def model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A real SavedModel (version 3) for tensorflow/serving pods, built once per session."""
    return tiny_savedmodel(tmp_path_factory.mktemp("model"))
