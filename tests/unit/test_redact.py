"""redact in process: URL credentials, token shapes and registered secrets become ****."""

from __future__ import annotations

import pytest

from ci_plugins.redact import Secret, redact, register_secret


@pytest.mark.parametrize(
    ("text", "shown"),
    [
        pytest.param(
            "fatal: https://oauth2:glpat-abcdefghij12@gitlab.example.com/x.git",
            "fatal: https://****@gitlab.example.com/x.git",
            id="url-user-and-token",
        ),
        pytest.param(
            "clone ssh+git://token@host/repo", "clone ssh+git://****@host/repo", id="url-token"
        ),
        pytest.param("token glpat-abcdefghij12 leaked", "token **** leaked", id="gitlab-token"),
        pytest.param("ghp_" + "a" * 36, "****", id="github-token"),
        pytest.param("github_pat_" + "b" * 30, "****", id="github-fine-grained-token"),
        pytest.param("https://example.com/no/credentials", None, id="nothing-to-hide"),
    ],
)
def test_redact_hides_credentials_in_text(text: str, shown: str | None) -> None:
    assert redact(text) == (text if shown is None else shown)


def test_a_registered_secret_is_hidden_wherever_it_appears() -> None:
    register_secret("pa55-w0rd-for-redact-test")
    assert redact("login pa55-w0rd-for-redact-test ok") == "login **** ok"


@pytest.mark.parametrize("value", [None, "", "abc"])
def test_empty_and_very_short_values_are_not_registered(value: str | None) -> None:
    register_secret(value)
    assert redact("abc and a b c") == "abc and a b c"


def test_a_secret_prints_as_stars_and_keeps_its_value() -> None:
    secret = Secret("s3cret-value")
    assert str(secret) == "****"
    assert repr(secret) == "Secret(****)"
    assert f"{secret}" == "****"
    assert secret.value == "s3cret-value"
