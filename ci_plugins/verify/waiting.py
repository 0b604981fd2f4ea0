"""The waiting of `ci-plugins verify`: budgets, phase A polling, the watch loop, the model.

Keeps waiting separate from deciding: the rules (ci_plugins.verify.readiness) are pure; this module
feeds them snapshots, fires time-based rules on resyncs and says what it waits for.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ci_plugins.config.models import ControllerConfig, VerifyConfig
from ci_plugins.errors import CiPluginsError
from ci_plugins.render.manifests import CLUSTER_SCOPED
from ci_plugins.step import StepContext
from ci_plugins.verify import serving
from ci_plugins.verify.committed import Committed
from ci_plugins.verify.readiness import gitops
from ci_plugins.verify.readiness.evaluate import Checked, Evaluator
from ci_plugins.verify.readiness.model import (
    ObjectRef,
    Result,
    Status,
    aggregate,
    failed,
    progressing,
)
from ci_plugins.verify.readiness.policy import policy_of
from ci_plugins.verify.serving_logs import NoModelCheck
from ci_plugins.verify.watch import Observer

if TYPE_CHECKING:  # the kubernetes client loads only when verify talks to a cluster
    from ci_plugins.adapters.kube import Kube

# Phase A reasons that mean "our commit is applied, its health is still settling".
APPLIED = {"AppNotHealthy"}
DEBOUNCE = 0.1  # seconds between evaluations when watch events arrive in bursts


class Verification:
    """One verification: the budgets, the observer, and the loop that waits."""

    def __init__(
        self,
        ctx: StepContext,
        vcfg: VerifyConfig,
        committed: Committed,
        kube: Kube,
        *,
        start: float,
        deadline: float,
    ) -> None:
        self.ctx = ctx
        self.vcfg = vcfg
        self.committed = committed
        self.kube = kube
        self.start = start
        self.deadline = deadline
        self.policy = policy_of(vcfg)
        self.timed_out = False
        self.controller_refs: list[ObjectRef] = []
        objects = {
            ref: obj for ref, obj in committed.objects.items() if ref.kind not in CLUSTER_SCOPED
        }
        self.evaluator = Evaluator(self.policy, objects)
        self.no_model = NoModelCheck(kube, self.policy, self.evaluator.timers)
        self.target = serving.find_target(
            {(r.kind, r.namespace, r.name): o for r, o in objects.items()},
            vcfg.model,
            app=committed.apps[0],
        )

    # -- phase A -------------------------------------------------------------------
    def phase_a(self) -> list[Checked] | None:
        """Wait for the controller to apply our commit; a final list when it failed or timed out."""
        controller = self.vcfg.controller
        if controller is None:
            return None
        sync_deadline = min(self.deadline, self.start + self.vcfg.sync_timeout)
        refs = [self._controller_ref(controller, app) for app in self.committed.apps]
        if controller.refresh:
            for ref in refs:
                self._request_refresh(controller, ref)
        next_progress = self.ctx.clock.time() + self.vcfg.progress_interval
        while True:
            now = self.ctx.clock.time()
            checked = [Checked(ref, self._controller_result(controller, ref)) for ref in refs]
            status = aggregate(c.result.status for c in checked)
            if status is Status.CURRENT or all(c.result.reason in APPLIED for c in checked):
                # Our commit is applied: its health is decided with phases B-D, so that a
                # crash-looping pod fails fast instead of waiting for the app to turn Degraded.
                self.ctx.out.info("; ".join(f"{c.ref}: {c.result.message}" for c in checked))
                self.controller_refs = refs
                return None
            if status is Status.FAILED:
                return checked
            if now >= sync_deadline:
                self.timed_out = True
                return checked
            if now >= next_progress:
                self._progress(checked, sync_deadline, now)
                next_progress = now + self.vcfg.progress_interval
            self.ctx.clock.sleep(min(2.0, max(0.0, sync_deadline - now)))

    def _controller_ref(self, controller: ControllerConfig, app: str) -> ObjectRef:
        name = controller.name.replace("{app}", app).replace("{env}", self.committed.env)
        if controller.kind == "argocd":
            return ObjectRef(
                "argoproj.io/v1alpha1", "Application", controller.namespace or "argocd", name
            )
        return ObjectRef(
            "kustomize.toolkit.fluxcd.io/v1",
            "Kustomization",
            controller.namespace or "flux-system",
            name,
        )

    def _request_refresh(self, controller: ControllerConfig, ref: ObjectRef) -> None:
        if controller.kind == "argocd":
            annotations = {"argocd.argoproj.io/refresh": "normal"}
        else:
            annotations = {
                "reconcile.fluxcd.io/requestedAt": f"ci-plugins-{self.committed.commit[:12]}"
            }
        try:
            self.kube.patch_annotations(ref, annotations)
        except CiPluginsError as exc:
            self.ctx.out.warn(f"could not request a refresh of {ref} ({exc}); waiting for its poll")

    def _controller_result(self, controller: ControllerConfig, ref: ObjectRef) -> Result:
        obj = self.kube.get(ref)
        if obj is None:
            return progressing("NotFound", f"{ref} not found in namespace {ref.namespace}")
        self.evaluator.timers.now = self.ctx.clock.time()
        if controller.kind == "argocd":
            return gitops.argocd_application(
                obj, self.committed.commit, self.policy, self.evaluator.timers
            )
        return gitops.flux_kustomization(obj, self.committed.commit)

    # -- phases B-D and the model --------------------------------------------------------
    def rollout_deadline(self) -> float:
        budget = self.vcfg.rollout_timeout
        deadlines = [
            int(obj.get("spec", {}).get("progressDeadlineSeconds") or 600)
            for ref, obj in self.committed.objects.items()
            if ref.kind == "Deployment"
        ]
        self._warn_startup_probes()
        if budget is None:
            budget = max(deadlines, default=600) + 120
        elif deadlines and budget < max(deadlines):
            self.ctx.out.warn(
                f"verify.rollout_timeout {budget:g}s is shorter than progressDeadlineSeconds "
                f"{max(deadlines)}s: a slow rollout may be reported as a timeout"
            )
        return min(self.deadline, self.ctx.clock.time() + budget)

    def _warn_startup_probes(self) -> None:
        # kubernetes#129959: a startupProbe budget beyond the progress deadline makes a slow
        # but healthy model load look like ProgressDeadlineExceeded.
        for ref, obj in self.committed.objects.items():
            if ref.kind != "Deployment":
                continue
            deadline = int(obj.get("spec", {}).get("progressDeadlineSeconds") or 600)
            template = obj.get("spec", {}).get("template", {}).get("spec", {})
            for container in template.get("containers") or []:
                probe = container.get("startupProbe") or {}
                budget = int(probe.get("failureThreshold", 3)) * int(probe.get("periodSeconds", 10))
                if probe and budget > deadline:
                    self.ctx.out.warn(
                        f"{ref}: container {container.get('name')} may take {budget}s to start "
                        f"(startupProbe) but progressDeadlineSeconds is {deadline}s"
                    )

    def phases_b_to_d(self) -> list[Checked]:
        deadline = self.rollout_deadline()
        observer = Observer(self.kube, list(self.evaluator.committed), use_watch=self.vcfg.watch)
        try:
            observer.start()
            return self._loop(observer, deadline)
        finally:
            stuck = observer.stop()
            if stuck:
                self.ctx.out.warn(f"watch threads still busy after the verdict: {', '.join(stuck)}")

    def _loop(self, observer: Observer, deadline: float) -> list[Checked]:
        clock = self.ctx.clock
        interval = self.vcfg.resync_interval
        next_resync = clock.time() + interval
        next_progress = clock.time() + self.vcfg.progress_interval
        while True:
            now = clock.time()
            checked = self.evaluator.evaluate(observer, now)
            # a serving container that logs "no version" fails in seconds (#16)
            checked, serving_waits = self.no_model.apply(checked, now)
            status = aggregate(c.result.status for c in checked)
            model_pending = False
            if status is Status.CURRENT and self.target is not None:
                checked.append(self._model_check())
                status = aggregate(c.result.status for c in checked)
                model_pending = status is Status.IN_PROGRESS
            if status is Status.CURRENT and self.controller_refs:
                checked += self._controller_checks()
                status = aggregate(c.result.status for c in checked)
                model_pending = status is Status.IN_PROGRESS
            if status in (Status.CURRENT, Status.FAILED):
                return checked
            if now >= deadline:
                self.timed_out = True
                return checked
            if now >= next_progress:
                self._progress(checked, deadline, now, next_resync=next_resync)
                next_progress = now + self.vcfg.progress_interval
            wait = min(next_resync, next_progress, deadline) - now
            if model_pending:  # only the model is not ready yet: poll it
                wait = min(wait, 1.0)
            if serving_waits:  # a model server runs, not ready: read its log again soon
                wait = min(wait, self.no_model.interval)
            if observer.wait(wait):
                clock.sleep(DEBOUNCE)
            if clock.time() >= next_resync:
                observer.resync()
                next_resync = clock.time() + interval

    def _controller_checks(self) -> list[Checked]:
        """Phase A again, once B-D pass: the controller must also report the app Healthy."""
        controller = self.vcfg.controller
        assert controller is not None
        return [
            Checked(ref, self._controller_result(controller, ref)) for ref in self.controller_refs
        ]

    def _model_check(self) -> Checked:
        target = self.target
        assert target is not None
        ref = ObjectRef("serving.tensorflow.org/v1", "Model", target.namespace, target.name)
        ok, message = serving.model_status(self.kube, target)
        if not ok:
            return Checked(ref, progressing("ModelNotAvailable", message))
        passed, smoke_message = serving.smoke(self.kube, target, self.vcfg.model)
        if not passed:
            return Checked(ref, failed("SmokeTestFailed", smoke_message))
        return Checked(ref, Result(Status.CURRENT, "ModelAvailable", f"{message}; {smoke_message}"))

    def _progress(
        self,
        checked: list[Checked],
        deadline: float,
        now: float,
        *,
        next_resync: float | None = None,
    ) -> None:
        waiting = [
            f"{c.ref} {c.result.message or c.result.reason}"
            for c in checked
            if c.result.status is not Status.CURRENT
        ]
        tail = f"giving up in {_duration(deadline - now)}"
        if next_resync is not None:
            tail = f"next check in {_duration(max(0.0, next_resync - now))}, {tail}"
        self.ctx.out.info("; ".join([*waiting[:4], tail]))

    def verdict(self, checked: list[Checked]) -> str:
        status = aggregate(c.result.status for c in checked)
        if status is Status.FAILED:
            return "failed"
        if status is Status.CURRENT and not self.timed_out:
            return "healthy"
        return "timeout"


def _duration(seconds: float) -> str:
    whole = max(0, round(seconds))
    minutes, rest = divmod(whole, 60)
    return f"{minutes}m{rest:02d}s" if minutes else f"{rest}s"
