"""Phase A: the GitOps controller applied *our* commit (Argo CD Application, Flux Kustomization)."""

from __future__ import annotations

from ci_plugins.verify.readiness.model import (
    Obj,
    Result,
    Timers,
    condition,
    current,
    failed,
    get,
    progressing,
)
from ci_plugins.verify.readiness.policy import Policy

FAILED_APP_CONDITIONS = ("ComparisonError", "InvalidSpecError")
FLUX_FAILURES = (
    "BuildFailed",
    "ArtifactFailed",
    "PruneFailed",
    "ReconciliationFailed",
    "HealthCheckFailed",
)


def argocd_application(app: Obj, sha: str, policy: Policy, timers: Timers) -> Result:
    """Kargo's order: operation, sync result, conditions, revision, sync status, trust, health."""
    status = get(app, "status", default={})
    op = status.get("operationState") or {}
    if app.get("operation") is not None or (op and not op.get("finishedAt")):
        return progressing("SyncInProgress", "a sync operation is running")
    if op.get("phase") in ("Failed", "Error") and _same(get(op, "syncResult", "revision"), sha):
        return failed("SyncFailed", str(op.get("message", "")))
    if op.get("phase") == "Terminating":
        return progressing("SyncInProgress", "the sync operation is terminating")
    for cond in status.get("conditions") or []:
        kind = str(cond.get("type", ""))
        if kind in FAILED_APP_CONDITIONS:
            return failed("AppConditionError", f"{kind}: {cond.get('message', '')}")
        if kind.endswith("Error") and timers.age(f"app/{kind}") >= policy.app_condition_grace:
            return failed("AppConditionError", f"{kind}: {cond.get('message', '')}")
    revisions = get(status, "sync", "revisions") or [get(status, "sync", "revision")]
    if not any(_same(rev, sha) for rev in revisions):
        seen = ", ".join(str(r)[:12] for r in revisions if r) or "none"
        return progressing("RevisionNotObserved", f"synced revision {seen}, want {sha[:12]}")
    if get(status, "sync", "status") != "Synced":
        if policy.require_auto_sync and not get(app, "spec", "syncPolicy", "automated"):
            return failed("AutoSyncDisabled", "the Application has no automated sync policy")
        return progressing("OutOfSync", f"sync status {get(status, 'sync', 'status')}")
    finished = op.get("finishedAt")
    reconciled = status.get("reconciledAt")
    if finished and (not reconciled or str(reconciled) < str(finished)):
        return progressing("HealthNotReconciled", "health not reconciled since the sync finished")
    health = get(status, "health", "status", default="Unknown")
    if health == "Healthy":
        return current("Synced", f"synced to {sha[:12]}, Healthy")
    return progressing("AppNotHealthy", f"synced to {sha[:12]}, Argo CD health {health}")


def flux_kustomization(ks: Obj, sha: str) -> Result:
    """Applied our commit; Ready=True alone proves nothing (kustomize-controller#653)."""
    status = get(ks, "status", default={})
    generation = get(ks, "metadata", "generation")
    if generation is not None and status.get("observedGeneration") != generation:
        return progressing("GenerationNotObserved", "Kustomization generation not observed")
    attempted = str(status.get("lastAttemptedRevision") or "")
    if not _revision_matches(attempted, sha):
        return progressing("RevisionNotObserved", f"last attempted {attempted or 'none'}")
    ready = condition(ks, "Ready") or {}
    if ready.get("status") == "False" and ready.get("reason") in FLUX_FAILURES:
        return failed("KustomizationFailed", f"{ready.get('reason')}: {ready.get('message', '')}")
    if not _revision_matches(str(status.get("lastAppliedRevision") or ""), sha):
        return progressing("NotApplied", str(ready.get("message", "not applied yet")))
    return current("Applied", f"applied {sha[:12]}")


def _same(revision: object, sha: str) -> bool:
    return isinstance(revision, str) and bool(revision) and revision == sha


def _revision_matches(revision: str, sha: str) -> bool:
    # Flux writes "main@sha1:<sha>" (Git) or "<tag>@sha256:<digest>" (OCI).
    return revision.endswith(f"@sha1:{sha}") or revision == sha or revision.endswith(f":{sha}")
