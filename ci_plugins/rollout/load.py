"""The configured load (analysis.load), sent to the app's Service through the API
server's service proxy: for `analyze` and for each canary step of `rollout`."""

from __future__ import annotations

import contextlib
from collections.abc import Sequence
from pathlib import Path

from ci_plugins.adapters import hey, kubectl
from ci_plugins.adapters.kube import Kube, load_client
from ci_plugins.config.models import AnalysisConfig, Config
from ci_plugins.errors import InputError
from ci_plugins.step import StepContext
from ci_plugins.verify.committed import read_committed
from ci_plugins.verify.serving import find_target

PROXY_TIMEOUT = 120.0


def send_load(
    ctx: StepContext,
    config: Config,
    analysis: AnalysisConfig,
    *,
    repo: str | None,
    env: str,
    app: str,
    kubeconfig: Path | None,
    bodies: Sequence[str],
    duration: float,
) -> hey.LoadResult:
    """POST the golden bodies to env's model at analysis.load.rate for warm-up + duration.

    InputError when the committed manifests have no TF Serving Service; ExternalError
    when the cluster or hey fails."""
    assert analysis.load is not None
    if not repo:
        raise InputError(
            "analysis.load needs the environment repo to find the model's Service",
            hint="pass --env-repo URL or set env_repo.url in ci-plugins.yaml",
        )
    committed = read_committed(repo, branch=config.env_repo.branch, env=env, app=app, config=config)
    objects = {(ref.kind, ref.namespace, ref.name): obj for ref, obj in committed.objects.items()}
    target = find_target(objects, config.verify.model, app=app)
    if target is None:
        raise InputError(
            f"{env}/{app}: the committed manifests have no TF Serving Deployment "
            "with a Service to send the load to",
        )
    kube = Kube(load_client(kubeconfig), clock=ctx.clock, deadline=ctx.clock.time() + PROXY_TIMEOUT)
    path = (
        f"/api/v1/namespaces/{target.namespace}/services/"
        f"{target.service}:{target.port}/proxy/v1/models/{target.name}:predict"
    )
    load = analysis.load
    ctx.out.info(
        f"load: {len(bodies)} golden request(s) at {load.rate:g} req/s for "
        f"{load.warmup:g}s warm-up + {duration:g}s to {target.namespace}/{target.service}"
    )
    with contextlib.ExitStack() as stack:
        base = kube.host.rstrip("/")
        if _has_credentials(kube):
            # hey takes headers only in argv (visible in ps): kubectl carries them.
            base = stack.enter_context(kubectl.proxy(kubeconfig))
        result = hey.run_load(
            base + path,
            bodies,
            rate=load.rate,
            duration=duration,
            warmup=load.warmup,
            timeout=load.timeout,
        )
    ctx.out.info(
        f"load: achieved {result.achieved_rate:.2f} req/s of {load.rate:g} requested, "
        f"{result.errors} of {result.answered} answers not 2xx"
    )
    return result


def _has_credentials(kube: Kube) -> bool:
    """True when the client authenticates (a token, a client certificate, basic auth)."""
    configuration = kube.api_client.configuration
    keys = configuration.api_key or {}
    return bool(
        keys.get("authorization")
        or keys.get("BearerToken")
        or configuration.cert_file
        or configuration.username
    )
