"""The emulated TF Serving process: start-up, memory and idle CPU of one server.

Run: .venv/bin/python benchmarks/tfserving_start.py [--runs N] [--quick]
1. Start-up: process spawn -> `GET /v1/models/<name>` answers 200 (a version already on
   disk, as in a pod whose init container pulled the model); baseline: a bare
   `python -c "import tensorflow"` in the same run (goal: at most +3 s over it).
2. RSS after the first predict, and while waiting for a version (TensorFlow not imported).
3. CPU of an idle serving process over 10 s (goal: under 1% of a core).
4. Predict under load: `hey -n 400 -c 4` POSTs of one 64-pixel instance (requests/s, p99).
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
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
SERVER = [sys.executable, "-m", "ci_plugins_emulator.tfserving"]
EXPORT = """
import sys, keras
layers = [keras.Input((64,), name="pixels"), keras.layers.Dense(10, activation="softmax")]
model = keras.Sequential(layers)
model.export(sys.argv[1], verbose=False)
"""


def proc_value(pid: int, key: str) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(key + ":"):
            return int(line.split()[1]) / 1024
    raise KeyError(key)


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def start(base: Path, port: int) -> subprocess.Popen[bytes]:
    args = [f"--rest_api_port={port}", "--model_name=digits", f"--model_base_path={base}"]
    return subprocess.Popen(
        [*SERVER, *args], env=child_env(), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )


def load(url: str) -> tuple[float, float]:
    """Requests/s and p99 seconds of hey's POSTs to :predict (what `analyze` generates)."""
    hey = shutil.which("hey")
    if hey is None:
        raise SystemExit("hey is missing: install the Debian hey package")
    body = '{"instances": [[' + ",".join(["0.5"] * 64) + "]]}"
    argv = [hey, "-n", "400", "-c", "4", "-m", "POST", "-T", "application/json", "-d", body]
    out = subprocess.run([*argv, url], check=True, capture_output=True, text=True).stdout
    if "[200]\t400 responses" not in out:
        raise SystemExit(out)
    rate = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    p99 = float(re.search(r"99%+ in ([\d.]+) secs", out).group(1))  # type: ignore[union-attr]
    return rate, p99


def one_start(base: Path) -> tuple[float, float, float, tuple[float, float]]:
    """Seconds to a 200 status, RSS MB after a predict, idle CPU share, hey's rate and p99."""
    port = free_port()
    began = time.perf_counter()
    process = start(base, port)
    url = f"http://127.0.0.1:{port}/v1/models/digits"
    try:
        while True:
            if process.poll() is not None:
                raise SystemExit(f"server exited {process.returncode}")
            try:
                if requests.get(url, timeout=5).status_code == 200:
                    break
            except requests.ConnectionError:
                time.sleep(0.05)
        seconds = time.perf_counter() - began
        requests.post(url + ":predict", json={"instances": [[0.0] * 64]}, timeout=30)
        rss = proc_value(process.pid, "VmRSS")
        cpu_before = cpu_seconds(process.pid)
        time.sleep(10)
        idle = (cpu_seconds(process.pid) - cpu_before) / 10
        return seconds, rss, idle, load(url + ":predict")
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=60)


def waiting_rss(root: Path) -> float:
    empty = root / "empty"
    empty.mkdir()
    process = start(empty, free_port())
    try:
        time.sleep(3)
        return proc_value(process.pid, "VmRSS")
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=60)


def bare_import() -> float:
    began = time.perf_counter()
    subprocess.run([sys.executable, "-c", "import tensorflow"], check=True, capture_output=True)
    return time.perf_counter() - began


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--quick", action="store_true", help="1 run")
    args = parser.parse_args()
    runs = 1 if args.quick else args.runs
    with tempfile.TemporaryDirectory(prefix="tfserving-bench-") as tmp:
        root = Path(tmp)
        base = root / "models" / "digits"
        subprocess.run([sys.executable, "-c", EXPORT, str(base / "1")], check=True)
        samples = [one_start(base) for _ in range(runs)]
        imports = [bare_import() for _ in range(runs)]
        waiting = waiting_rss(root)
    ours = statistics.median(s[0] for s in samples)
    bare = statistics.median(imports)
    print(
        f"| tfserving start -> status 200 | {ours * 1000:.0f} ms | import tensorflow "
        f"{bare * 1000:.0f} ms | {(ours - bare) * 1000:+.0f} ms | {ours / bare:.2f}x | "
        "<= +3 s |"
    )
    print(
        f"| tfserving RSS serving / waiting | {statistics.median(s[1] for s in samples):.0f} MB"
        f" | waiting for a version {waiting:.0f} MB | - | - | - |"
    )
    print(
        f"| tfserving idle CPU (10 s) | {statistics.median(s[2] for s in samples) * 100:.2f}% "
        "of a core | - | - | - | < 1% |"
    )
    rate, p99 = samples[0][3]
    print(
        f"| tfserving predict, hey -c 4 | {rate:.0f} req/s, p99 {p99 * 1000:.0f} ms "
        "| - | - | - | - |"
    )


if __name__ == "__main__":
    main()
