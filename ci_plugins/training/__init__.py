"""What a project's model code returns to `ci-plugins train` (no TensorFlow imported here).

```python
from ci_plugins.training import TrainSpec

def build(params):
    model = keras.Sequential([...])
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    return TrainSpec(model=model, train=(x_train, y_train), validation=(x_val, y_val),
                     test=(x_test, y_test), dataset={"name": "my data"})
```

ci-plugins then seeds, fits, checkpoints, evaluates on `test` and exports. See docs/train.md.
"""

from ci_plugins.training.spec import FitRun, TrainSpec

__all__ = ["FitRun", "TrainSpec"]
