"""The whole ci-plugins loop on embedded defaults, on this machine, with nothing to set up.

Everything "outside" is local and labelled as such:
- a LOCAL environment repo (a bare git repo under demo-output/),
- the LOCAL CLUSTER EMULATOR (`ci-plugins-emulator up`): an in-memory Kubernetes API whose
  kubelet runs the pods as local processes (the model server is a TensorFlow-Serving-
  compatible server on real TensorFlow, the init container really pulls the model with
  oras), a local OCI registry (docker-registry) and a real Prometheus; `sync --watch`
  plays Argo CD.

The model is the example project's (examples/digits), trained on the CPU. The bad release
is a real bad model: a SavedModel that cannot load, which crash-loops the server. Run it
with scripts/demo (which installs the tools first).
"""

from __future__ import annotations

import json
import math
import os
import shlex
import shutil
import subprocess
import sys
import textwrap
import time
import urllib.parse
import urllib.request
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = ROOT / "examples" / "digits"
GOLDEN = EXAMPLE / "golden-request.json"
OUT = ROOT / "demo-output"
DEMO_CONFIG = EXAMPLE / ".demo.ci-plugins.yaml"
BOLD, DIM, GREEN, RED, RESET = "\x1b[1m", "\x1b[2m", "\x1b[32m", "\x1b[31m", "\x1b[0m"
if not sys.stderr.isatty():
    BOLD = DIM = GREEN = RED = RESET = ""


def banner(number: int, title: str, why: str) -> None:
    print(f"\n{BOLD}── {number}. {title}{RESET}", file=sys.stderr)
    print(f"{DIM}{why}{RESET}", file=sys.stderr, flush=True)


def run(
    *argv: str | Path, cwd: Path = EXAMPLE, expect: int = 0
) -> subprocess.CompletedProcess[str]:
    """Run a command as a user would, echo it, let its log through, check its exit code."""
    args = [str(a) for a in argv]
    shown = " ".join(shlex.quote(a.replace(str(OUT), "demo-output")) for a in args)
    print(f"{DIM}$ {shown}{RESET}", file=sys.stderr, flush=True)
    proc = subprocess.run(args, cwd=cwd, stdout=subprocess.PIPE, text=True, check=False)
    if proc.returncode != expect:
        stop(f"exit {proc.returncode}, expected {expect}", proc.returncode or 1)
    return proc


def stop(why: str, code: int = 1) -> None:
    print(f"{RED}demo stopped: {why}{RESET}", file=sys.stderr)
    sys.exit(code)


def ci_plugins(*argv: str | Path, expect: int = 0, config: Path | None = DEMO_CONFIG) -> None:
    extra = ["--config", config] if config else []
    run("ci-plugins", *argv, *extra, expect=expect)


def emulator(*argv: str | Path) -> None:
    run(sys.executable, "-m", "ci_plugins_emulator", *argv, "--state-dir", OUT / "cluster")


def init_env_repo() -> str:
    """A bare repo with one commit on main, as a platform team would create it."""
    bare = OUT / "environments.git"
    seed = OUT / "env-seed"
    subprocess.run(["git", "init", "-q", "--bare", "-b", "main", str(bare)], check=True)
    subprocess.run(["git", "init", "-q", "-b", "main", str(seed)], check=True)
    (seed / "README.md").write_text("# Environments (synced by Argo CD)\n", encoding="utf-8")
    git = ["git", "-C", str(seed), "-c", "user.name=Platform", "-c", "user.email=p@example.com"]
    subprocess.run([*git, "add", "."], check=True)
    subprocess.run([*git, "commit", "-q", "-m", "Start the environment repo"], check=True)
    subprocess.run([*git, "push", "-q", str(bare), "main"], check=True)
    shutil.rmtree(seed)
    return bare.as_uri()


def demo_config(train: Path) -> Path:
    """The example's config plus what the local platform needs: the puller talks plain HTTP
    to the local registry, TF Serving's metrics on for Prometheus, verify waits for the
    emulated Argo CD and sends the golden request, expecting the SavedModel's own answers."""
    config = yaml.safe_load((EXAMPLE / "ci-plugins.yaml").read_text(encoding="utf-8"))
    values = config.setdefault("chart", {}).setdefault("values", {})
    values.update(modelPuller={"plainHttp": True}, metrics={"enabled": True})
    inputs = json.loads(GOLDEN.read_text(encoding="utf-8"))["instances"]
    config["verify"] = {
        "controller": {"kind": "argocd"},
        "model": {
            "smoke": {
                "inputs": inputs,
                "expected": saved_model_predictions(train, inputs),
                "tolerance": 1e-4,
            }
        },
    }
    DEMO_CONFIG.write_text(yaml.safe_dump(config, sort_keys=False), encoding="utf-8")
    return DEMO_CONFIG


PREDICT = """
import json, sys
import tensorflow as tf
model = tf.saved_model.load(sys.argv[1])
serve = model.signatures["serving_default"]
name = list(serve.structured_input_signature[1])[0]
out = serve(**{name: tf.constant(json.loads(sys.argv[2]), dtype=tf.float32)})
print(json.dumps(list(out.values())[0].numpy().tolist()))
"""


def saved_model_predictions(train: Path, inputs: list[Any]) -> list[Any]:
    """The trained SavedModel's own predictions on inputs (TensorFlow in a subprocess)."""
    manifest = json.loads((train / "model-manifest.json").read_text(encoding="utf-8"))
    version_dir = train / "model" / str(manifest["model_version"])
    proc = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(PREDICT), str(version_dir), json.dumps(inputs)],
        capture_output=True,
        text=True,
        check=False,
        env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"},
    )
    if proc.returncode != 0:
        stop(f"could not load the SavedModel: {proc.stderr[-1000:]}")
    predictions: list[Any] = json.loads(proc.stdout.strip().splitlines()[-1])
    return predictions


def broken_model(train: Path) -> Path:
    """A release of a model that cannot load: the trained SavedModel with its graph file
    replaced by garbage, as a truncated upload or a bad export would leave it."""
    from ci_plugins.model.digest import directory_digest

    manifest = json.loads((train / "model-manifest.json").read_text(encoding="utf-8"))
    version = (
        str(int(manifest["model_version"]) + 1)
        if str(manifest["model_version"]).isdigit()
        else f"{manifest['model_version']}-broken"
    )
    bad = OUT / "bad-model"
    shutil.copytree(train / "model" / str(manifest["model_version"]), bad / "model" / version)
    (bad / "model" / version / "saved_model.pb").write_bytes(b"not a SavedModel\n")
    manifest.pop("artifact", None)
    manifest.update(model_version=version, model_digest=directory_digest(bad / "model" / version))
    (bad / "model-manifest.json").write_text(json.dumps(manifest, indent=2), encoding="utf-8")
    return bad


def proxy_predictions(cluster: dict[str, str], inputs: list[Any]) -> list[Any]:
    """:predict through the Kubernetes API's service proxy (what a client of the cluster sees)."""
    service = next(
        doc["metadata"]["name"]
        for path in sorted((OUT / "rendered" / "dev").glob("*.yaml"))
        for doc in yaml.safe_load_all(path.read_text(encoding="utf-8"))
        if doc and doc.get("kind") == "Service"
    )
    url = (
        f"{cluster['api']}/api/v1/namespaces/ml-dev/services/{service}:http/proxy/"
        "v1/models/digits:predict"
    )
    body = json.dumps({"instances": inputs}).encode()
    headers = {"Content-Type": "application/json"}
    request = urllib.request.Request(url, data=body, headers=headers)  # noqa: S310 (127.0.0.1)
    with urllib.request.urlopen(request, timeout=30) as resp:  # noqa: S310 (127.0.0.1)
        predictions: list[Any] = json.load(resp)["predictions"]
    return predictions


def prometheus_request_count(cluster: dict[str, str]) -> float:
    """:tensorflow:serving:request_count of the app in dev, as Prometheus scraped it."""
    query = urllib.parse.quote(
        'sum(:tensorflow:serving:request_count{namespace="ml-dev",model_name="digits"})'
    )
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        url = f"{cluster['prometheus']}/api/v1/query?query={query}"
        with urllib.request.urlopen(url, timeout=10) as resp:  # noqa: S310 (127.0.0.1)
            result = json.load(resp)["data"]["result"]
        if result:
            return float(result[0]["value"][1])
        time.sleep(1)
    stop("Prometheus has no :tensorflow:serving:request_count for digits in ml-dev")
    return 0.0


def max_difference(got: Any, want: Any) -> float:
    if isinstance(want, list):
        if not isinstance(got, list) or len(got) != len(want):
            return math.inf
        return max((max_difference(g, w) for g, w in zip(got, want, strict=True)), default=0.0)
    return abs(float(got) - float(want))


def watch_env(env: str) -> subprocess.Popen[bytes]:
    """`ci-plugins-emulator sync --watch` for env, in the background (Argo CD's loop)."""
    log = (OUT / f"sync-{env}.log").open("ab")
    argv = [
        sys.executable,
        "-m",
        "ci_plugins_emulator",
        "sync",
        "--state-dir",
        str(OUT / "cluster"),
        "--env-repo",
        os.environ["CI_PLUGINS_ENV_REPO"],
        "--env",
        env,
        "--config",
        str(EXAMPLE / "ci-plugins.yaml"),
        "--watch",
    ]
    shown = " ".join(shlex.quote(a) for a in argv[1:]).replace(str(OUT), "demo-output")
    print(f"{DIM}$ python {shown} &{RESET}", file=sys.stderr, flush=True)
    return subprocess.Popen(argv, cwd=EXAMPLE, stdout=log, stderr=subprocess.STDOUT)


def main() -> int:
    started = time.monotonic()
    if OUT.exists():
        if (OUT / "cluster").exists():
            subprocess.run(
                [
                    sys.executable,
                    "-m",
                    "ci_plugins_emulator",
                    "down",
                    "--state-dir",
                    OUT / "cluster",
                ],
                check=False,
                capture_output=True,
            )
        shutil.rmtree(OUT)
    OUT.mkdir()
    env_repo = init_env_repo()
    train, reports = OUT / "train", OUT / "reports"
    manifest = train / "model-manifest.json"
    kube = ["--kubeconfig", OUT / "cluster" / "kubeconfig"]
    os.environ["CI_PLUGINS_ENV_REPO"] = env_repo
    watchers: list[subprocess.Popen[bytes]] = []
    try:
        emulator("up")
        cluster = json.loads((OUT / "cluster" / "cluster.json").read_text(encoding="utf-8"))
        registry = f"{cluster['registry']}/ml/digits"
        print(
            f"{BOLD}ci-plugins demo{RESET}: the example model (examples/digits) through the "
            "whole loop.\nLOCAL stand-ins: environment repo demo-output/environments.git and "
            f"the LOCAL CLUSTER EMULATOR (API {cluster['api']}, OCI registry "
            f"{cluster['registry']}, Prometheus {cluster['prometheus']}; pods run as local "
            "processes, not on a real Kubernetes cluster).",
            file=sys.stderr,
        )
        watchers = [watch_env("dev"), watch_env("staging")]
        banner(1, "train", "Keras on the CPU (no GPU here); writes model/, metrics.json, manifest.")
        ci_plugins("train", "--output-dir", train, config=None)
        config = demo_config(train)
        banner(2, "gate", "Absolute bounds, and no regression against what dev runs (nothing yet).")
        ci_plugins(
            "gate",
            "--metrics",
            train / "metrics.json",
            "--env",
            "dev",
            "--report-dir",
            reports / "gate",
            config=config,
        )
        banner(3, "package", "Push the SavedModel as an OCI artifact, pinned by digest.")
        ci_plugins(
            "package",
            "--model-dir",
            train / "model",
            "--manifest",
            manifest,
            "--registry",
            registry,
        )
        banner(4, "render", "helm template of the model-server chart with dev's values.")
        ci_plugins(
            "render",
            "--manifest",
            manifest,
            "--env",
            "dev",
            "--output-dir",
            OUT / "rendered" / "dev",
        )
        banner(5, "promote", "One commit with the manifests and release.yaml in the env repo.")
        ci_plugins(
            "promote",
            "--env",
            "dev",
            "--rendered",
            OUT / "rendered" / "dev",
            "--manifest",
            manifest,
        )
        banner(
            6,
            "verify",
            "Argo CD (emulated, sync --watch) applies the commit; the init container pulls the "
            "model by digest, TF Serving loads it; verify waits until exactly this release is "
            "healthy and its smoke request returns the SavedModel's own predictions.",
        )
        ci_plugins(
            "verify",
            "--env",
            "dev",
            *kube,
            "--timeout",
            "300",
            "--report-dir",
            reports / "verify-1",
        )
        inputs = json.loads(GOLDEN.read_text(encoding="utf-8"))["instances"]
        served = proxy_predictions(cluster, inputs)
        own = saved_model_predictions(train, inputs)
        diff = max_difference(served, own)
        if diff > 1e-5:
            stop(f"served predictions differ from the SavedModel's by {diff}")
        print(
            f"predictions through the Service proxy equal the SavedModel's own "
            f"(max difference {diff:.2g}); Prometheus: :tensorflow:serving:request_count = "
            f"{prometheus_request_count(cluster):g}",
            file=sys.stderr,
        )
        banner(7, "promote dev → staging", "The same release, re-rendered with staging's values.")
        ci_plugins("promote", "--from-env", "dev", "--to-env", "staging")
        ci_plugins("verify", "--env", "staging", *kube, "--timeout", "300")
        bad = broken_model(train)
        banner(
            8,
            "a bad release",
            "A model that cannot load (its saved_model.pb is garbage): the server exits with "
            "the loader's error, verify fails fast with it and rolls back with a new commit.",
        )
        bad_manifest = bad / "model-manifest.json"
        ci_plugins(
            "package",
            "--model-dir",
            bad / "model",
            "--manifest",
            bad_manifest,
            "--registry",
            registry,
        )
        rendered = OUT / "rendered" / "dev-broken"
        ci_plugins("render", "--manifest", bad_manifest, "--env", "dev", "--output-dir", rendered)
        ci_plugins("promote", "--env", "dev", "--rendered", rendered, "--manifest", bad_manifest)
        ci_plugins(
            "verify",
            "--env",
            "dev",
            *kube,
            "--timeout",
            "300",
            "--rollback-on-failure",
            "--report-dir",
            reports / "verify-2",
            expect=1,
        )
        banner(
            9, "after the rollback", "Argo CD applies the restored release; verify passes again."
        )
        ci_plugins("verify", "--env", "dev", *kube, "--timeout", "300")
        banner(10, "status", "What runs where, and why (from the release records).")
        ci_plugins("status", "--history")
    finally:
        for watcher in watchers:
            watcher.terminate()
            watcher.wait(timeout=30)
        emulator("down")
        DEMO_CONFIG.unlink(missing_ok=True)
    print(
        f"\n{GREEN}demo finished in {time.monotonic() - started:.0f}s.{RESET} Results in "
        "demo-output/: train/ (model, metrics, manifest), reports/ (gate and verify reports), "
        "rendered/, environments.git (the environment repo: `git -C demo-output/environments.git "
        "log --stat`), cluster/ (the emulator's state: pods/<ns>/<pod>/logs).",
        file=sys.stderr,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
