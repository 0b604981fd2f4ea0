"""LOCAL CLUSTER EMULATOR: how fast the emulated cluster moves (seconds).

A real kubelet backs off 10 s, 20 s, ... 5 min between restarts and probes every
`periodSeconds`; here both are shortened so that tests and the demo see a crash loop or a
failing probe in seconds. What a process does is never sped up: it runs for real.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Timing:
    """Shortened kubelet and controller timings."""

    # controllers re-check at the latest this often when nothing changes (deadlines, jobs)
    resync: float = 5.0
    # restart back-off: doubles from `backoff` up to `backoff_max` (real: 10 s .. 300 s)
    backoff: float = 1.0
    backoff_max: float = 8.0
    # probes run at most this far apart, whatever periodSeconds says (delays capped alike)
    probe_period_max: float = 1.0
    probe_timeout_max: float = 3.0
    # SIGTERM, then SIGKILL after this long (terminationGracePeriodSeconds, capped)
    grace_max: float = 3.0
    # simulated: an `oom` pod's process is killed (OOMKilled) this long after it starts
    oom_after: float = 1.5
    # simulated: a GPU node arrives this long after `unschedulable-gpu-scaleup` pods appear
    scale_up_after: float = 3.0
