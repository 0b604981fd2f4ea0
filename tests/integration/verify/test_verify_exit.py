"""verify never dies after its verdict (#17 item 12): no exit but 0, 1 or 3, under load.

Healthy runs 4 at a time, then runs through a proxy that delays every new connection and
holds watch requests (so watch threads are inside an API call when verify ends), and one
whose first answers are 500s. Before the fix, daemon watch threads blocked in the
Kubernetes client were torn down at interpreter exit: SIGABRT (-6) after "healthy".
"""

from __future__ import annotations

import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from ci_plugins_emulator.server import write_kubeconfig

from tests.support.cli import clean_env
from tests.support.faulty_proxy import FaultyProxy
from tests.support.verify import VerifyEnv, deployment, service

PARALLEL = 4
ALLOWED = {0, 1, 3}


def _verify_many(env: VerifyEnv, kubeconfig: Path, runs: int) -> list[tuple[int, str]]:
    argv = [sys.executable, "-m", "ci_plugins", "verify", "--env", "dev", "--timeout", "120"]

    def one(_: int) -> tuple[int, str]:
        proc = subprocess.run(
            [*argv, "--kubeconfig", str(kubeconfig)],
            cwd=env.root,
            env=clean_env(),
            capture_output=True,
            text=True,
            timeout=240,
            check=False,
        )
        return proc.returncode, proc.stderr

    with ThreadPoolExecutor(PARALLEL) as pool:
        return list(pool.map(one, range(runs)))


def _check(results: list[tuple[int, str]], *, healthy: bool = True) -> None:
    codes = [code for code, _ in results]
    bad = [(code, err[-600:]) for code, err in results if code not in ALLOWED]
    assert not bad, f"exit codes {codes}; first bad run: {bad[0]}"
    if healthy:
        assert codes == [0] * len(codes), [err[-400:] for code, err in results if code][:1]
    for _, stderr in results:
        assert "Traceback" not in stderr
        assert "Fatal Python error" not in stderr


@pytest.mark.slow
def test_24_verify_runs_4_at_a_time_exit_only_0_1_or_3(verify_env: VerifyEnv) -> None:
    verify_env.publish(deployment(), service())
    verify_env.sync()
    port = urlsplit(verify_env.running.url).port
    assert port is not None

    _check(_verify_many(verify_env, verify_env.kubeconfig, 16))
    with FaultyProxy(port, connect_delay=0.3, hold_watches=3.0) as slow:
        kubeconfig = write_kubeconfig(verify_env.root / "slow-kubeconfig", slow.url)
        _check(_verify_many(verify_env, kubeconfig, 4))
        assert slow.connections >= 4
    with FaultyProxy(port, fail_first=12) as failing:
        kubeconfig = write_kubeconfig(verify_env.root / "failing-kubeconfig", failing.url)
        _check(_verify_many(verify_env, kubeconfig, 4))
        assert failing.failed == 12, "the first answers were 500s"
