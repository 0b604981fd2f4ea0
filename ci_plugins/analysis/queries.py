"""The PromQL that judges one track, scoped by pod labels (namespace, app, track).

Prometheus' pod relabelling (labelmap over `__meta_kubernetes_pod_label_*`) turns the pod
label `app.kubernetes.io/instance` into `app_kubernetes_io_instance` and the track label
`ci-plugins.dev/track` into `ci_plugins_dev_track`. The candidate's pods carry
`ci-plugins.dev/track: candidate`; every other pod of the app is the stable track.
"""

from __future__ import annotations

from dataclasses import dataclass

from ci_plugins.config.names import CANDIDATE_TRACK
from ci_plugins.monitor.windows import promql_duration

CANDIDATE = CANDIDATE_TRACK
_APP = "app_kubernetes_io_instance"
_TRACK = "ci_plugins_dev_track"

REQUESTS = ":tensorflow:serving:request_count"
LATENCY_BUCKET = ":tensorflow:serving:request_latency_bucket"
LATENCY_COUNT = ":tensorflow:serving:request_latency_count"
LOAD_ATTEMPTS = ":tensorflow:cc:saved_model:load_attempt_count"
NOT_OK = ',status!="OK"'
# TF Serving's REST server counts every API request in request_count (model_servers/
# http_server.cc), so a readiness probe on /v1/models/<name> is "traffic" there. Only
# request_latency says which API a (successful) request was: inference requests are
# counted as all requests minus the successful others, latency is read for inference only.
_INFERENCE_APIS = "(?i)predict|classify|regress|multi_?inference"
INFERENCE = f',API=~"{_INFERENCE_APIS}"'
NOT_INFERENCE = f',API!~"{_INFERENCE_APIS}"'


def _sum(metric: str, extra: str = "") -> str:
    return f"sum(increase({metric}{{{{selector}}{extra}}}[{{window}}]))"


def _inference_requests() -> str:
    # Empty (no data, never 0) when the track's request_count is not scraped at all.
    return f"({_sum(REQUESTS)} - ({_sum(LATENCY_COUNT, NOT_INFERENCE)} or vector(0)))"


def _latency(quantile: float) -> str:
    # TF Serving observes microseconds; the report speaks milliseconds.
    return (
        f"histogram_quantile({quantile}, sum by (le) "
        f"(rate({LATENCY_BUCKET}{{{{selector}}{INFERENCE}}}[{{window}}]))) / 1000"
    )


# Each template takes {selector} and {window}. A track without any errors has no
# status!="OK" series at all: that numerator alone reads as 0 (`or vector(0)`), while an
# empty denominator (no requests) keeps the ratio empty, which is "no data", never 0.
BUILTIN_QUERIES: dict[str, str] = {
    "requests": _inference_requests(),
    "error_ratio": f"({_sum(REQUESTS, NOT_OK)} or vector(0)) / {_inference_requests()}",
    "latency_p50_ms": _latency(0.5),
    "latency_p99_ms": _latency(0.99),
    # Failed loads happen at start-up, before the counter's first scrape can show an
    # increase: count what the pods report (their highest value in the window), and 0 only
    # while the track's pods are scraped at all.
    "load_failures": (
        f'sum(max_over_time({LOAD_ATTEMPTS}{{{{selector}},status="fail"}}[{{window}}])) '
        "or (0 * sum(max_over_time(up{{selector}}[{window}])))"
    ),
}


@dataclass(frozen=True)
class Track:
    """One set of pods judged together."""

    name: str  # candidate, stable, or current (analyze without a canary)
    selector: str  # PromQL label matchers without braces


def app_selector(namespace: str, app: str) -> str:
    return f'namespace="{_quote(namespace)}",{_APP}="{_quote(app)}"'


def candidate_track(namespace: str, app: str) -> Track:
    return Track(CANDIDATE, f'{app_selector(namespace, app)},{_TRACK}="{CANDIDATE}"')


def stable_track(namespace: str, app: str) -> Track:
    # != also matches pods without the label: the stable release before any canary.
    return Track("stable", f'{app_selector(namespace, app)},{_TRACK}!="{CANDIDATE}"')


def current_track(namespace: str, app: str) -> Track:
    return Track("current", app_selector(namespace, app))


def tracks_query(namespace: str, app: str, window: float) -> str:
    """Which tracks had pods scraped in the window (one series per track label value)."""
    return (
        f"count by ({_TRACK}) (max_over_time(up{{{app_selector(namespace, app)}}}"
        f"[{promql_duration(window)}]))"
    )


def scrape_time_query(selector: str) -> str:
    """The oldest latest-scrape time among the track's targets (data complete after it)."""
    return f"min(timestamp(up{{{selector}}}))"


def render(template: str, track: Track, window: float) -> str:
    """The query for this track and window ({selector}, {window} replaced)."""
    return template.replace("{selector}", track.selector).replace(
        "{window}", promql_duration(window)
    )


def _quote(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"')
