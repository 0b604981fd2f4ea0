"""A real Prometheus (Debian's /usr/bin/prometheus) holding the samples a test chooses.

Past windows cannot be scraped in seconds, so the samples are written as OpenMetrics and
turned into TSDB blocks with `promtool tsdb create-blocks-from openmetrics` (backfill)
before Prometheus starts on a free 127.0.0.1 port; it then answers queries about them
like any server. Start it once per session (it takes about a second) with every series
the tests need, each told apart by its labels:

    samples = [Sample("live_accuracy", {"scenario": "healthy"}, when, 0.97), ...]
    with BackfilledPrometheus(tmp_dir, samples, retention="1d") as prom:
        prom.url
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

import requests

PROMETHEUS = "/usr/bin/prometheus"
PROMTOOL = "/usr/bin/promtool"
START_TIMEOUT = 30.0


@dataclass(frozen=True)
class Sample:
    metric: str
    labels: Mapping[str, str]
    time: float  # unix seconds
    value: float


def openmetrics(samples: Iterable[Sample]) -> str:
    """The samples as an OpenMetrics text file (gauges, one family per metric, # EOF)."""
    families: dict[str, list[Sample]] = {}
    for sample in samples:
        families.setdefault(sample.metric, []).append(sample)
    lines = []
    for metric, members in sorted(families.items()):
        lines.append(f"# TYPE {metric} gauge")
        for sample in sorted(members, key=lambda s: (sorted(s.labels.items()), s.time)):
            labels = ",".join(f'{k}="{v}"' for k, v in sorted(sample.labels.items()))
            lines.append(f"{metric}{{{labels}}} {sample.value!r} {sample.time:.3f}")
    lines.append("# EOF")
    return "\n".join(lines) + "\n"


class BackfilledPrometheus:
    """Prometheus started on the blocks made from samples; stopped (and waited for) on exit."""

    def __init__(self, root: Path, samples: Iterable[Sample], *, retention: str = "15d") -> None:
        self.root = root
        self.samples = list(samples)
        self.retention = retention
        self.port = _free_port()
        self._proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def __enter__(self) -> BackfilledPrometheus:
        data = self.root / "tsdb"
        shutil.rmtree(data, ignore_errors=True)
        data.mkdir(parents=True)
        source = self.root / "samples.om"
        source.write_text(openmetrics(self.samples), encoding="utf-8")
        subprocess.run(
            [PROMTOOL, "tsdb", "create-blocks-from", "openmetrics", str(source), str(data)],
            check=True,
            capture_output=True,
            timeout=120,
        )
        config = self.root / "prometheus.yml"
        config.write_text("global:\n  scrape_interval: 1h\n", encoding="utf-8")
        log = (self.root / "prometheus.log").open("wb")
        self._proc = subprocess.Popen(
            [
                PROMETHEUS,
                f"--config.file={config}",
                f"--storage.tsdb.path={data}",
                f"--storage.tsdb.retention.time={self.retention}",
                f"--web.listen-address=127.0.0.1:{self.port}",
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        log.close()
        self._wait_ready()
        return self

    def __exit__(self, *exc: object) -> None:
        if self._proc is not None:
            self._proc.terminate()
            try:
                self._proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self._proc.kill()
                self._proc.wait(timeout=5)

    def _wait_ready(self) -> None:
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            assert self._proc is not None
            if self._proc.poll() is not None:
                log = (self.root / "prometheus.log").read_text(errors="replace")
                raise AssertionError(f"prometheus exited early:\n{log[-2000:]}")
            try:
                if requests.get(f"{self.url}/-/ready", timeout=1).status_code == 200:
                    return
            except requests.RequestException:
                pass
            time.sleep(0.1)
        raise AssertionError(f"prometheus on {self.url} not ready after {START_TIMEOUT}s")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])
