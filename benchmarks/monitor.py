"""`ci-plugins monitor` wall time against a real, backfilled Prometheus and a local env repo.

Run: .venv/bin/python benchmarks/monitor.py [--quick]
ours: one `ci-plugins monitor` run that judges 3 windows of 2 metrics and triggers nothing
(what an hourly schedule runs almost every time). baseline: the same outside work done by
hand: `git clone --depth 1` of the environment repo and one `promtool query range` per
metric. Medians of several runs through the real CLI (a subprocess).
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks._timing import command, median_seconds  # noqa: E402
from tests.support.envrepo import make_bare_repo, seed_files  # noqa: E402
from tests.support.prometheus import BackfilledPrometheus, Sample  # noqa: E402

WINDOW = 60
QUERIES = {
    "live_accuracy": "avg_over_time(live_accuracy[1m])",
    "drift": "max_over_time(prediction_drift[1m])",
}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true")
    runs = 3 if parser.parse_args().quick else 9
    anchor = int(time.time() // WINDOW * WINDOW) - WINDOW
    samples = [
        Sample(metric, {}, anchor - k * 10 - 5, value)
        for metric, value in (("live_accuracy", 0.97), ("prediction_drift", 0.05))
        for k in range(3 * WINDOW // 10)
    ]
    with tempfile.TemporaryDirectory(prefix="bench-monitor-") as tmp:
        root = Path(tmp)
        with BackfilledPrometheus(root / "prom", samples) as prom:
            ours, baseline = measure(root, prom.url, anchor, runs=runs)
    print(
        f"| monitor, 3 windows x 2 metrics, nothing to trigger | {ours * 1000:.1f} ms | "
        f"git clone --depth 1 + promtool query range x2 {baseline * 1000:.1f} ms | "
        f"{(ours - baseline) * 1000:+.1f} ms | {ours / baseline:.2f}x | - |"
    )


def measure(root: Path, url: str, anchor: int, *, runs: int) -> tuple[float, float]:
    bare = make_bare_repo(root / "env.git")
    release = {
        "app": "digits",
        "environment": "prod",
        "model": {"version": "7", "digest": "sha256:" + "b" * 64},
    }
    seed_files(bare, {"environments/prod/digits/release.yaml": yaml.safe_dump(release)})
    config = {
        "app": "digits",
        "env_repo": {"url": str(bare)},
        "monitor": {
            "prometheus": url,
            "window": WINDOW,
            "metrics": {
                "live_accuracy": {"query": QUERIES["live_accuracy"], "min": 0.9},
                "drift": {"query": QUERIES["drift"], "max": 0.2},
            },
            "trigger": {"forge": "gitlab", "project": "ml/digits", "url": "http://127.0.0.1:9"},
        },
    }
    (root / "ci-plugins.yaml").write_text(yaml.safe_dump(config), encoding="utf-8")
    env = {**os.environ, "CI_PLUGINS_GITLAB_TRIGGER_TOKEN": "glptt-benchmark-000000"}
    ours = command(
        [sys.executable, "-m", "ci_plugins", "monitor", "--env", "prod", "--at", str(anchor)],
        cwd=root,
        env=env,
    )
    start, end = str(anchor - 2 * WINDOW), str(anchor)

    def by_hand() -> None:
        clone = root / "clone"
        command(["rm", "-rf", str(clone)])()
        command(["git", "clone", "-q", "--depth", "1", str(bare), str(clone)])()
        for query in QUERIES.values():
            argv = ["promtool", "query", "range", f"--start={start}", f"--end={end}"]
            command([*argv, f"--step={WINDOW}s", url, query])()

    return median_seconds(ours, runs=runs), median_seconds(by_hand, runs=runs)


if __name__ == "__main__":
    main()
