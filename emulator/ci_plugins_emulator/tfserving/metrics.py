"""TF Serving's Prometheus metrics, exposed the way util/prometheus_exporter.cc writes them.

Names and labels are TF Serving's (servables/tensorflow/util.cc, TensorFlow's
cc/saved_model/loader.cc): `:tensorflow:serving:request_count{model_name,status}` (a
counter, no `_total` suffix, status an error::Code name), `:tensorflow:serving:
request_latency{model_name,API,entrypoint}` (a histogram in microseconds over
Buckets::Exponential(10, 1.8, 33)) and `:tensorflow:cc:saved_model:load_attempt_count
{model_path,status}` (status `success` or `fail`). The exporter writes a `# TYPE` line per
metric and no `# HELP`, one sample per line, buckets cumulative and the last `le="+Inf"`.

prometheus_client is not used for the page: its counters are always exposed as
`<name>_total` (with `_created` series), which is not what a query written against TF
Serving (`:tensorflow:serving:request_count`) finds.
"""

from __future__ import annotations

import bisect
import threading
from dataclasses import dataclass, field

REQUEST_COUNT = ":tensorflow:serving:request_count"
REQUEST_LATENCY = ":tensorflow:serving:request_latency"
LOAD_ATTEMPT_COUNT = ":tensorflow:cc:saved_model:load_attempt_count"

# monitoring::Buckets::Exponential(10, 1.8, 33): 33 finite limits, then +Inf.
LATENCY_BUCKETS = tuple(10 * 1.8**index for index in range(33))

Labels = tuple[tuple[str, str], ...]


@dataclass
class _Histogram:
    counts: list[int] = field(default_factory=lambda: [0] * (len(LATENCY_BUCKETS) + 1))
    total: float = 0.0

    def observe(self, value: float) -> None:
        # A bucket holds values below its limit (TF's Histogram: limit is exclusive).
        self.counts[bisect.bisect_right(LATENCY_BUCKETS, value)] += 1
        self.total += value


class Metrics:
    """The server's counters and histograms, safe to update from request threads."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._counters: dict[str, dict[Labels, int]] = {REQUEST_COUNT: {}, LOAD_ATTEMPT_COUNT: {}}
        self._latency: dict[Labels, _Histogram] = {}

    def count_request(self, *, model_name: str, status: str) -> None:
        self._add(REQUEST_COUNT, (("model_name", model_name), ("status", status)))

    def count_load_attempt(self, *, model_path: str, success: bool) -> None:
        status = "success" if success else "fail"
        self._add(LOAD_ATTEMPT_COUNT, (("model_path", model_path), ("status", status)))

    def observe_latency(self, *, model_name: str, api: str, entrypoint: str, micros: float) -> None:
        labels = (("model_name", model_name), ("API", api), ("entrypoint", entrypoint))
        with self._lock:
            self._latency.setdefault(labels, _Histogram()).observe(micros)

    def _add(self, name: str, labels: Labels) -> None:
        with self._lock:
            cells = self._counters[name]
            cells[labels] = cells.get(labels, 0) + 1

    def page(self) -> str:
        """The exposition text TF Serving's PrometheusExporter::GeneratePage returns."""
        lines: list[str] = []
        with self._lock:
            for name in sorted([*self._counters, REQUEST_LATENCY]):
                if name == REQUEST_LATENCY:
                    lines.extend(_histogram_lines(name, self._latency))
                elif self._counters[name]:
                    lines.append(f"# TYPE {name} counter")
                    lines.extend(
                        f"{name}{{{_labels(labels)}}} {value}"
                        for labels, value in self._counters[name].items()
                    )
        return "\n".join(lines) + "\n"


def _histogram_lines(name: str, cells: dict[Labels, _Histogram]) -> list[str]:
    if not cells:
        return []
    lines = [f"# TYPE {name} histogram"]
    for labels, histogram in cells.items():
        prefix = f"{name}_bucket{{{_labels(labels)},"
        cumulative = 0
        for index, count in enumerate(histogram.counts):
            cumulative += count
            limit = _number(LATENCY_BUCKETS[index]) if index < len(LATENCY_BUCKETS) else "+Inf"
            lines.append(f'{prefix}le="{limit}"}} {cumulative}')
        lines.append(f"{name}_sum{{{_labels(labels)}}} {_number(histogram.total)}")
        lines.append(f"{name}_count{{{_labels(labels)}}} {cumulative}")
    return lines


def _labels(labels: Labels) -> str:
    return ",".join(f'{key}="{_escape(value)}"' for key, value in labels)


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"')


def _number(value: float) -> str:
    # absl::StrCat(double): six significant digits, no trailing zeros.
    return f"{value:.6g}"
