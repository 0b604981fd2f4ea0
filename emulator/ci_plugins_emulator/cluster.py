"""LOCAL CLUSTER EMULATOR: the API server and the simulator, started together."""

from __future__ import annotations

from ci_plugins_emulator.kubelet import Timing
from ci_plugins_emulator.server import RunningCluster
from ci_plugins_emulator.simulator import Simulator


def start(timing: Timing | None = None) -> tuple[RunningCluster, Simulator]:
    """Serve the emulated API on 127.0.0.1 (a background thread) with the simulator running."""
    running = RunningCluster()
    simulator = Simulator(running.cluster, timing or Timing())
    running.startup.append(lambda _cluster: simulator.run())
    return running.start(), simulator
