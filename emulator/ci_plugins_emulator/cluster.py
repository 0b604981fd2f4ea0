"""LOCAL CLUSTER EMULATOR: the API server, the controllers and the kubelet, started together."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from ci_plugins_emulator.server import RunningCluster
from ci_plugins_emulator.simulator import Simulator
from ci_plugins_emulator.timing import Timing


def start(
    root: Path,
    timing: Timing | None = None,
    *,
    run_images: Mapping[str, Path] | None = None,
    targets_file: Path | None = None,
) -> tuple[RunningCluster, Simulator]:
    """Serve the emulated API on 127.0.0.1 (a background thread) with the controllers and
    the kubelet running; pods get their directories under root."""
    running = RunningCluster()
    simulator = Simulator(
        running.cluster,
        root=root,
        timing=timing or Timing(),
        run_images=dict(run_images or {}),
        targets_file=targets_file,
    )
    running.startup.append(lambda _cluster: simulator.run())
    return running.start(), simulator
