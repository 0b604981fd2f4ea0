"""Train-step overhead: `ci-plugins train` on the digits example vs a bare Keras script
(same model, data, seed, epochs and batch size: fit + evaluate + model.export + metrics.json).
Goal: at most 1.05x. Runs alternate (bare, ours, bare, ours...) so load drifts hit both.

Run: .venv/bin/python benchmarks/train_overhead.py [--runs N] [--quick]
"""

from __future__ import annotations

import argparse
import json
import resource
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

import yaml
from _timing import report

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = ROOT / "examples" / "digits"

# What a user would write without ci-plugins, reading the same ci-plugins.yaml settings.
BARE = textwrap.dedent(
    """
    import json, sys
    from pathlib import Path

    import keras
    import yaml

    sys.path.insert(0, sys.argv[1])
    import model as example

    train = yaml.safe_load(Path(sys.argv[1], "ci-plugins.yaml").read_text())["train"]
    params = train["params"]
    keras.utils.set_random_seed(train["seed"])
    spec = example.build(params)
    x, y = spec.train
    spec.model.fit(x, y, validation_data=spec.validation, epochs=train["epochs"],
                   batch_size=train["batch_size"], shuffle=True, verbose=0)
    metrics = spec.model.evaluate(*spec.test, batch_size=train["batch_size"], verbose=0,
                                  return_dict=True)
    out = Path(sys.argv[2])
    spec.model.export(str(out / "model" / "1"), verbose=False)
    (out / "metrics.json").write_text(json.dumps({"metrics": metrics}))
    print(json.dumps(metrics))
    """
)


def timed(argv: list[str]) -> tuple[float, float, str]:
    """(wall seconds, CPU seconds of the child, its stdout)."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    proc = subprocess.run(argv, cwd=EXAMPLE, capture_output=True, text=True, check=False)
    elapsed = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    if proc.returncode != 0:
        sys.exit(f"{' '.join(argv[:4])}... failed ({proc.returncode}):\n{proc.stderr[-2000:]}")
    return elapsed, cpu, proc.stdout


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--quick", action="store_true", help="3 runs each")
    args = parser.parse_args()
    runs = 3 if args.quick else args.runs
    bare_times: list[float] = []
    ours_times: list[float] = []
    bare_cpu: list[float] = []
    ours_cpu: list[float] = []
    with tempfile.TemporaryDirectory(prefix="train-bench-") as tmp:
        # The example searches first (train.tune); lock its train.params values so that
        # both sides run the same single fit.
        config = yaml.safe_load((EXAMPLE / "ci-plugins.yaml").read_text())["train"]
        lock = Path(tmp, "tune.lock.json")
        values = {name: config["params"][name] for name in config["tune"]["space"]}
        lock.write_text(json.dumps({"values": values}))
        for index in range(runs + 1):  # the first pair warms the page cache, not measured
            bare_out, ours_out = Path(tmp, f"bare-{index}"), Path(tmp, f"ours-{index}")
            bare, bare_used, _ = timed([sys.executable, "-c", BARE, str(EXAMPLE), str(bare_out)])
            command = ["-m", "ci_plugins", "train", "--output-dir", str(ours_out)]
            command += ["--tune-lock", str(lock)]
            ours, ours_used, stdout = timed(
                [sys.executable, *command, "--model-version", "1", "--json"]
            )
            print(
                f"run {index}: bare {bare:.2f}s wall {bare_used:.2f}s CPU, "
                f"ci-plugins train {ours:.2f}s wall {ours_used:.2f}s CPU",
                file=sys.stderr,
            )
            if index:
                bare_times.append(bare)
                ours_times.append(ours)
                bare_cpu.append(bare_used)
                ours_cpu.append(ours_used)
    accuracy = json.loads(stdout.strip().splitlines()[-1])["metrics"]["accuracy"]
    print(f"digits example test accuracy: {accuracy:.4f}", file=sys.stderr)
    cpu_ratio = statistics.median(ours_cpu) / statistics.median(bare_cpu)
    print(
        f"median CPU time: ours {statistics.median(ours_cpu):.2f}s, bare "
        f"{statistics.median(bare_cpu):.2f}s ({cpu_ratio:.3f}x)",
        file=sys.stderr,
    )
    print(
        report(
            "train digits example (30 epochs, fit+evaluate+export)",
            statistics.median(ours_times),
            statistics.median(bare_times),
            "keras fit+export script",
            "<= 1.05x",
        )
    )


if __name__ == "__main__":
    main()
