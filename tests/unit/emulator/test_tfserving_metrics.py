"""The metrics page has TF Serving's names, labels, buckets and exposition format."""

from __future__ import annotations

import re
import shutil
import subprocess

import pytest
from ci_plugins_emulator.tfserving.metrics import LATENCY_BUCKETS, Metrics
from prometheus_client.parser import text_string_to_metric_families


def samples(page: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """Samples by name and sorted labels, parsed by prometheus_client's text parser.

    The parser reports a counter's samples as `<name>_total` (OpenMetrics); they are
    keyed by the name on the page here.
    """
    found = {}
    for family in text_string_to_metric_families(page):
        for sample in family.samples:
            name = family.name if family.type == "counter" else sample.name
            found[(name, tuple(sorted(sample.labels.items())))] = sample.value
    return found


def test_request_count_is_a_counter_without_a_total_suffix() -> None:
    metrics = Metrics()
    metrics.count_request(model_name="digits", status="OK")
    metrics.count_request(model_name="digits", status="OK")
    metrics.count_request(model_name="digits", status="INVALID_ARGUMENT")
    page = metrics.page()
    assert "# TYPE :tensorflow:serving:request_count counter\n" in page
    assert '\n:tensorflow:serving:request_count{model_name="digits",status="OK"} 2\n' in page
    assert "_total" not in page
    assert "# HELP" not in page
    values = samples(page)
    key = (":tensorflow:serving:request_count", (("model_name", "digits"), ("status", "OK")))
    assert values[key] == 2


def test_request_latency_is_a_microsecond_histogram_over_tf_servings_buckets() -> None:
    metrics = Metrics()
    for micros in (5, 10, 500, 1e10):
        metrics.observe_latency(
            model_name="digits", api="predict", entrypoint="REST", micros=micros
        )
    page = metrics.page()
    labels = (("API", "predict"), ("entrypoint", "REST"), ("model_name", "digits"))
    values = samples(page)
    bucket = ":tensorflow:serving:request_latency_bucket"
    assert len(LATENCY_BUCKETS) == 33
    assert LATENCY_BUCKETS[:3] == (10, 18, 10 * 1.8**2)
    # A value equal to a limit counts in the next bucket (TF's Histogram: upper_bound).
    assert values[(bucket, (*labels[:2], ("le", "10"), labels[2]))] == 1
    assert values[(bucket, (*labels[:2], ("le", "612.22"), labels[2]))] == 3
    assert values[(bucket, (*labels[:2], ("le", "+Inf"), labels[2]))] == 4
    assert values[(":tensorflow:serving:request_latency_count", labels)] == 4
    # absl::StrCat(double) keeps six significant digits, as on TF Serving's page.
    total = values[(":tensorflow:serving:request_latency_sum", labels)]
    assert total == pytest.approx(5 + 10 + 500 + 1e10, rel=1e-5)
    assert 'le="10"}' in page  # absl::StrCat(double), not "10.0"


def test_load_attempts_count_success_and_fail_by_model_path() -> None:
    metrics = Metrics()
    metrics.count_load_attempt(model_path="/models/digits/1", success=False)
    metrics.count_load_attempt(model_path="/models/digits/1", success=True)
    values = samples(metrics.page())
    name = ":tensorflow:cc:saved_model:load_attempt_count"
    for status in ("fail", "success"):
        assert values[(name, (("model_path", "/models/digits/1"), ("status", status)))] == 1


def test_an_idle_server_exposes_an_empty_page() -> None:
    assert Metrics().page() == "\n"


def test_label_values_are_escaped() -> None:
    metrics = Metrics()
    metrics.count_request(model_name='a"b\\c', status="OK")
    assert 'model_name="a\\"b\\\\c"' in metrics.page()


# promtool's lint findings that TF Serving's own page has too: its names carry ':', it
# writes no HELP and its counters have no _total suffix.
TF_SERVING_LINT = re.compile(
    r"^:tensorflow:\S+ (metric names should not contain ':'|no help text|"
    r'counter metrics should have "_total" suffix|'
    r'non-histogram and non-summary metrics should not have "_count" suffix)$'
)


def test_prometheus_own_parser_reads_the_page() -> None:
    metrics = Metrics()
    metrics.count_request(model_name="digits", status="OK")
    metrics.observe_latency(model_name="digits", api="predict", entrypoint="REST", micros=1234)
    metrics.count_load_attempt(model_path="/models/digits/1", success=True)
    promtool = shutil.which("promtool")
    assert promtool, "promtool is missing: install the Debian prometheus package"
    proc = subprocess.run(
        [promtool, "check", "metrics"],
        input=metrics.page(),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert "parsing error" not in proc.stdout + proc.stderr
    findings = (proc.stdout + proc.stderr).splitlines()
    assert findings
    assert all(TF_SERVING_LINT.match(line) for line in findings), findings
