"""Constant-rate HTTP load with `hey` (github.com/rakyll/hey, Debian package `hey`).

One hey process per golden request body, each at its share of the rate (`-q` per worker
times `-c` workers) for warm-up + duration (`-z`), CSV output (`-o csv`: one row per
answered request with its latency, status and offset from the start). Rows in the
warm-up are dropped. Workers are enough that each sends at most 2 requests a second, so
a request may take up to 500 ms before the rate falls behind (the load stays open-loop
in practice; the achieved rate shows when it did not). hey lists only answered requests
in its CSV: a connection error shows as a lower achieved rate, not as an error row.

hey takes headers only as `-H` arguments (no header file, environment variable or
client certificate option), and arguments are visible to every user in `ps`: so no
credential is ever passed here. Load that needs the cluster's credentials goes through
`kubectl proxy` (adapters/kubectl.py), which adds them itself.
"""

from __future__ import annotations

import csv
import io
import math
import shutil
import subprocess
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from ci_plugins.errors import ExternalError
from ci_plugins.redact import redact

HEY = "hey"
SECRET_HEADERS = {"authorization", "proxy-authorization", "cookie"}
PER_WORKER_RATE = 2.0


@dataclass(frozen=True)
class LoadResult:
    """What the client saw after the warm-up."""

    requested_rate: float
    duration: float
    answered: int
    errors: int  # non-2xx answers
    latencies_ms: tuple[float, ...]

    @property
    def achieved_rate(self) -> float:
        return self.answered / self.duration

    @property
    def error_ratio(self) -> float | None:
        return self.errors / self.answered if self.answered else None

    def latency_ms(self, quantile: float) -> float | None:
        """Nearest-rank quantile of the answered requests' latency; None without any."""
        if not self.latencies_ms:
            return None
        ordered = sorted(self.latencies_ms)
        rank = max(1, math.ceil(quantile * len(ordered)))
        return ordered[rank - 1]


def run_load(
    url: str,
    bodies: Sequence[str],
    *,
    rate: float,
    duration: float,
    warmup: float,
    timeout: float,
    headers: Mapping[str, str] | None = None,
) -> LoadResult:
    """POST the bodies to url at `rate` requests/s in total for warmup + duration seconds.

    `headers` go into hey's argv: never credentials (ValueError for Authorization).
    Raises ExternalError (exit 3) when hey is missing, fails or overruns its time.
    """
    if any(name.lower() in SECRET_HEADERS for name in headers or {}):
        raise ValueError("hey shows its headers in ps: send credentials via kubectl.proxy")
    binary = shutil.which(HEY)
    if binary is None:
        raise ExternalError(
            "hey (the load generator) is not installed", hint="apt-get install -y hey"
        )
    share = rate / len(bodies)
    workers = max(1, math.ceil(share / PER_WORKER_RATE))
    with tempfile.TemporaryDirectory(prefix="ci-plugins-load-") as tmp:
        argvs = []
        for index, body in enumerate(bodies):
            body_file = Path(tmp) / f"request-{index}.json"
            body_file.write_text(body, encoding="utf-8")
            argvs.append(
                _argv(
                    binary,
                    url,
                    body_file,
                    share / workers,
                    workers,
                    warmup + duration,
                    timeout,
                    headers or {},
                )
            )
        outputs = _run_all(argvs, budget=warmup + duration + timeout + 30)
    rows = [row for text in outputs for row in _rows(text) if row[2] >= warmup]
    rows = [row for row in rows if row[2] < warmup + duration]
    return LoadResult(
        requested_rate=rate,
        duration=duration,
        answered=len(rows),
        errors=sum(1 for _, status, _ in rows if not 200 <= status < 300),
        latencies_ms=tuple(seconds * 1000 for seconds, _, _ in rows),
    )


def _argv(
    binary: str,
    url: str,
    body: Path,
    per_worker: float,
    workers: int,
    seconds: float,
    timeout: float,
    headers: Mapping[str, str],
) -> list[str]:
    argv = [
        binary,
        "-z",
        f"{seconds:g}s",
        "-q",
        f"{per_worker:g}",
        "-c",
        str(workers),
        "-t",
        str(max(1, math.ceil(timeout))),
        "-m",
        "POST",
        "-T",
        "application/json",
        "-D",
        str(body),
        "-o",
        "csv",
    ]
    for name, value in headers.items():
        argv += ["-H", f"{name}: {value}"]
    return [*argv, url]


def _run_all(argvs: Sequence[list[str]], *, budget: float) -> list[str]:
    procs: list[subprocess.Popen[str]] = []
    try:
        for argv in argvs:
            procs.append(
                subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
            )
        outputs = []
        for proc in procs:
            try:
                out, err = proc.communicate(timeout=budget)
            except subprocess.TimeoutExpired:
                raise ExternalError(f"hey did not finish within {budget:g}s") from None
            if proc.returncode != 0:
                raise ExternalError(
                    f"hey exited with {proc.returncode}: {redact(err.strip()[-500:])}"
                )
            outputs.append(out)
        return outputs
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.kill()
                proc.wait()


def _rows(text: str) -> list[tuple[float, int, float]]:
    """(response seconds, status, offset seconds) of each CSV row of `hey -o csv`."""
    reader = csv.DictReader(io.StringIO(text))
    return [
        (float(row["response-time"]), int(row["status-code"]), float(row["offset"]))
        for row in reader
        if row.get("status-code")
    ]
