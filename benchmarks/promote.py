"""promote vs a hand-written `git clone --depth 1 && commit && push`, and concurrency.

Run: .venv/bin/python benchmarks/promote.py [--quick]
An environment repo with 10,000 files (1,000 apps x 3 environments, release.yaml plus
manifests) is built with `git fast-import` at two history depths (500 and 5,000 commits).
Each run promotes a new release of one app into staging, through the real CLI, over a
file:// remote; the baseline is a shell script that shallow-clones, copies the same files,
commits and pushes. Also: 16 promotions of different apps at once vs one after another.
Goal: median ratio <= 1.3x, not growing with history depth.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _timing import report

ROOT = Path(__file__).resolve().parents[1]
APPS = 1000
ENVS = ("dev", "staging", "prod")
MANIFESTS_PER_APP = 2  # + release.yaml = 3 files per app and environment: 9,000 + extras
GIT_ENV = {
    "GIT_AUTHOR_NAME": "bench",
    "GIT_AUTHOR_EMAIL": "bench@example.com",
    "GIT_COMMITTER_NAME": "bench",
    "GIT_COMMITTER_EMAIL": "bench@example.com",
}

BASELINE_SCRIPT = r"""
set -eu
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
git clone --quiet --depth 1 --single-branch --branch main $SPARSE "$REMOTE" "$work/repo"
if [ -n "$SPARSE" ]; then
  git -C "$work/repo" sparse-checkout set --cone "environments/staging/$APP"
fi
dest="$work/repo/environments/staging/$APP"
rm -rf "$dest/manifests"
mkdir -p "$dest/manifests"
cp "$RENDERED"/*.yaml "$dest/manifests/"
cp "$RELEASE" "$dest/release.yaml"
cd "$work/repo"
git add --all -- "environments/staging/$APP"
git commit --quiet -m "promote $APP $VERSION to staging"
git push --quiet origin HEAD:refs/heads/main
"""


def build_repo(path: Path, *, commits: int) -> None:
    """A bare repo: ~10,000 files in the first commit, then commits - 1 small ones."""
    subprocess.run(["git", "init", "--quiet", "--bare", "-b", "main", str(path)], check=True)
    lines: list[bytes] = []
    files: dict[str, bytes] = {}
    for app in range(APPS):
        for env in ENVS:
            base = f"environments/{env}/app-{app:04d}"
            files[f"{base}/release.yaml"] = _release(app, env, 1)
            for index in range(MANIFESTS_PER_APP):
                files[f"{base}/manifests/obj-{index}.yaml"] = _object(app, env, index, 1)
    files.update({f"docs/note-{i}.md": f"note {i}\n".encode() for i in range(10_000 - len(files))})
    stamp = 1_700_000_000
    lines.append(b"commit refs/heads/main\n")
    lines.append(f"committer bench <b@example.com> {stamp} +0000\n".encode())
    lines.append(_data(b"initial"))
    for name, data in files.items():
        lines.append(f"M 100644 inline {name}\n".encode())
        lines.append(_data(data))
    for index in range(1, commits):
        app, env = index % APPS, ENVS[index % len(ENVS)]
        lines.append(b"commit refs/heads/main\n")
        lines.append(f"committer bench <b@example.com> {stamp + index} +0000\n".encode())
        lines.append(_data(f"update {index}".encode()))
        name = f"environments/{env}/app-{app:04d}/release.yaml"
        lines.append(f"M 100644 inline {name}\n".encode())
        lines.append(_data(_release(app, env, index + 1)))
    subprocess.run(["git", "fast-import", "--quiet"], input=b"".join(lines), cwd=path, check=True)


def _data(payload: bytes) -> bytes:
    return f"data {len(payload)}\n".encode() + payload + b"\n"


def _digest(text: str) -> str:
    return "sha256:" + hashlib.sha256(text.encode()).hexdigest()


def _release(app: int, env: str, version: int) -> bytes:
    return (
        f"app: app-{app:04d}\nenvironment: {env}\nmodel:\n  version: '{version}'\n"
        f"  digest: {_digest(str(version))}\n"
    ).encode()


def _object(app: int, env: str, index: int, version: int) -> bytes:
    return (
        f"apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: app-{app:04d}-{index}\n"
        f"  namespace: ml-{env}\ndata:\n  version: '{version}'\n"
    ).encode()


class Project:
    """A project directory (config, manifest, rendered dir) for one app."""

    def __init__(self, root: Path, remote: Path, app: str) -> None:
        self.root, self.app = root, app
        root.mkdir(parents=True, exist_ok=True)
        config = {
            "app": app,
            "env_repo": {"url": str(remote), "push_attempts": 40},
            "environments": {"staging": {"namespace": "ml-staging"}},
        }
        (root / "ci-plugins.yaml").write_text(json.dumps(config))

    def prepare(self, version: int) -> tuple[Path, Path]:
        out = self.root / f"out-{version}"
        rendered = out / "rendered"
        rendered.mkdir(parents=True, exist_ok=True)
        manifest = {
            "app": self.app,
            "model_version": str(version),
            "model_digest": _digest(f"{self.app}-{version}"),
        }
        (out / "model-manifest.json").write_text(json.dumps(manifest))
        for index in range(MANIFESTS_PER_APP):
            (rendered / f"obj-{index}.yaml").write_bytes(_object(0, "staging", index, version))
        record = {
            "app": self.app,
            "environment": "staging",
            "model": {"version": str(version), "digest": manifest["model_digest"]},
        }
        (out / "release.yaml").write_text(json.dumps(record))
        return out / "model-manifest.json", rendered

    def promote(self, version: int) -> None:
        manifest, rendered = self.prepare(version)
        argv = [sys.executable, "-m", "ci_plugins", "promote", "--env", "staging"]
        argv += ["--rendered", str(rendered), "--manifest", str(manifest)]
        _run(argv, cwd=self.root)

    def baseline(self, remote: Path, version: int, *, sparse: bool = False) -> None:
        manifest, rendered = self.prepare(version)
        env = {
            "REMOTE": remote.as_uri(),
            "APP": self.app,
            "RENDERED": str(rendered),
            "RELEASE": str(manifest.parent / "release.yaml"),
            "VERSION": str(version),
            "SPARSE": "--sparse" if sparse else "",
        }
        _run(["sh", "-c", BASELINE_SCRIPT], cwd=self.root, extra=env)


def _run(argv: list[str], *, cwd: Path, extra: dict[str, str] | None = None) -> None:
    env = {**os.environ, **GIT_ENV, **(extra or {})}
    env.pop("CI_PLUGINS_ENV_REPO", None)
    proc = subprocess.run(argv, cwd=cwd, env=env, capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        raise SystemExit(f"{argv[:4]} failed ({proc.returncode}): {proc.stderr[-2000:]}")


def _median(samples: list[float]) -> float:
    ordered = sorted(samples)
    return ordered[len(ordered) // 2]


def compare(work: Path, commits: int, runs: int) -> dict[str, float]:
    """Median seconds of: ours, the plain script, the same script with a sparse checkout."""
    remote = work / f"env-{commits}.git"
    build_repo(remote, commits=commits)
    project = Project(work / f"project-{commits}", remote, "app-0001")
    samples: dict[str, list[float]] = {"ours": [], "plain": [], "sparse": []}
    version = 100_000
    for run in range(runs + 1):  # the first round warms the page cache
        for kind in samples:  # interleaved, so load from others hits all three alike
            version += 1
            start = time.perf_counter()
            if kind == "ours":
                project.promote(version)
            else:
                project.baseline(remote, version, sparse=kind == "sparse")
            if run:
                samples[kind].append(time.perf_counter() - start)
    return {kind: _median(values) for kind, values in samples.items()}


def concurrency(work: Path, writers: int = 16) -> tuple[float, float]:
    remote = work / "env-5000.git"
    projects = [Project(work / f"c-{i}", remote, f"app-{i + 10:04d}") for i in range(writers)]
    start = time.perf_counter()
    for project in projects:
        project.promote(500_000)
    serial = time.perf_counter() - start
    start = time.perf_counter()
    with ThreadPoolExecutor(max_workers=writers) as pool:
        list(pool.map(lambda p: p.promote(600_000), projects))
    parallel = time.perf_counter() - start
    log = subprocess.run(
        ["git", "rev-list", "--count", "--merges", "refs/heads/main"],
        cwd=remote,
        capture_output=True,
        text=True,
        check=True,
    )
    assert log.stdout.strip() == "0", "history stays linear"
    return parallel, serial


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="3 runs instead of 7")
    args = parser.parse_args()
    runs = 3 if args.quick else 7
    with tempfile.TemporaryDirectory(prefix="bench-promote-") as tmp:
        work = Path(tmp)
        for commits in (500, 5000):
            median = compare(work, commits, runs)
            for kind, script in (
                ("plain", "git clone --depth 1 && commit && push"),
                ("sparse", "the same, sparse checkout"),
            ):
                name = f"promote, 10k files, {commits} commits"
                line = report(name, median["ours"], median[kind], script, "<= 1.3x, flat")
                print(line, flush=True)
        parallel, serial = concurrency(work)
        print(
            report("16 promotions at once (different apps)", parallel, serial, "serial", "< 1x"),
            flush=True,
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
