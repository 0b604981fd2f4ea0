"""The whole ci-plugins loop on embedded defaults, on this machine, with nothing to set up.

Everything "outside" is local and labelled as such:
- a LOCAL environment repo (a bare git repo under demo-output/),
- a LOCAL OCI registry (Debian's docker-registry on 127.0.0.1),
- the LOCAL CLUSTER EMULATOR (an in-memory Kubernetes API plus a simulator that plays Argo CD,
  the Deployment controller and the kubelet) instead of a real cluster.

The model is the example project's (examples/digits), trained on the CPU. Run it with
scripts/demo (which installs the tools first).
"""

from __future__ import annotations

import os
import shlex
import shutil
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = ROOT / "examples" / "digits"
OUT = ROOT / "demo-output"
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
        print(
            f"{RED}demo stopped: exit {proc.returncode}, expected {expect}{RESET}", file=sys.stderr
        )
        sys.exit(proc.returncode or 1)
    return proc


def ci_plugins(*argv: str | Path, expect: int = 0, config: Path | None = None) -> None:
    extra = ["--config", config] if config else []
    run("ci-plugins", *argv, *extra, expect=expect)


def emulator(*argv: str | Path) -> None:
    run(sys.executable, "-m", "ci_plugins_emulator", *argv, "--state-dir", OUT / "cluster")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def start_registry() -> tuple[str, subprocess.Popen[bytes]]:
    """Debian's docker-registry on a free loopback port, storage under demo-output/."""
    root = OUT / "registry"
    root.mkdir(parents=True)
    host = f"127.0.0.1:{free_port()}"
    config = root / "config.yml"
    config.write_text(
        "version: 0.1\nlog:\n  level: error\n  accesslog:\n    disabled: true\n"
        f"storage:\n  filesystem:\n    rootdirectory: {root / 'data'}\nhttp:\n  addr: {host}\n",
        encoding="utf-8",
    )
    with (root / "registry.log").open("wb") as log:
        process = subprocess.Popen(
            ["/usr/bin/docker-registry", "serve", str(config)], stdout=log, stderr=log
        )
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"http://{host}/v2/", timeout=1):
                return host, process
        except (urllib.error.URLError, OSError):
            time.sleep(0.1)
    process.kill()
    sys.exit(f"the local registry did not start on {host}: see {root / 'registry.log'}")


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


def broken_config() -> Path:
    """The example's config with a dev value that makes the model server crash-loop (in the
    emulator): how a bad chart value or a broken image shows up in real life."""
    config = yaml.safe_load((EXAMPLE / "ci-plugins.yaml").read_text(encoding="utf-8"))
    dev = config["environments"]["dev"]
    dev.setdefault("values", {})["podAnnotations"] = {"ci-plugins.dev/simulate": "crashloop"}
    path = EXAMPLE / ".demo-broken.ci-plugins.yaml"
    path.write_text(yaml.safe_dump(config, sort_keys=False), encoding="utf-8")
    return path


def main() -> int:
    started = time.monotonic()
    if OUT.exists():
        emulator_state = OUT / "cluster"
        if emulator_state.exists():
            subprocess.run(
                [
                    sys.executable,
                    "-m",
                    "ci_plugins_emulator",
                    "down",
                    "--state-dir",
                    emulator_state,
                ],
                check=False,
                capture_output=True,
            )
        shutil.rmtree(OUT)
    OUT.mkdir()
    env_repo = init_env_repo()
    registry, registry_process = start_registry()
    train, reports = OUT / "train", OUT / "reports"
    manifest = train / "model-manifest.json"
    kube = ["--kubeconfig", OUT / "cluster" / "kubeconfig"]
    os.environ["CI_PLUGINS_ENV_REPO"] = env_repo
    print(
        f"{BOLD}ci-plugins demo{RESET}: the example model (examples/digits) through the whole "
        "loop.\nLOCAL stand-ins: environment repo demo-output/environments.git, OCI registry "
        f"{registry}, and the LOCAL CLUSTER EMULATOR (not a real Kubernetes cluster).",
        file=sys.stderr,
    )
    try:
        emulator("up")
        banner(1, "train", "Keras on the CPU (no GPU here); writes model/, metrics.json, manifest.")
        ci_plugins("train", "--output-dir", train)
        banner(2, "gate", "Absolute bounds, and no regression against what dev runs (nothing yet).")
        ci_plugins(
            "gate",
            "--metrics",
            train / "metrics.json",
            "--env",
            "dev",
            "--report-dir",
            reports / "gate",
        )
        banner(3, "package", "Push the SavedModel as an OCI artifact, pinned by digest.")
        ci_plugins(
            "package",
            "--model-dir",
            train / "model",
            "--manifest",
            manifest,
            "--registry",
            f"{registry}/ml/digits",
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
            "sync (LOCAL CLUSTER EMULATOR)",
            "The emulator plays Argo CD: applies dev's manifests.",
        )
        emulator(
            "sync", "--env-repo", env_repo, "--env", "dev", "--config", EXAMPLE / "ci-plugins.yaml"
        )
        banner(7, "verify", "Wait until the cluster runs exactly this release and it is healthy.")
        ci_plugins(
            "verify",
            "--env",
            "dev",
            *kube,
            "--timeout",
            "120",
            "--report-dir",
            reports / "verify-1",
        )
        banner(8, "promote dev → staging", "The same release, re-rendered with staging's values.")
        ci_plugins("promote", "--from-env", "dev", "--to-env", "staging")
        emulator(
            "sync",
            "--env-repo",
            env_repo,
            "--env",
            "staging",
            "--config",
            EXAMPLE / "ci-plugins.yaml",
        )
        ci_plugins("verify", "--env", "staging", *kube, "--timeout", "120")
        broken = broken_config()
        banner(
            9,
            "a bad release",
            "A dev value makes the server crash-loop: verify fails fast "
            "and rolls back with a new commit (no force-push).",
        )
        bad = OUT / "rendered" / "dev-broken"
        ci_plugins(
            "render", "--manifest", manifest, "--env", "dev", "--output-dir", bad, config=broken
        )
        ci_plugins(
            "promote", "--env", "dev", "--rendered", bad, "--manifest", manifest, config=broken
        )
        emulator(
            "sync", "--env-repo", env_repo, "--env", "dev", "--config", EXAMPLE / "ci-plugins.yaml"
        )
        ci_plugins(
            "verify",
            "--env",
            "dev",
            *kube,
            "--timeout",
            "120",
            "--rollback-on-failure",
            "--report-dir",
            reports / "verify-2",
            expect=1,
        )
        banner(
            10, "after the rollback", "Argo CD applies the restored release; verify passes again."
        )
        emulator(
            "sync", "--env-repo", env_repo, "--env", "dev", "--config", EXAMPLE / "ci-plugins.yaml"
        )
        ci_plugins("verify", "--env", "dev", *kube, "--timeout", "120")
        banner(11, "status", "What runs where, and why (from the release records).")
        ci_plugins("status", "--history")
    finally:
        emulator("down")
        registry_process.terminate()
        (EXAMPLE / ".demo-broken.ci-plugins.yaml").unlink(missing_ok=True)
    print(
        f"\n{GREEN}demo finished in {time.monotonic() - started:.0f}s.{RESET} Results in "
        "demo-output/: train/ (model, metrics, manifest), reports/ (gate and verify reports), "
        "rendered/, environments.git (the environment repo: `git -C demo-output/environments.git "
        "log --stat`).",
        file=sys.stderr,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
