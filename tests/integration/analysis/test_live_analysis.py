"""The analysis engine against real servers and a real Prometheus: hey's load at a
constant rate, candidate and stable measured in the same window, each verdict with its
queries and values."""

from __future__ import annotations

import threading
import time

import pytest

from ci_plugins.adapters.hey import LoadResult, run_load
from ci_plugins.analysis import evaluate
from ci_plugins.analysis.evaluate import Analysis
from ci_plugins.config.models import AnalysisBounds, AnalysisConfig, AnalysisQuery
from tests.integration.analysis.conftest import (
    APP,
    GOOD_BODY,
    NAMESPACE,
    WRONG_SHAPE_BODY,
    Live,
)

WINDOW = 8.0
RATE = 10.0
CONFIG = AnalysisConfig(
    min_requests=40,
    metrics={
        "error_ratio": AnalysisBounds(max=0.01),
        "latency_p99_ms": AnalysisBounds(max=5000, max_ratio_to_stable=20),
        "latency_p50_ms": AnalysisBounds(max=5000),
        "load_failures": AnalysisBounds(max=0),
        "load_rate": AnalysisBounds(min=RATE * 0.8),
    },
    queries={
        "served_per_second": AnalysisQuery(
            query="sum(rate(:tensorflow:serving:request_count{{selector}}[{window}]))", min=1
        )
    },
)


def load_both(
    live: Live, *, candidate_body: str, seconds: float = WINDOW
) -> tuple[LoadResult, float]:
    """hey against both tracks at once for a warm-up + seconds; (candidate's load, end)."""
    results: dict[str, LoadResult] = {}

    def send(track: str, url: str, body: str) -> None:
        results[track] = run_load(url, [body], rate=RATE, duration=seconds, warmup=2, timeout=5)

    threads = [
        threading.Thread(target=send, args=("stable", live.stable.predict_url, GOOD_BODY)),
        threading.Thread(
            target=send, args=("candidate", live.candidate.predict_url, candidate_body)
        ),
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return results["candidate"], time.time()


def analyse(live: Live, load: LoadResult | None, end: float) -> Analysis:
    judged, stable = evaluate.find_tracks(
        live.prometheus, namespace=NAMESPACE, app=APP, window=WINDOW, end=end
    )
    return evaluate.analyse(
        live.prometheus, CONFIG, judged=judged, stable=stable, window=WINDOW, end=end, load=load
    )


def test_a_good_candidate_passes_with_every_query_and_value(live: Live) -> None:
    load, end = load_both(live, candidate_body=GOOD_BODY)
    result = analyse(live, load, end)

    assert result.verdict == "passed", result.why
    assert result.tracks == ("candidate", "stable")
    for track in ("candidate", "stable"):
        served = result.value("requests", track)
        assert served is not None
        assert served >= 40
        assert result.value("error_ratio", track) == 0
        p99 = result.value("latency_p99_ms", track)
        assert p99 is not None
        assert p99 > 0
    assert result.value("load_rate", "candidate") == pytest.approx(RATE, rel=0.1)
    queries = {(r.metric, r.track): r.query for r in result.readings}
    assert 'ci_plugins_dev_track="candidate"' in queries[("error_ratio", "candidate")]
    assert 'ci_plugins_dev_track!="candidate"' in queries[("error_ratio", "stable")]
    assert "[8s]" in queries[("served_per_second", "stable")]
    assert result.decided_after < WINDOW


def test_a_candidate_rejecting_the_input_fails_on_its_error_ratio(live: Live) -> None:
    load, end = load_both(live, candidate_body=WRONG_SHAPE_BODY)
    result = analyse(live, load, end)

    assert result.verdict == "failed"
    assert any(reason.startswith("error_ratio: 1 > max 0.01") for reason in result.why), result.why
    assert result.value("error_ratio", "stable") == 0
    assert load.error_ratio == 1


def test_no_traffic_is_inconclusive_and_says_what_is_missing(live: Live) -> None:
    time.sleep(WINDOW + 2)  # a window without requests on either track
    result = analyse(live, None, time.time())

    assert result.verdict == "inconclusive"
    assert result.why == [
        "candidate track: 0 requests served, fewer than min_requests 40",
        "stable track: 0 requests served, fewer than min_requests 40",
    ]
    # histogram_quantile over no requests is NaN: read as no data, never as 0
    assert result.value("latency_p99_ms", "candidate") is None
    p99 = next(c for c in result.checks if c.metric == "latency_p99_ms" and c.rule == "max")
    assert p99.status == "inconclusive"
