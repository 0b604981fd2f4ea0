"""One analysis: the tracks' queries at the same instant, then the verdict.

The window is (end - window, end]. Before querying, the analysis waits (at most one more
window) until every target of the app has been scraped after `end`, so the last part of
the window is in Prometheus; then each query runs once per track at `end` (instant
queries), so candidate and stable are measured over exactly the same time.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from ci_plugins.adapters import prometheus
from ci_plugins.adapters.hey import LoadResult
from ci_plugins.analysis import judge, queries
from ci_plugins.analysis.judge import Check, Reading, Verdict
from ci_plugins.analysis.queries import Track
from ci_plugins.config.models import AnalysisBounds, AnalysisConfig
from ci_plugins.step import REAL_CLOCK, Clock

LOAD_METRICS = ("load_rate", "load_error_ratio", "load_latency_p50_ms", "load_latency_p99_ms")
POLL_SECONDS = 1.0


@dataclass(frozen=True)
class Analysis:
    """The verdict of one window, with every query and value behind it."""

    verdict: Verdict
    why: list[str]
    window: float
    end: float
    judged: str  # the track the bounds apply to
    tracks: tuple[str, ...]
    readings: tuple[Reading, ...]
    checks: tuple[Check, ...]
    queries_run: int
    decided_after: float  # seconds from the window's end to the verdict

    def value(self, metric: str, track: str) -> float | None:
        return next(
            (r.value for r in self.readings if r.metric == metric and r.track == track), None
        )

    def metrics_json(self) -> dict[str, Any]:
        """{metric: {track: value}} for the JSON result."""
        found: dict[str, dict[str, float | None]] = {}
        for reading in self.readings:
            found.setdefault(reading.metric, {})[reading.track] = reading.value
        return found

    def as_json(self) -> dict[str, Any]:
        return {
            "verdict": self.verdict,
            "why": self.why,
            "window_seconds": self.window,
            "end": self.end,
            "judged_track": self.judged,
            "metrics": self.metrics_json(),
            "checks": [check.as_json() for check in self.checks],
            "queries": [reading.as_json() for reading in self.readings],
            "prometheus_queries": self.queries_run,
            "decided_after_seconds": round(self.decided_after, 3),
        }


def preflight(
    url: str,
    config: AnalysisConfig,
    *,
    namespace: str,
    app: str,
    window: float,
    clock: Clock = REAL_CLOCK,
) -> None:
    """Reach Prometheus and let it parse every custom query before any load is sent or
    anything committed: unreachable is exit 3, a query it cannot parse exit 2 with its
    own message."""
    track = queries.current_track(namespace, app)
    prometheus.query(url, queries.tracks_query(namespace, app, window), clock=clock)
    for custom in config.queries.values():
        prometheus.query(url, queries.render(custom.query, track, window), clock=clock)


def find_tracks(
    url: str, *, namespace: str, app: str, window: float, end: float, clock: Clock = REAL_CLOCK
) -> tuple[Track, Track | None]:
    """(judged track, stable track or None): the candidate against stable while a canary
    runs, else every pod of the app alone ("current")."""
    promql = queries.tracks_query(namespace, app, window)
    found = prometheus.query(url, promql, at=end, clock=clock)
    names = {series.labels.get("ci_plugins_dev_track", "") for series in found}
    if queries.CANDIDATE in names:
        return queries.candidate_track(namespace, app), queries.stable_track(namespace, app)
    return queries.current_track(namespace, app), None


def analyse(
    url: str,
    config: AnalysisConfig,
    *,
    judged: Track,
    stable: Track | None,
    window: float,
    end: float,
    load: LoadResult | None,
    clock: Clock = REAL_CLOCK,
) -> Analysis:
    """Wait for the window's data, read every metric of each track, apply the bounds."""
    tracks = [judged, *([stable] if stable else [])]
    asked = _wait_for_scrapes(url, tracks, end=end, window=window, clock=clock)
    readings: list[Reading] = []
    for track in tracks:
        for name, template in _templates(config).items():
            promql = queries.render(template, track, window)
            readings.append(Reading(name, track.name, promql, _value(url, promql, end, clock)))
            asked += 1
    readings += _load_readings(load, judged.name)
    checks = []
    for name, bounds in _bounds(config).items():
        mine = [r.value for r in readings if r.metric == name and r.track == judged.name]
        other = [
            r.value for r in readings if stable and r.metric == name and r.track == stable.name
        ]
        checks += judge.check_metric(
            name,
            bounds,
            value=mine[0] if mine else None,
            stable=other[0] if other else None,
            has_stable=bool(other),
        )
    requests = {r.track: r.value for r in readings if r.metric == "requests"}
    verdict, why = judge.decide(checks, requests, min_requests=config.min_requests)
    return Analysis(
        verdict=verdict,
        why=why,
        window=window,
        end=end,
        judged=judged.name,
        tracks=tuple(track.name for track in tracks),
        readings=tuple(readings),
        checks=tuple(checks),
        queries_run=asked,
        decided_after=max(0.0, time.time() - end),
    )


def _templates(config: AnalysisConfig) -> dict[str, str]:
    """requests (always), then the built-in metrics with bounds, then custom queries."""
    wanted = ["requests", *[m for m in config.metrics if m in queries.BUILTIN_QUERIES]]
    templates = {name: queries.BUILTIN_QUERIES[name] for name in dict.fromkeys(wanted)}
    templates.update({name: query.query for name, query in config.queries.items()})
    return templates


def _bounds(config: AnalysisConfig) -> dict[str, AnalysisBounds]:
    return {**config.metrics, **config.queries}


def _value(url: str, promql: str, end: float, clock: Clock) -> float | None:
    """The query's single value at end; None for no series, NaN or several series."""
    found = prometheus.query(url, promql, at=end, clock=clock)
    if len(found) != 1 or not found[0].points:
        return None
    return judge.known(found[0].points[-1][1])


def _load_readings(load: LoadResult | None, track: str) -> list[Reading]:
    if load is None:
        return []
    source = f"hey at {load.requested_rate:g} req/s for {load.duration:g}s (after warm-up)"
    values = {
        "load_rate": load.achieved_rate,
        "load_error_ratio": load.error_ratio,
        "load_latency_p50_ms": load.latency_ms(0.5),
        "load_latency_p99_ms": load.latency_ms(0.99),
    }
    return [Reading(name, track, source, judge.known(value)) for name, value in values.items()]


def _wait_for_scrapes(
    url: str, tracks: Sequence[Track], *, end: float, window: float, clock: Clock
) -> int:
    """Poll until each track's targets were all scraped after end (or one window passes);
    returns the number of queries made."""
    asked = 0
    deadline = clock.time() + window
    pending = {track.name: queries.scrape_time_query(track.selector) for track in tracks}
    while pending:
        for name, promql in list(pending.items()):
            asked += 1
            latest = _value(url, promql, time.time(), clock)
            if latest is None or latest >= end:  # no targets: nothing more will come
                del pending[name]
        if not pending or clock.time() >= deadline:
            break
        clock.sleep(POLL_SECONDS)
    return asked


def load_metrics_used(config: AnalysisConfig) -> list[str]:
    return [name for name in config.metrics if name in LOAD_METRICS]
