"""The single retry helper: transient errors until the deadline, with an injected clock."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
import urllib3
from kubernetes.client.exceptions import ApiException

from ci_plugins.adapters.kube import load_client, plural_of, retry
from ci_plugins.errors import ExternalError, InputError
from tests.support.clock import FakeClock


def failing(errors: list[Exception]) -> Callable[[], str]:
    def call() -> str:
        if errors:
            raise errors.pop(0)
        return "ok"

    return call


def api_error(status: int, headers: dict[str, str] | None = None) -> ApiException:
    exc = ApiException(status=status, reason="boom")
    exc.headers = headers
    return exc


def test_two_500s_are_retried_with_backoff() -> None:
    clock = FakeClock()
    result = retry(failing([api_error(500), api_error(503)]), what="x", clock=clock, deadline=60)
    assert result == "ok"
    assert clock.sleeps == [0.5, 1.0]


def test_429_waits_for_retry_after() -> None:
    clock = FakeClock()
    retry(failing([api_error(429, {"Retry-After": "7"})]), what="x", clock=clock, deadline=60)
    assert clock.sleeps == [7.0]


def test_connection_reset_is_transient() -> None:
    clock = FakeClock()
    reset = urllib3.exceptions.ProtocolError("Connection aborted.", ConnectionResetError())
    assert retry(failing([reset]), what="x", clock=clock, deadline=60) == "ok"


def test_gives_up_at_the_deadline_with_exit_3() -> None:
    clock = FakeClock()
    errors: list[Exception] = [api_error(500)] * 100
    with pytest.raises(ExternalError, match=r"list pods failed \d+ time\(s\): HTTP 500") as info:
        retry(failing(errors), what="list pods", clock=clock, deadline=10)
    assert info.value.exit_code == 3
    assert clock.now == pytest.approx(10)


def test_forbidden_is_not_retried_and_names_rbac() -> None:
    clock = FakeClock()
    with pytest.raises(ExternalError, match="HTTP 403") as info:
        retry(failing([api_error(403)]), what="list pods", clock=clock, deadline=60)
    assert "RBAC" in (info.value.hint or "")
    assert clock.sleeps == []


def test_kubeconfig_problems_are_input_errors_without_contents(tmp_path: Path) -> None:
    bad = tmp_path / "config"
    bad.write_text("users: [{name: u, user: {token: hunter2-secret}}]\n")
    with pytest.raises(InputError) as info:
        load_client(bad)
    assert "hunter2-secret" not in str(info.value)
    with pytest.raises(InputError, match="does not exist"):
        load_client(tmp_path / "missing")


@pytest.mark.parametrize(
    ("kind", "plural"),
    [("Application", "applications"), ("Policy", "policies"), ("Ingress", "ingresses")],
)
def test_plural_of_custom_kinds(kind: str, plural: str) -> None:
    assert plural_of(kind) == plural
