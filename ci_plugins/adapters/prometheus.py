"""The Prometheus HTTP API: instant and range queries, and how long the server keeps data.

Speaks `/api/v1/query`, `/api/v1/query_range` and `/api/v1/status/runtimeinfo` as
documented at https://prometheus.io/docs/prometheus/latest/querying/api/. Errors keep the
API's `errorType`: a query that does not parse (`bad_data`, HTTP 400) is the user's input
(`QueryError`, exit 2); an unreachable server, a timeout or a 5xx is retried a bounded
number of times and then `PrometheusUnavailable` (exit 3). Generic on purpose: monitor
uses it, canary analysis can too.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import requests

from ci_plugins.adapters import retry
from ci_plugins.errors import ExternalError, InputError
from ci_plugins.redact import redact
from ci_plugins.step import REAL_CLOCK, Clock

TIMEOUT_SECONDS = 30
ATTEMPTS = 3  # 1 s, then 2 s apart
_RETENTION_PART = re.compile(r"(\d+)(ms|s|m|h|d|w|y)")
_UNIT_SECONDS = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800, "y": 31536000}


class QueryError(InputError):
    """Prometheus rejected the query itself (errorType bad_data): exit 2."""

    def __init__(self, message: str, *, error_type: str, hint: str | None = None) -> None:
        super().__init__(message, hint=hint)
        self.error_type = error_type


class PrometheusError(ExternalError):
    """Prometheus answered with an error other than a bad query (execution, timeout...)."""

    def __init__(self, message: str, *, error_type: str, status: int | None) -> None:
        super().__init__(message)
        self.error_type = error_type
        self.status = status


class PrometheusUnavailable(PrometheusError):
    """Connection refused, timed out, or 5xx/503 after the retries: exit 3."""


@dataclass(frozen=True)
class Series:
    """One time series of a result: its labels and (unix time, value) points."""

    labels: Mapping[str, str]
    points: tuple[tuple[float, float], ...]


def query(
    base_url: str, promql: str, *, at: float | None = None, clock: Clock = REAL_CLOCK
) -> list[Series]:
    """Evaluate an instant query (at `at`, default: the server's now); one point per series.

    Raises QueryError (exit 2) for a query Prometheus cannot parse, PrometheusUnavailable
    or PrometheusError (exit 3) otherwise. Scalars and strings come back as one series.
    """
    params: dict[str, str] = {"query": promql}
    if at is not None:
        params["time"] = _timestamp(at)
    data = _get(base_url, "/api/v1/query", params, promql=promql, clock=clock)
    return _series(data)


def query_range(
    base_url: str,
    promql: str,
    *,
    start: float,
    end: float,
    step: float,
    clock: Clock = REAL_CLOCK,
) -> list[Series]:
    """Evaluate promql at start, start+step, ... end (unix seconds); errors as `query`."""
    params = {
        "query": promql,
        "start": _timestamp(start),
        "end": _timestamp(end),
        "step": f"{step:g}s",
    }
    data = _get(base_url, "/api/v1/query_range", params, promql=promql, clock=clock)
    return _series(data)


def retention_seconds(base_url: str, *, clock: Clock = REAL_CLOCK) -> float | None:
    """How far back the server keeps data (runtimeinfo storageRetention, e.g. "15d" or
    "15d or 10GiB"); None when it is limited by size only or not reported."""
    data = _get(base_url, "/api/v1/status/runtimeinfo", {}, promql=None, clock=clock)
    text = str(data.get("storageRetention", "")) if isinstance(data, dict) else ""
    time_part = text.split(" or ")[0].strip()
    parts = list(_RETENTION_PART.finditer(time_part))
    if not parts or "".join(p.group(0) for p in parts) != time_part:
        return None
    return float(sum(int(p[1]) * _UNIT_SECONDS[p[2]] for p in parts))


def _get(
    base_url: str, path: str, params: Mapping[str, str], *, promql: str | None, clock: Clock
) -> Any:
    url = base_url.rstrip("/") + path
    policy = retry.doubling(
        lambda error: isinstance(error, PrometheusUnavailable), clock=clock, attempts=ATTEMPTS
    )
    try:
        return retry.call(policy, lambda _attempt: _get_once(url, params, promql=promql))
    except retry.GaveUp as exc:
        raise exc.last from None


def _get_once(url: str, params: Mapping[str, str], *, promql: str | None) -> Any:
    try:
        response = requests.get(url, params=dict(params), timeout=TIMEOUT_SECONDS)
    except requests.RequestException as exc:
        raise PrometheusUnavailable(
            f"cannot reach Prometheus at {redact(url)}: {_reason(exc)}",
            error_type="unreachable",
            status=None,
        ) from exc
    try:
        document = response.json()
    except ValueError:
        document = {}
    if response.ok and document.get("status") == "success":
        return document.get("data")
    error_type = str(document.get("errorType") or f"http_{response.status_code}")
    detail = redact(str(document.get("error") or response.text[:200] or "no message"))
    if error_type == "bad_data" and promql is not None:
        raise QueryError(
            f"Prometheus cannot run the query {promql!r}: {detail}",
            error_type=error_type,
            hint="check the PromQL (try it in the Prometheus UI's graph page)",
        )
    kind = PrometheusUnavailable if response.status_code >= 500 else PrometheusError
    raise kind(
        f"Prometheus at {redact(url)} answered HTTP {response.status_code} "
        f"({error_type}): {detail}",
        error_type=error_type,
        status=response.status_code,
    )


def _series(data: Any) -> list[Series]:
    if not isinstance(data, dict):
        return []
    kind, result = data.get("resultType"), data.get("result")
    if kind in ("scalar", "string") and isinstance(result, list):
        return [Series({}, (_point(result),))]
    found = []
    for item in result or []:
        raw = item.get("values") or ([item["value"]] if "value" in item else [])
        found.append(Series(dict(item.get("metric", {})), tuple(_point(p) for p in raw)))
    return found


def _point(raw: list[Any]) -> tuple[float, float]:
    return float(raw[0]), float(raw[1])  # "NaN", "+Inf" parse as floats too


def _timestamp(seconds: float) -> str:
    return f"{seconds:.3f}"


def _reason(exc: Exception) -> str:
    match = re.search(r"\[Errno -?\d+\][^'\")]*", str(exc))
    if match:
        return match.group(0).strip()
    return "timed out" if isinstance(exc, requests.Timeout) else type(exc).__name__
