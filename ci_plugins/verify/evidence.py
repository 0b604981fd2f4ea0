"""Verify's evidence (reason, container state, events, log tail) and its reports."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from ci_plugins.errors import CiPluginsError
from ci_plugins.reports import TestCase, junit_xml, markdown_table, to_json, write_reports
from ci_plugins.verify.committed import Committed
from ci_plugins.verify.readiness import no_model
from ci_plugins.verify.readiness.evaluate import Checked
from ci_plugins.verify.readiness.model import ObjectRef, Status, get

if TYPE_CHECKING:  # the kubernetes client loads only when verify talks to a cluster
    from ci_plugins.adapters.kube import Kube

Evidence = dict[ObjectRef, list[str]]
PREVIOUS_LOG_REASONS = {"CrashLoop", "OOMKilled", "InitContainerFailed", "PodFailed"}


def gather_evidence(kube: Kube, checked: list[Checked]) -> Evidence:
    """For each object that is not Current: the pod's container states, events, log tail."""
    evidence: Evidence = {}
    for item in checked:
        result = item.result
        if result.status is Status.CURRENT or not result.pod:
            continue
        try:
            evidence[item.ref] = _pod_evidence(kube, item.ref.namespace, result.pod, result.reason)
        except CiPluginsError as exc:
            evidence[item.ref] = [f"(could not read evidence: {exc})"]
    return evidence


def _pod_evidence(kube: Kube, namespace: str, pod_name: str, reason: str) -> list[str]:
    pod = kube.get(ObjectRef("v1", "Pod", namespace, pod_name))
    if pod is None:
        return [f"pod {pod_name} no longer exists"]
    lines = []
    culprit = None
    for key in ("initContainerStatuses", "containerStatuses"):
        for status in get(pod, "status", key, default=[]):
            state = status.get("state") or {}
            last = get(status, "lastState", "terminated")
            lines.append(
                f"container {status.get('name')}: state {_state(state)}, "
                f"restarts {status.get('restartCount', 0)}"
                + (
                    f", last terminated: exit code {last.get('exitCode')} ({last.get('reason')})"
                    if last
                    else ""
                )
            )
            if culprit is None and (_misbehaves(status) or _has_no_model(status, reason)):
                culprit = str(status.get("name"))
    events = [
        e for e in kube.events(namespace) if (e.get("involvedObject") or {}).get("name") == pod_name
    ]
    for event in events[-5:]:
        lines.append(
            f"event {event.get('type', '')} {event.get('reason')}: {event.get('message', '')}"
        )
    if culprit:
        previous = reason in PREVIOUS_LOG_REASONS
        log = kube.pod_log(namespace, pod_name, culprit, previous=previous)
        if not log and previous:
            log = kube.pod_log(namespace, pod_name, culprit, previous=False)
        if log.strip():
            lines.append(f"log tail of {pod_name}/{culprit}{' (previous)' if previous else ''}:")
            lines.extend(f"  | {line}" for line in log.rstrip().splitlines()[-20:])
    return lines


def _misbehaves(status: dict[str, Any]) -> bool:
    """Waiting, or terminated (now or last time) other than a clean exit: an init container
    that completed (exit 0) is fine, so the log tail shows the container that crashed."""
    if status.get("ready"):
        return False
    state = status.get("state") or {}
    if get(state, "waiting"):
        return True
    for terminated in (get(state, "terminated"), get(status, "lastState", "terminated")):
        if terminated and terminated.get("exitCode", 0) != 0:
            return True
    return False


def _has_no_model(status: dict[str, Any], reason: str) -> bool:
    """The running, unready container a NoModel verdict is about: its log says why."""
    return (
        reason == no_model.REASON
        and not status.get("ready")
        and get(status, "state", "running") is not None
    )


def _state(state: dict[str, Any]) -> str:
    for name, detail in state.items():
        if detail:
            reason = detail.get("reason") if isinstance(detail, dict) else None
            return f"{name}{' (' + reason + ')' if reason else ''}"
    return "unknown"


def failure_lines(checked: list[Checked], evidence: Evidence) -> list[str]:
    """Human lines for the log: ✗ per object not Current, its evidence indented."""
    lines = []
    for item in checked:
        if item.result.status is Status.CURRENT:
            continue
        lines.append(
            f"✗ {item.ref} [{item.result.status.value}] {item.result.reason}: {item.result.message}"
        )
        lines.extend(f"    {line}" for line in evidence.get(item.ref, []))
    return lines


def namespace_hint(committed: Committed, checked: list[Checked]) -> str | None:
    """When objects are missing: which namespace verify looked in, and what to compare."""
    missing = sorted(
        {c.ref.namespace for c in checked if c.result.reason in ("Missing", "NotFound")}
    )
    if not missing:
        return None
    where = ", ".join(missing)
    return (
        f"verify looked in namespace {where} (environments.{committed.env}.namespace in "
        "ci-plugins.yaml, else the manifests' own); if the objects are elsewhere, compare it "
        "with the Argo CD Application's spec.destination.namespace or the Flux "
        "Kustomization's spec.targetNamespace"
    )


def as_json(
    committed: Committed,
    checked: list[Checked],
    verdict: str,
    evidence: Evidence,
    *,
    elapsed: float,
) -> dict[str, Any]:
    return {
        "verdict": verdict,
        "environment": committed.env,
        "apps": committed.apps,
        "commit": committed.commit,
        "elapsed_seconds": round(elapsed, 3),
        "objects": [
            {
                "kind": c.ref.kind,
                "namespace": c.ref.namespace,
                "name": c.ref.name,
                "status": c.result.status.value,
                "reason": c.result.reason,
                "message": c.result.message,
                "evidence": evidence.get(c.ref, []),
            }
            for c in checked
        ],
    }


def markdown(committed: Committed, checked: list[Checked], verdict: str, evidence: Evidence) -> str:
    icon = {"healthy": "✅", "failed": "❌", "timeout": "⏱️"}[verdict]
    rows = [
        [
            c.ref.kind,
            f"{c.ref.namespace}/{c.ref.name}",
            c.result.status.value,
            c.result.reason,
            c.result.message,
        ]
        for c in checked
    ]
    parts = [
        f"### {icon} verify {committed.env}: {verdict}",
        f"Environment repo commit `{committed.commit[:12]}`, apps: {', '.join(committed.apps)}",
        markdown_table(["kind", "object", "status", "reason", "message"], rows),
    ]
    for ref, lines in evidence.items():
        parts.append(
            f"<details><summary>evidence for {ref}</summary>\n\n```\n"
            + "\n".join(lines)
            + "\n```\n</details>"
        )
    return "\n\n".join(parts) + "\n"


def write(
    directory: Path, data: dict[str, Any], summary: str, checked: list[Checked], evidence: Evidence
) -> None:
    cases = [
        TestCase(
            classname=f"verify.{c.ref.namespace}",
            name=f"{c.ref.kind}/{c.ref.name}",
            failure=None
            if c.result.status is Status.CURRENT
            else f"{c.result.reason}: {c.result.message}",
            details="\n".join(evidence.get(c.ref, [])),
        )
        for c in checked
    ]
    write_reports(
        directory,
        {
            "verify-report.md": summary,
            "verify-junit.xml": junit_xml("ci-plugins verify", cases),
            "verify-report.json": to_json({"command": "verify", **data}),
        },
    )
