"""templates/serviceaccount.yaml."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any


def test_service_account_does_not_mount_a_token_and_can_be_turned_off(
    render: Callable[..., Any],
) -> None:
    account = render()["ServiceAccount/digits-model-server"]
    assert account["automountServiceAccountToken"] is False
    objects = render({"serviceAccount": {"create": False}})
    assert "ServiceAccount/digits-model-server" not in objects
    spec = objects["Deployment/digits-model-server"]["spec"]["template"]["spec"]
    assert spec["serviceAccountName"] == "default"
