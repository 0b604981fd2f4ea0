"""The CI side of `train.backend: kubernetes`: create (or attach to) the Job, watch it,
collect the chief's outputs, and leave no Job behind when it fails or is cancelled."""

from __future__ import annotations

import shutil
import tempfile
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from ci_plugins.adapters import kube as kube_api
from ci_plugins.adapters import oci
from ci_plugins.config.models import KubernetesTrainConfig
from ci_plugins.errors import ExternalError, InputError
from ci_plugins.model import packaging
from ci_plugins.model.digest import directory_digest
from ci_plugins.model.manifest import MANIFEST_FILE, read_manifest
from ci_plugins.output import Output
from ci_plugins.step import Clock
from ci_plugins.training.kubernetes import render, watching
from ci_plugins.training.kubernetes.worker import BUNDLE_TITLE
from ci_plugins.verify.evidence import gather_evidence
from ci_plugins.verify.readiness.evaluate import Checked
from ci_plugins.verify.readiness.model import ObjectRef, Result, Status, Timers, get
from ci_plugins.verify.readiness.pods import pod_name
from ci_plugins.verify.readiness.policy import Policy

POLL = 2.0
REPORT_EVERY = 10.0
CONNECT_BUDGET = 20.0
RBAC_HINT = (
    "the CI job's identity needs create/get/list/delete on jobs.batch and services, "
    "get/list/delete on pods, get on pods/log and list on events in the training namespace "
    "(docs/train.md)"
)


@dataclass
class Watch:
    """Progress of one run: log lines shown, when the chief last said something."""

    started: float
    last_progress: float
    shown: dict[str, int] = field(default_factory=dict)
    last_report: float = 0.0
    timers: Timers = field(default_factory=Timers)
    chief: str | None = None  # the pod a time-out is about


def connect(cfg: KubernetesTrainConfig, *, clock: Clock) -> kube_api.Kube:
    """A client for the training cluster; ExternalError (exit 3) when it cannot be reached."""
    path = Path(cfg.kubeconfig) if cfg.kubeconfig else None
    api_client = kube_api.load_client(path, context=cfg.context)
    kube = kube_api.Kube(api_client, clock, clock.time() + CONNECT_BUDGET)
    try:
        kube.list_objects("batch/v1", "Job", cfg.namespace, label_selector="ci-plugins=probe")
    except ExternalError as exc:
        if str(exc).startswith("Kubernetes API refused"):
            raise ExternalError(
                f"{exc} (RBAC: this identity may not list jobs.batch in namespace {cfg.namespace})",
                hint=RBAC_HINT,
            ) from None
        raise ExternalError(
            f"cannot reach the training cluster at {kube.host}: {exc}",
            hint="check train.kubernetes.kubeconfig/context and the network (nothing was created)",
        ) from None
    return kube


def start_or_attach(
    kube: kube_api.Kube, run: render.Run, cfg: KubernetesTrainConfig, out: Output
) -> None:
    """Create the Service and the Job, or attach to the Job of the same source commit."""
    ref = job_ref(run, cfg)
    existing = kube.get(ref)
    if existing is not None and _finished_badly(existing):
        out.info(f"Job {run.name} of this commit failed before; deleting it to start again")
        delete_run(kube, run, cfg)
        existing = None
    if existing is not None:
        out.info(f"attaching to Job {cfg.namespace}/{run.name}: it trains this commit already")
        return
    kube_api.create_object(kube, render.service(run, cfg), hint=RBAC_HINT)
    try:
        created = kube_api.create_object(kube, render.job(run, cfg), hint=RBAC_HINT)
    except ExternalError:
        delete_run(kube, run, cfg)  # leave no Service behind a Job we could not create
        raise
    if created is None:
        out.info(f"attaching to Job {cfg.namespace}/{run.name} (created meanwhile)")
    else:
        out.info(f"created Job {cfg.namespace}/{run.name}: {cfg.workers} worker(s) of {cfg.image}")


def job_ref(run: render.Run, cfg: KubernetesTrainConfig) -> ObjectRef:
    return ObjectRef(api_version="batch/v1", kind="Job", namespace=cfg.namespace, name=run.name)


def delete_run(kube: kube_api.Kube, run: render.Run, cfg: KubernetesTrainConfig) -> None:
    """Delete the Job, its pods and the Service; absent ones are fine.

    The pods are deleted by name too: the garbage collector would, but only after the
    Job is gone, and a cancelled CI job should stop its workers now.
    """
    kube_api.delete_object(kube, "batch/v1", "Job", cfg.namespace, run.name, hint=RBAC_HINT)
    pods, _ = kube.list_objects("v1", "Pod", cfg.namespace, label_selector=f"job-name={run.name}")
    for pod in pods:
        kube_api.delete_object(kube, "v1", "Pod", cfg.namespace, pod_name(pod), hint=RBAC_HINT)
    kube_api.delete_object(kube, "v1", "Service", cfg.namespace, run.name, hint=RBAC_HINT)


def _finished_badly(job: kube_api.Obj) -> bool:
    conditions = (job.get("status") or {}).get("conditions") or []
    return any(c.get("type") == "Failed" and c.get("status") == "True" for c in conditions)


def watch_until_done(
    kube: kube_api.Kube,
    run: render.Run,
    cfg: KubernetesTrainConfig,
    *,
    out: Output,
    clock: Clock,
) -> watching.Verdict:
    """Poll the Job, stream the chief's log, report pending workers; the final verdict."""
    now = clock.time()
    kube.deadline = now + cfg.time_budget + 60  # transient API errors are retried this long
    started = now - watching.running_for(kube.get(job_ref(run, cfg)), wall=time.time())
    state = Watch(started=started, last_progress=now)
    policy = Policy(unschedulable_grace=min(120.0, cfg.no_progress_timeout))
    while True:
        now = clock.time()
        state.timers.now = now
        verdict = _look(kube, run, cfg, state, policy, out)
        if verdict.state != "running":
            return verdict
        if now - state.last_progress > cfg.no_progress_timeout:
            return watching.Verdict(
                "failed",
                "NoProgress",
                f"the chief logged nothing for {cfg.no_progress_timeout:.0f}s "
                "(train.kubernetes.no_progress_timeout)",
                pod=state.chief,
            )
        if now - state.started > cfg.time_budget:
            return replace(watching.over_budget(cfg.time_budget), pod=state.chief)
        if now - state.last_report >= REPORT_EVERY and verdict.pending:
            state.last_report = now
            out.info("pending: " + "; ".join(verdict.pending))
        clock.sleep(POLL)


def _look(
    kube: kube_api.Kube,
    run: render.Run,
    cfg: KubernetesTrainConfig,
    state: Watch,
    policy: Policy,
    out: Output,
) -> watching.Verdict:
    job = kube.get(job_ref(run, cfg))
    if job is None:
        return watching.Verdict("failed", "JobDeleted", f"Job {run.name} was deleted meanwhile")
    pods, _ = kube.list_objects("v1", "Pod", cfg.namespace, label_selector=f"job-name={run.name}")
    names = {pod_name(p) for p in pods}
    events_for: dict[str, list[kube_api.Obj]] = {}
    for event in kube.events(cfg.namespace):
        involved = (event.get("involvedObject") or {}).get("name")
        if involved in names:
            events_for.setdefault(str(involved), []).append(event)
    chief = watching.chief(pods)
    state.chief = pod_name(chief) if chief is not None else None
    if chief is not None and _stream(kube, cfg, chief, state, out):
        state.last_progress = state.timers.now
    if chief is None or (chief.get("status") or {}).get("phase") != "Running":
        state.last_progress = state.timers.now  # pending is judged by the pod rules, not here
    return watching.judge(job, pods, events_for, policy, state.timers)


def _stream(
    kube: kube_api.Kube,
    cfg: KubernetesTrainConfig,
    pod: Mapping[str, Any],
    state: Watch,
    out: Output,
) -> bool:
    """Print the chief's new log lines; True when there were any."""
    name = pod_name(pod)
    lines = kube_api.read_log(kube, cfg.namespace, name, render.CONTAINER).splitlines()
    new = lines[state.shown.get(name, 0) :]
    state.shown[name] = len(lines)
    for line in new:
        out.info(f"[worker 0] {line}")
    return bool(new)


def evidence(
    kube: kube_api.Kube, cfg: KubernetesTrainConfig, verdict: watching.Verdict
) -> list[str]:
    """What verify shows for the pod a failure is about: the pod's own reason, each
    container's state and last exit code, its events and its log tail."""
    if not verdict.pod:
        return []
    ref = ObjectRef(api_version="v1", kind="Pod", namespace=cfg.namespace, name=verdict.pod)
    failed = Result(status=Status.FAILED, reason=verdict.reason, pod=verdict.pod)
    lines = gather_evidence(kube, [Checked(ref=ref, result=failed)]).get(ref, [])
    pod = kube.get(ref)
    said = [str(get(pod, "status", k, default="") or "") for k in ("reason", "message")]
    if any(said):
        lines.insert(0, "pod status: " + ": ".join(part for part in said if part))
    return [f"  {line}" for line in lines]


def collect(
    target: oci.Target, *, tag: str, app: str, output: Path, swap: Callable[[Path, Path], None]
) -> None:
    """Pull the chief's outputs, check the model digest against its manifest, move them in.

    ExternalError (exit 3) when the artifact is missing or the digest does not match.
    """
    with tempfile.TemporaryDirectory(prefix=".ci-plugins-pull-", dir=output) as tmp:
        oci.pull_artifact(target, reference=tag, outdir=Path(tmp))
        pulled = Path(tmp) / BUNDLE_TITLE
        try:
            manifest = read_manifest(pulled / MANIFEST_FILE, app=app)
        except InputError as exc:
            raise ExternalError(f"the chief's artifact {target.ref.tagged(tag)}: {exc}") from None
        digest = directory_digest(pulled / "model" / manifest.model_version)
        if digest != manifest.model_digest:
            raise ExternalError(
                f"the model pulled from {target.ref.tagged(tag)} has digest {digest}, "
                f"its manifest says {manifest.model_digest}; nothing was written"
            )
        swap(pulled / "model", output / "model")
        for path in sorted(pulled.iterdir()):
            if path.is_file() and path.name != MANIFEST_FILE:
                shutil.copyfile(path, output / path.name)
        shutil.copyfile(pulled / MANIFEST_FILE, output / MANIFEST_FILE)  # last: "complete"


def artifact_target(registry: str, plain_http: bool | None) -> oci.Target:
    ref = packaging.parse_registry(registry)
    repository = packaging.RegistryRef(host=ref.host, repository=f"{ref.repository}/train-output")
    return oci.Target(ref=repository, plain_http=ref.loopback if plain_http is None else plain_http)
