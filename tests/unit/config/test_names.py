"""config.names in process: DNS-1123 labels for apps (53) and environments (63)."""

from __future__ import annotations

import pytest

from ci_plugins.config.names import APP_MAX, ENV_MAX, check_app, check_env, dns_label_problem
from ci_plugins.errors import InputError


@pytest.mark.parametrize("name", ["digits", "a", "model-2", "0abc", "a" * APP_MAX])
def test_valid_app_names_are_returned_unchanged(name: str) -> None:
    assert check_app(name) == name


@pytest.mark.parametrize(
    ("name", "problem"),
    [
        pytest.param("", "must not be empty", id="empty"),
        pytest.param("../x", "is not a DNS-1123 label", id="dot-dot"),
        pytest.param("a/b", "is not a DNS-1123 label", id="slash"),
        pytest.param("Digits", "is not a DNS-1123 label", id="upper-case"),
        pytest.param("-digits", "is not a DNS-1123 label", id="leading-hyphen"),
        pytest.param("digits-", "is not a DNS-1123 label", id="trailing-hyphen"),
        pytest.param("a" * (APP_MAX + 1), "is 54 characters long; at most 53", id="too-long"),
    ],
)
def test_invalid_app_names_are_input_errors_that_say_why(name: str, problem: str) -> None:
    with pytest.raises(InputError) as raised:
        check_app(name)
    assert raised.value.exit_code == 2
    assert str(raised.value).startswith("invalid app name: ")
    assert problem in str(raised.value)


def test_environment_names_may_be_longer_than_app_names() -> None:
    assert check_env("e" * ENV_MAX) == "e" * ENV_MAX
    with pytest.raises(InputError, match=r"invalid environment name: .* at most 63"):
        check_env("e" * (ENV_MAX + 1))


def test_the_what_names_the_flag_in_the_message() -> None:
    with pytest.raises(InputError, match=r"^invalid --to-env name: "):
        check_env("Prod", what="--to-env")


def test_a_non_string_is_a_problem_not_a_crash() -> None:
    assert dns_label_problem(3, max_length=APP_MAX) == "expected a string, got int"
    assert dns_label_problem("ok", max_length=APP_MAX) is None
