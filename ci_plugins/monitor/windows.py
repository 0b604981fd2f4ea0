"""Read each metric over the last n windows from Prometheus, and judge each window.

Window 0 is the newest: it ends at `end`; window k covers (end - (k+1)*W, end - k*W]. One
range query per metric, evaluated at each window's end with step W, gives every window's
value at once. A window without a value (no samples, NaN) is "no-data", never "ok".
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal

from ci_plugins.adapters import prometheus
from ci_plugins.config.models import MonitorMetric
from ci_plugins.errors import InputError
from ci_plugins.step import REAL_CLOCK, Clock

Status = Literal["ok", "violated", "no-data"]
_BARE_SELECTOR = re.compile(r"[A-Za-z_:][\w:]*(\{[^{}]*\})?")


@dataclass(frozen=True)
class Reading:
    """One metric in one window: its value (None: no data) against its bounds."""

    metric: str
    value: float | None
    min: float | None
    max: float | None

    @property
    def status(self) -> Status:
        if self.value is None:
            return "no-data"
        if self.min is not None and self.value < self.min:
            return "violated"
        if self.max is not None and self.value > self.max:
            return "violated"
        return "ok"

    def as_json(self) -> dict[str, object]:
        return {
            "metric": self.metric,
            "value": self.value,
            "min": self.min,
            "max": self.max,
            "status": self.status,
        }


@dataclass(frozen=True)
class Window:
    """One window (index 0: the newest) and the reading of every metric in it."""

    index: int
    start: float
    end: float
    readings: tuple[Reading, ...]

    @property
    def status(self) -> Status:
        """violated when any metric breaks a bound, else no-data when any has none, else ok."""
        statuses = {reading.status for reading in self.readings}
        if "violated" in statuses:
            return "violated"
        return "no-data" if "no-data" in statuses else "ok"

    def as_json(self) -> dict[str, object]:
        return {
            "index": self.index,
            "start": self.start,
            "end": self.end,
            "status": self.status,
            "readings": [reading.as_json() for reading in self.readings],
        }


def promql_duration(seconds: float) -> str:
    """A Prometheus duration for seconds in its largest whole unit: `1h`, `90s`, `1500ms`."""
    if not float(seconds).is_integer():
        return f"{round(seconds * 1000)}ms"
    whole = int(seconds)
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if whole and whole % size == 0:
            return f"{whole // size}{unit}"
    return f"{whole}s"


def render_query(metric: MonitorMetric, *, window: float, labels: Mapping[str, str]) -> str:
    """The query with {window}, {app}, {env}, {model_version} filled in; a bare metric
    selector is averaged over the window so that a window without samples has no value."""
    text = metric.query.strip()
    for name, value in labels.items():
        text = text.replace("{" + name + "}", value)
    if "{window}" not in text and _BARE_SELECTOR.fullmatch(text):
        text = f"avg_over_time({text}[{{window}}])"
    return text.replace("{window}", promql_duration(window))


def read_windows(
    url: str,
    metrics: Mapping[str, MonitorMetric],
    *,
    window: float,
    count: int,
    end: float,
    labels: Mapping[str, str],
    clock: Clock = REAL_CLOCK,
) -> list[Window]:
    """The last `count` windows ending at `end`, newest first, with every metric read.

    InputError (exit 2) when a query does not parse or returns several series;
    ExternalError (exit 3) when Prometheus cannot be reached.
    """
    values: dict[str, list[float | None]] = {}
    for name, metric in sorted(metrics.items()):
        query = render_query(metric, window=window, labels=labels)
        series = prometheus.query_range(
            url, query, start=end - (count - 1) * window, end=end, step=window, clock=clock
        )
        values[name] = _per_window(name, query, series, window=window, count=count, end=end)
    return [
        Window(
            index=k,
            start=end - (k + 1) * window,
            end=end - k * window,
            readings=tuple(
                Reading(name, values[name][k], metric.min, metric.max)
                for name, metric in sorted(metrics.items())
            ),
        )
        for k in range(count)
    ]


def _per_window(
    name: str,
    query: str,
    series: list[prometheus.Series],
    *,
    window: float,
    count: int,
    end: float,
) -> list[float | None]:
    if len(series) > 1:
        labels = ", ".join(sorted({f"{k}={v}" for s in series for k, v in s.labels.items()}))
        raise InputError(
            f"monitor.metrics.{name}: the query {query!r} returns {len(series)} series "
            f"({labels}); it must return one",
            hint="aggregate it, e.g. avg(...) or sum(...) / sum(...), or add label matchers",
        )
    found: list[float | None] = [None] * count
    for when, value in series[0].points if series else ():
        k = round((end - when) / window)
        if 0 <= k < count and not math.isnan(value):
            found[k] = value
    return found
