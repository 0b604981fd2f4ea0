"""`kubectl proxy` on a free loopback port: a local, unauthenticated door to the API server.

hey (the load generator) takes headers only as `-H` arguments, which every user of the
machine can read in `ps`; it has no header file, environment variable or client
certificate option. So a token (or a client certificate) never goes to hey: kubectl
reads the kubeconfig (or the in-cluster service account) itself and adds the
credentials on the way, and hey talks plain HTTP to 127.0.0.1.
"""

from __future__ import annotations

import contextlib
import re
import select
import shutil
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

from ci_plugins.errors import ExternalError
from ci_plugins.redact import redact

START_TIMEOUT = 30.0
_SERVING = re.compile(r"Starting to serve on (127\.0\.0\.1:\d+)")


@contextlib.contextmanager
def proxy(kubeconfig: Path | None, *, timeout: float = START_TIMEOUT) -> Iterator[str]:
    """Run `kubectl proxy` for the duration of the block; yields its base URL
    (http://127.0.0.1:PORT). ExternalError (exit 3) when kubectl is missing or does not
    start within timeout."""
    binary = shutil.which("kubectl")
    if binary is None:
        raise ExternalError(
            "kubectl is not installed: it carries the cluster credentials for the load "
            "(hey would show a token in its command line)",
            hint="install kubectl on the runner",
        )
    argv = [binary, "proxy", "--port=0", "--address=127.0.0.1"]
    if kubeconfig is not None:
        argv += ["--kubeconfig", str(kubeconfig)]
    with subprocess.Popen(
        argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    ) as proc:  # closes the pipes and waits on the way out
        try:
            yield f"http://{_address(proc, timeout)}"
        finally:
            proc.terminate()
            try:
                proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                proc.kill()


def _address(proc: subprocess.Popen[str], timeout: float) -> str:
    """host:port from kubectl's first line ("Starting to serve on 127.0.0.1:PORT")."""
    assert proc.stdout is not None
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and proc.poll() is None:
        ready, _, _ = select.select([proc.stdout], [], [], 0.2)
        if ready:
            found = _SERVING.search(proc.stdout.readline())
            if found:
                return found[1]
    stderr = proc.stderr.read() if proc.stderr and proc.poll() is not None else ""
    raise ExternalError(
        f"kubectl proxy did not start within {timeout:g}s"
        + (f": {redact(stderr.strip()[-500:])}" if stderr else "")
    )
