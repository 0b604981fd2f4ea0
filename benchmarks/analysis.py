"""Live analysis: the load generator's achieved rate, and how fast a window is judged.

Run: .venv/bin/python benchmarks/analysis.py [--runs N] [--quick] [--rate R] [--seconds S]
One emulated TF Serving process on a tiny SavedModel, scraped every second by a real
Prometheus (Debian's), as in the local cluster.
1. Achieved vs requested rate of `ci_plugins.adapters.hey.run_load` (hey, open-loop
   constant rate, 3 s warm-up dropped) at 50 req/s (goal: within 5%).
2. Decision latency: from the end of the load window to the verdict of
   `ci_plugins.analysis.evaluate.analyse` (waiting for the last scrape, then the queries),
   and the number of Prometheus queries for one step (one track).
"""

from __future__ import annotations

import argparse
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import requests
from _timing import child_env, free_port

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "emulator")]

from ci_plugins.adapters.hey import run_load  # noqa: E402
from ci_plugins.analysis import evaluate, queries  # noqa: E402
from ci_plugins.config.models import AnalysisBounds, AnalysisConfig  # noqa: E402

EXPORT = """
import sys, keras
layers = [keras.Input((64,), name="pixels"), keras.layers.Dense(10, activation="softmax")]
model = keras.Sequential(layers)
model.export(sys.argv[1], verbose=False)
"""
METRICS_PATH = "/monitoring/prometheus/metrics"
BODY = '{"instances": [[' + ",".join(["0.5"] * 64) + "]]}"
CONFIG = AnalysisConfig(
    min_requests=10,
    metrics={
        "error_ratio": AnalysisBounds(max=0.01),
        "latency_p50_ms": AnalysisBounds(max=1000),
        "latency_p99_ms": AnalysisBounds(max=5000),
        "load_failures": AnalysisBounds(max=0),
    },
)


def wait_http(url: str, process: subprocess.Popen[bytes], *, timeout: float = 300) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"{process.args} exited {process.returncode}")
        try:
            if requests.get(url, timeout=2).status_code == 200:
                return
        except requests.RequestException:
            pass
        time.sleep(0.2)
    raise SystemExit(f"{url} not up after {timeout}s")


def start_servers(root: Path) -> tuple[list[subprocess.Popen[bytes]], int, str]:
    base = root / "models" / "digits"
    subprocess.run([sys.executable, "-c", EXPORT, str(base / "1")], check=True, env=child_env())
    monitoring = root / "monitoring.config"
    monitoring.write_text(f'prometheus_config {{ enable: true, path: "{METRICS_PATH}" }}\n')
    port = free_port()
    serving = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "ci_plugins_emulator.tfserving",
            f"--rest_api_port={port}",
            "--model_name=digits",
            f"--model_base_path={base}",
            f"--monitoring_config_file={monitoring}",
        ],
        env=child_env(),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    wait_http(f"http://127.0.0.1:{port}/v1/models/digits", serving)
    config = root / "prometheus.yml"
    config.write_text(
        "global: {scrape_interval: 1s, scrape_timeout: 1s}\n"
        "scrape_configs:\n"
        f"  - job_name: pods\n    metrics_path: {METRICS_PATH}\n"
        f"    static_configs: [{{targets: ['127.0.0.1:{port}'], labels: "
        "{namespace: bench, app_kubernetes_io_instance: digits}}]\n"
    )
    prom_port = free_port()
    prom = subprocess.Popen(
        [
            "/usr/bin/prometheus",
            f"--config.file={config}",
            f"--storage.tsdb.path={root / 'tsdb'}",
            f"--web.listen-address=127.0.0.1:{prom_port}",
            "--log.level=warn",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{prom_port}"
    wait_http(f"{url}/-/ready", prom)
    return [serving, prom], port, url


def one_run(port: int, prometheus: str, *, rate: float, seconds: float) -> tuple[float, float, int]:
    """(achieved rate, seconds from window end to verdict, Prometheus queries)."""
    url = f"http://127.0.0.1:{port}/v1/models/digits:predict"
    load = run_load(url, [BODY], rate=rate, duration=seconds, warmup=3, timeout=5)
    end = time.time()
    track = queries.current_track("bench", "digits")
    analysis = evaluate.analyse(
        prometheus, CONFIG, judged=track, stable=None, window=seconds, end=end, load=load
    )
    if analysis.verdict != "passed":
        raise SystemExit(f"analysis {analysis.verdict}: {analysis.why}")
    return load.achieved_rate, time.time() - end, analysis.queries_run


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--quick", action="store_true", help="1 run of 10 s")
    parser.add_argument("--rate", type=float, default=50.0)
    parser.add_argument("--seconds", type=float, default=20.0)
    args = parser.parse_args()
    runs, seconds = (1, 10.0) if args.quick else (args.runs, args.seconds)
    with tempfile.TemporaryDirectory(prefix="analysis-bench-") as tmp:
        processes, port, prometheus = start_servers(Path(tmp))
        try:
            time.sleep(3)  # a first scrape before the first window
            samples = [
                one_run(port, prometheus, rate=args.rate, seconds=seconds) for _ in range(runs)
            ]
        finally:
            for process in processes:
                process.send_signal(signal.SIGTERM)
                process.wait(timeout=60)
    achieved = statistics.median(s[0] for s in samples)
    worst = min(s[0] for s in samples)
    print(
        f"| analysis load: achieved rate ({seconds:g} s windows, median of {runs}) | "
        f"{achieved:.2f} req/s (worst {worst:.2f}) | requested {args.rate:g} req/s | "
        f"{(achieved - args.rate) / args.rate * 100:+.1f}% | {achieved / args.rate:.3f}x | "
        "within 5% |"
    )
    latency = statistics.median(s[1] for s in samples)
    print(
        f"| analysis: decision after the window closes | {latency * 1000:.0f} ms "
        f"| window {seconds:g} s | - | {latency / seconds:.3f}x | < 1 window |"
    )
    print(
        f"| analysis: Prometheus queries per step (one track, 4 metrics) | "
        f"{statistics.median(s[2] for s in samples):.0f} | - | - | - | - |"
    )


if __name__ == "__main__":
    main()
