"""`ci-plugins render` vs bare `helm template` on the same chart and values, for three
environments (goal: at most 250 ms over bare helm).

Both sides get identical inputs: the bare side renders the shipped chart with the layered
values ci-plugins computes (written to one values file). Our side is the whole command as
a pipeline runs it: a fresh Python process, config and manifest validation, helm, one file
per object, render-info.json, the atomic directory swap.

Run: .venv/bin/python benchmarks/render.py [--runs N] [--quick]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from _timing import command, report

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from ci_plugins.adapters import helm  # noqa: E402
from ci_plugins.config.models import load_config  # noqa: E402
from ci_plugins.model.manifest import read_manifest  # noqa: E402
from ci_plugins.render import chart as rendering  # noqa: E402

CONFIG = """\
app: digits
chart:
  values:
    resources: {requests: {cpu: 250m, memory: 512Mi}, limits: {memory: 1Gi}}
environments:
  dev:
    namespace: ml-dev
  staging:
    namespace: ml-staging
    values: {replicaCount: 2, metrics: {enabled: true}}
  prod:
    namespace: ml-prod
    values:
      autoscaling: {enabled: true, minReplicas: 3, maxReplicas: 12}
      pdb: {enabled: true}
      metrics: {enabled: true, serviceMonitor: {enabled: true}}
"""
MANIFEST = {
    "app": "digits",
    "model_version": "20260101.1",
    "model_digest": "sha256:" + "a" * 64,
    "source_commit": "0123456789abcdef0123456789abcdef01234567",
    "artifact": "oci://registry.example.com/ml/digits@sha256:" + "b" * 64,
}


def paired_medians(
    bare: Callable[[], object], ours: Callable[[], object], *, runs: int
) -> tuple[float, float]:
    """Median wall times, runs interleaved (bare, ours, bare, ...) so that other load on
    the machine hits both sides alike; one unmeasured warm-up each."""
    bare(), ours()
    samples: tuple[list[float], list[float]] = ([], [])
    for _ in range(runs):
        for action, times in ((bare, samples[0]), (ours, samples[1])):
            start = time.perf_counter()
            action()
            times.append(time.perf_counter() - start)
    return statistics.median(samples[0]), statistics.median(samples[1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=11)
    parser.add_argument("--quick", action="store_true", help="5 runs")
    args = parser.parse_args()
    if args.quick:
        args.runs = 5
    tools = REPO / ".tools" / "bin"
    env = {**os.environ, "PATH": f"{tools}{os.pathsep}{os.environ.get('PATH', '')}"}
    os.environ["PATH"] = env["PATH"]
    with tempfile.TemporaryDirectory(prefix="bench-render-") as tmp:
        work = Path(tmp)
        (work / "ci-plugins.yaml").write_text(CONFIG, encoding="utf-8")
        (work / "model-manifest.json").write_text(json.dumps(MANIFEST), encoding="utf-8")
        config = load_config(work / "ci-plugins.yaml")
        manifest = read_manifest(work / "model-manifest.json", app="digits")
        chart = rendering.shipped_chart()
        for env_name in ("dev", "staging", "prod"):
            values = work / f"{env_name}-values.json"
            layered = rendering.layered_values(config, manifest, env_name)
            values.write_text(rendering.canonical_json(layered), encoding="utf-8")
            namespace = config.environment(env_name).namespace or env_name
            bare_argv = [helm.helm_binary(), "template", "--namespace", namespace]
            bare_argv += ["--values", str(values), "--", "digits", str(chart)]
            ours_argv = [sys.executable, "-m", "ci_plugins", "render", "--manifest"]
            ours_argv += ["model-manifest.json", "--env", env_name, "--output-dir", env_name]
            bare, ours = paired_medians(
                command(bare_argv, cwd=work, env=env),
                command(ours_argv, cwd=work, env=env),
                runs=args.runs,
            )
            print(
                report(f"render {env_name}", ours, bare, "helm template", "<= +250 ms over helm"),
                flush=True,
            )


if __name__ == "__main__":
    main()
