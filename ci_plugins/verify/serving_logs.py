"""The log reads of the no-model rule (readiness/no_model.py): the one place verify reads
TF Serving's log while it waits.

Only serving containers that run but are not ready are read, each at most once per
`LOG_POLL_INTERVAL`, the last 20 lines (the kube adapter's tail): a healthy rollout and a
crash loop cost no log read at all.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING

from ci_plugins.verify.readiness import no_model
from ci_plugins.verify.readiness.evaluate import Checked
from ci_plugins.verify.readiness.model import Obj, Status, Timers, get
from ci_plugins.verify.readiness.policy import Policy

if TYPE_CHECKING:  # the kubernetes client loads only when verify talks to a cluster
    from ci_plugins.adapters.kube import Kube

LOG_POLL_INTERVAL = 1.0  # seconds; TF Serving polls its base path every second by default


@dataclass
class NoModelCheck:
    """Applies the no-model rule to the results of one evaluation, reading logs as needed."""

    kube: Kube
    policy: Policy
    timers: Timers
    interval: float = LOG_POLL_INTERVAL
    _logs: dict[tuple[str, str, str], tuple[float, str]] = field(default_factory=dict)

    def apply(self, checked: list[Checked], now: float) -> tuple[list[Checked], bool]:
        """The results with NoModel verdicts applied, and whether a serving container waits
        (then the caller should evaluate again within `interval`)."""
        out = []
        waiting = False
        for item in checked:
            if item.result.status is Status.IN_PROGRESS:
                item, waits = self._check(item, now)
                waiting = waiting or waits
            out.append(item)
        return out, waiting

    def _check(self, item: Checked, now: float) -> tuple[Checked, bool]:
        result = item.result
        waits = False
        for pod in item.new_pods:
            names = no_model.waiting_servers(pod)
            waits = waits or bool(names)
            logs = {name: self._log(item.ref.namespace, pod, name, now) for name in names}
            verdict = no_model.classify_no_model(pod, logs, self.policy, self.timers)
            if verdict is not None and verdict.final:
                return replace(item, result=verdict), waits
            if verdict is not None:
                result = replace(result, message=f"{result.message}; {verdict.message}")
        return replace(item, result=result), waits

    def _log(self, namespace: str, pod: Obj, container: str, now: float) -> str:
        key = (namespace, str(get(pod, "metadata", "name")), container)
        read_at, text = self._logs.get(key, (float("-inf"), ""))
        if now - read_at >= self.interval:
            text = self.kube.pod_log(namespace, key[1], container, previous=False)
            self._logs[key] = (now, text)
        return text
