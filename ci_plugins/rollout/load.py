"""The configured load (analysis.load), sent to the app's Service through the API
server's service proxy: for `analyze` and for each canary step of `rollout`."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from ci_plugins.adapters import hey
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
    url = (
        f"{kube.host.rstrip('/')}/api/v1/namespaces/{target.namespace}/services/"
        f"{target.service}:{target.port}/proxy/v1/models/{target.name}:predict"
    )
    load = analysis.load
    ctx.out.info(
        f"load: {len(bodies)} golden request(s) at {load.rate:g} req/s for "
        f"{load.warmup:g}s warm-up + {duration:g}s to {target.namespace}/{target.service}"
    )
    result = hey.run_load(
        url,
        bodies,
        rate=load.rate,
        duration=duration,
        warmup=load.warmup,
        timeout=load.timeout,
        headers=_auth_header(kube),
    )
    ctx.out.info(
        f"load: achieved {result.achieved_rate:.2f} req/s of {load.rate:g} requested, "
        f"{result.errors} of {result.answered} answers not 2xx"
    )
    return result


def _auth_header(kube: Kube) -> dict[str, str]:
    configuration = kube.api_client.configuration
    keys = configuration.api_key or {}
    token = keys.get("authorization") or keys.get("BearerToken")
    if not token:
        return {}
    prefix = (configuration.api_key_prefix or {}).get("authorization", "")
    return {"Authorization": f"{prefix} {token}".strip()}
