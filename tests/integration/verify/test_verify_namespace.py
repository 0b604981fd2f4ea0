"""A missing object: verify names the namespace it looked in, and what to compare (#17 item 9)."""

from __future__ import annotations

from tests.support.cli import CliRunner
from tests.support.verify import NAMESPACE, VerifyEnv, deployment, service


def test_objects_missing_name_the_namespace_and_the_gitops_destination(
    verify_env: VerifyEnv, cli: CliRunner
) -> None:
    verify_env.write_config(missing_grace=1)
    verify_env.publish(deployment(), service())  # committed, never synced: nothing is there
    result = cli(*verify_env.verify_args("--timeout", "20"), cwd=verify_env.root)
    assert result.exit_code == 1, result.stderr
    assert f"does not exist in namespace {NAMESPACE}" in result.stderr
    assert f"hint: verify looked in namespace {NAMESPACE} (environments.dev.namespace" in (
        result.stderr
    )
    assert "spec.destination.namespace" in result.stderr
    assert "spec.targetNamespace" in result.stderr
