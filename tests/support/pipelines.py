"""Run this repository's pipeline templates under the real CI runners, offline.

- GitLab: `gitlab-ci-local` (shell executor) in a throw-away git project holding the files
  under test (it only sees git-tracked files, so the project is committed first).
- GitHub: `act` on the host (`-P <label>=-self-hosted`), with `actions/checkout`, the artifact
  actions and `ci-plugins/ci-plugins@v0.1.0` replaced by local copies (`--local-repository`).
- Jenkins: real Groovy running tests/jenkins/harness.groovy (recording stand-ins for the
  pipeline steps; `sh` really runs in execute mode).

The ci-plugins these runners call is the checkout under test: the project's venv (an
editable install of this checkout) comes first on PATH and the templates' install command is
set to `ci-plugins --version`.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from ci_plugins_emulator.argocd import EmulatorClient

from tests.support.cli import REPO, clean_env
from tests.support.envrepo import git
from tests.support.node import WEB_DIR, WEB_IMAGE

TOOLS = REPO / ".tools"
VENV_BIN = REPO / ".venv" / "bin"
NODE_BIN = TOOLS / "node" / "node_modules" / ".bin"
JAVA_HOME = "/usr/lib/jvm/java-17-openjdk-amd64"
HARNESS = REPO / "tests" / "jenkins" / "harness.groovy"
JENKINS_VARS = REPO / "pipelines" / "jenkins" / "vars"
# What the templates run instead of `pip install ci-plugins==X`: the venv's ci-plugins is an
# editable install of this checkout; printing its version proves it is on PATH.
INSTALL_UNDER_TEST = "ci-plugins --version"
CHECKOUT_SHA = "11bd71901bbe5b1630ceea73d27597364c9af683"
UPLOAD_SHA = "ea165f8d65b6e75b540449e92b4886f43607fa02"
DOWNLOAD_SHA = "d3f86a106a0bac45b974a628896c90dbdf5c8093"
CACHE_SHA = "0057852bfaa89a56745cba8c7296529d2fc39830"


def tools_env(extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """A clean environment with the project's tools (venv, helm, node tools, Java) first."""
    env = clean_env()
    path = [str(VENV_BIN), str(TOOLS / "bin"), str(NODE_BIN), env.get("PATH", "")]
    env["PATH"] = os.pathsep.join(path)
    env["JAVA_HOME"] = JAVA_HOME
    env.update(extra or {})
    return env


@dataclass(frozen=True)
class Run:
    exit_code: int
    output: str

    def __str__(self) -> str:
        return f"exit code {self.exit_code}\n{self.output[-6000:]}"


def run(argv: Sequence[str | Path], *, cwd: Path, env: Mapping[str, str], timeout: float) -> Run:
    proc = subprocess.run(
        [str(a) for a in argv],
        cwd=cwd,
        env=dict(env),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        timeout=timeout,
        check=False,
    )
    return Run(proc.returncode, proc.stdout)


def repo_files(paths: Iterable[str]) -> list[str]:
    """Tracked and untracked (not ignored) files of this checkout under paths."""
    out = subprocess.run(
        ["git", "ls-files", "--cached", "--others", "--exclude-standard", "--", *paths],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    return sorted({line for line in out.splitlines() if (REPO / line).is_file()})


def make_project(dest: Path, paths: Iterable[str], extra: Mapping[str, str] | None = None) -> Path:
    """A git repo at dest with this checkout's files under paths (plus extra files), committed."""
    dest.mkdir(parents=True, exist_ok=True)
    paths = list(paths)
    for rel in repo_files(paths) if paths else []:
        target = dest / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(REPO / rel, target)
    for rel, text in (extra or {}).items():
        target = dest / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text, encoding="utf-8")
    git("init", "--quiet", "--initial-branch", "main", cwd=dest)
    git("add", "-A", cwd=dest)
    git("commit", "--quiet", "-m", "project under test", cwd=dest)
    return dest


# -- GitLab ----------------------------------------------------------------------------
def gitlab_ci_local(
    project: Path,
    *args: str,
    variables: Mapping[str, str] | None = None,
    unset: Sequence[str] = (),
    timeout: float = 600,
) -> Run:
    argv: list[str] = ["gitlab-ci-local", "--force-shell-executor", "--no-color"]
    for key, value in (variables or {}).items():
        argv += ["--variable", f"{key}={value}"]
    for key in unset:
        argv += ["--unset-variable", key]
    # Overriding CI_PIPELINE_SOURCE & co. is how MR pipelines are emulated: no warning for it.
    quiet = {"GCL_IGNORE_PREDEFINED_VARS": ",".join([*(variables or {}), *unset])}
    return run([*argv, *args], cwd=project, env=tools_env(quiet), timeout=timeout)


def gitlab_preview(project: Path, **kwargs: Any) -> dict[str, Any]:
    """The merged pipeline (`--preview`) as a dict: every include and input resolved."""
    result = gitlab_ci_local(project, "--preview", **kwargs)
    assert result.exit_code == 0, str(result)
    text = result.output[result.output.index("---\n") :]
    document: dict[str, Any] = yaml.safe_load(text)
    return document


MR_VARIABLES = {
    "CI_PIPELINE_SOURCE": "merge_request_event",
    "CI_MERGE_REQUEST_IID": "7",
    "CI_MERGE_REQUEST_SOURCE_BRANCH_NAME": "feature",
    "CI_MERGE_REQUEST_TARGET_BRANCH_NAME": "main",
}


# -- GitHub ----------------------------------------------------------------------------
CHECKOUT_ACTION = """name: local checkout (tests)
description: Copies the project under test into the workspace, like actions/checkout.
inputs:
  path: {description: where, required: false, default: "."}
  repository: {description: ignored, required: false, default: ""}
  ref: {description: ignored, required: false, default: ""}
runs:
  using: composite
  steps:
    - shell: bash
      run: |
        mkdir -p "$GITHUB_WORKSPACE/${{ inputs.path }}"
        cp -a "$ACT_PROJECT/." "$GITHUB_WORKSPACE/${{ inputs.path }}/"
"""
UPLOAD_ACTION = """name: local upload-artifact (tests)
description: Keeps the files in a directory shared by the jobs of one act run.
inputs:
  name: {description: name, required: false, default: artifact}
  path: {description: path, required: true}
  retention-days: {description: ignored, required: false, default: ""}
  if-no-files-found: {description: ignored, required: false, default: warn}
runs:
  using: composite
  steps:
    - shell: bash
      run: |
        if [ -d "${{ inputs.path }}" ]; then
          mkdir -p "$ACT_ARTIFACTS/${{ inputs.name }}"
          cp -a "${{ inputs.path }}/." "$ACT_ARTIFACTS/${{ inputs.name }}/"
        elif [ -e "${{ inputs.path }}" ]; then  # one file: at the artifact's root
          mkdir -p "$ACT_ARTIFACTS/${{ inputs.name }}"
          cp -a "${{ inputs.path }}" "$ACT_ARTIFACTS/${{ inputs.name }}/"
        fi
"""
DOWNLOAD_ACTION = """name: local download-artifact (tests)
description: Copies an artifact kept by the local upload-artifact.
inputs:
  name: {description: name, required: false, default: artifact}
  path: {description: path, required: false, default: "."}
runs:
  using: composite
  steps:
    - shell: bash
      run: |
        mkdir -p "${{ inputs.path }}"
        cp -a "$ACT_ARTIFACTS/${{ inputs.name }}/." "${{ inputs.path }}/"
"""

# actions/cache/restore and actions/cache/save: entries in $ACT_CACHE (kept across the act
# runs of one Act), each a directory holding its key and the files; like the real actions,
# restore takes the exact key, else the newest entry whose key starts with restore-keys, and
# save never overwrites an existing key.
CACHE_RESTORE_ACTION = """name: local cache restore (tests)
description: Restores a directory saved by the local cache save.
inputs:
  path: {description: path, required: true}
  key: {description: key, required: true}
  restore-keys: {description: prefix, required: false, default: ""}
runs:
  using: composite
  steps:
    - shell: bash
      env:
        KEY: ${{ inputs.key }}
        PREFIX: ${{ inputs.restore-keys }}
        DEST: ${{ inputs.path }}
      run: |
        match=""
        for entry in $(ls -1t "$ACT_CACHE" 2>/dev/null); do
          key=$(cat "$ACT_CACHE/$entry/key")
          if [ "$key" = "$KEY" ]; then match=$entry; break; fi
          if [ -z "$match" ] && [ -n "$PREFIX" ] && [ "${key#"$PREFIX"}" != "$key" ]; then
            match=$entry
          fi
        done
        if [ -n "$match" ]; then
          mkdir -p "$DEST" && cp -a "$ACT_CACHE/$match/files/." "$DEST/"
          echo "Cache restored from key: $(cat "$ACT_CACHE/$match/key")"
        else
          echo "Cache not found for input keys: $KEY"
        fi
"""
CACHE_SAVE_ACTION = """name: local cache save (tests)
description: Saves a directory for the local cache restore.
inputs:
  path: {description: path, required: true}
  key: {description: key, required: true}
runs:
  using: composite
  steps:
    - shell: bash
      env:
        KEY: ${{ inputs.key }}
        SOURCE: ${{ inputs.path }}
      run: |
        for entry in $(ls -1 "$ACT_CACHE" 2>/dev/null); do
          if [ "$(cat "$ACT_CACHE/$entry/key")" = "$KEY" ]; then
            echo "Cache already exists: $KEY"; exit 0
          fi
        done
        if [ ! -d "$SOURCE" ]; then echo "Path does not exist, no cache saved: $SOURCE"; exit 0; fi
        entry="$ACT_CACHE/$(date +%s%N)"
        mkdir -p "$entry/files" && printf '%s' "$KEY" > "$entry/key"
        cp -a "$SOURCE/." "$entry/files/"
        echo "Cache saved with key: $KEY"
"""


def _action_repo(path: Path, files: Mapping[str, str]) -> Path:
    return make_project(path, [], files)


@dataclass(frozen=True)
class Act:
    """act with the remote actions this repository uses replaced by local ones."""

    project: Path
    work: Path

    @classmethod
    def create(cls, work: Path, project: Path) -> Act:
        work.mkdir(parents=True, exist_ok=True)
        _action_repo(work / "checkout", {"action.yml": CHECKOUT_ACTION})
        _action_repo(work / "upload", {"action.yml": UPLOAD_ACTION})
        _action_repo(work / "download", {"action.yml": DOWNLOAD_ACTION})
        _action_repo(
            work / "cache",
            {"restore/action.yml": CACHE_RESTORE_ACTION, "save/action.yml": CACHE_SAVE_ACTION},
        )
        (work / "caches").mkdir(exist_ok=True)
        # ci-plugins/ci-plugins@v0.1.0 is this checkout: its composite actions only.
        make_project(work / "ci-plugins", ["pipelines/github", ".github/workflows"])
        return cls(project, work)

    def caches(self) -> dict[str, Path]:
        """What the local actions/cache/save stored: key -> the saved files."""
        entries = sorted((self.work / "caches").iterdir())
        return {(e / "key").read_text(encoding="utf-8"): e / "files" for e in entries}

    def __call__(
        self,
        event: str,
        *args: str,
        payload: Mapping[str, Any] | None = None,
        env: Mapping[str, str] | None = None,
        labels: Sequence[str] = ("ubuntu-latest", "gpu"),
        timeout: float = 600,
    ) -> Run:
        artifacts = self.work / "artifacts"
        shutil.rmtree(artifacts, ignore_errors=True)
        artifacts.mkdir()
        argv: list[str] = [
            "act",
            event,
            "--no-skip-checkout",
            "--no-cache-server",
            "--action-offline-mode",
        ]
        for label in labels:
            argv += ["-P", f"{label}=-self-hosted"]
        local = {
            f"actions/checkout@{CHECKOUT_SHA}": self.work / "checkout",
            f"actions/upload-artifact@{UPLOAD_SHA}": self.work / "upload",
            f"actions/download-artifact@{DOWNLOAD_SHA}": self.work / "download",
            f"actions/cache@{CACHE_SHA}": self.work / "cache",
            "ci-plugins/ci-plugins@v0.1.0": self.work / "ci-plugins",
        }
        for ref, path in local.items():
            argv += ["--local-repository", f"{ref}={path}"]
        if payload is not None:
            event_file = self.work / "event.json"
            event_file.write_text(json.dumps(payload), encoding="utf-8")
            argv += ["-e", str(event_file)]
        variables = {
            "ACT_PROJECT": str(self.project),
            "ACT_ARTIFACTS": str(artifacts),
            "ACT_CACHE": str(self.work / "caches"),
            **(env or {}),
        }
        for key, value in variables.items():
            argv += ["--env", f"{key}={value}"]
        home = self.work / "home"
        home.mkdir(exist_ok=True)
        return run(
            [*argv, *args],
            cwd=self.project,
            env=tools_env({"HOME": str(home), "XDG_CACHE_HOME": str(home / ".cache")}),
            timeout=timeout,
        )


# -- Jenkins ---------------------------------------------------------------------------
def jenkins(
    work: Path,
    script: Path,
    *,
    workspace: Path | None = None,
    execute: bool = False,
    env: Mapping[str, str] | None = None,
    credentials: Mapping[str, Mapping[str, str]] | None = None,
    sh: Sequence[Mapping[str, Any]] = (),
    input_answer: str = "proceed",
    vars_dir: Path = JENKINS_VARS,
    timeout: float = 600,
) -> dict[str, Any]:
    """Run script (a Jenkinsfile) with the library's vars/ under the Groovy harness."""
    work.mkdir(parents=True, exist_ok=True)
    record = work / "record.json"
    settings = {
        "vars": str(vars_dir),
        "script": str(script),
        "record": str(record),
        "workspace": str(workspace or work),
        "execute": execute,
        "env": dict(env or {}),
        "credentials": {k: dict(v) for k, v in (credentials or {}).items()},
        "sh": [dict(rule) for rule in sh],
        "input": input_answer,
    }
    settings_file = work / "settings.json"
    settings_file.write_text(json.dumps(settings), encoding="utf-8")
    result = run(["groovy", HARNESS, settings_file], cwd=work, env=tools_env(), timeout=timeout)
    assert record.exists(), f"the harness wrote no record: {result}"
    document: dict[str, Any] = json.loads(record.read_text(encoding="utf-8"))
    document["log"] = result.output
    document["workspace"] = settings["workspace"]
    return document


def calls(record: Mapping[str, Any], step: str) -> list[dict[str, Any]]:
    return [call for call in record["calls"] if call["step"] == step]


# -- the local platform, with Argo CD played by `sync --watch` -----------------------------
class ArgoWatch:
    """`ci-plugins-emulator sync --watch` for one app in some environments (one process per
    environment, as a pipeline's cluster would have one Argo CD Application each).

    `synced[env]` lists the commits the Application recorded (its status.history), so a test
    sees what the GitOps loop really applied.
    """

    def __init__(self, state: Path, repo: Path, *, app: str, namespaces: Mapping[str, str]) -> None:
        self.state, self.repo, self.app = state, repo, app
        self.namespaces = dict(namespaces)
        self.cluster: dict[str, str] = json.loads((state / "cluster.json").read_text())
        self._procs: list[subprocess.Popen[bytes]] = []

    def __enter__(self) -> ArgoWatch:
        for env, namespace in self.namespaces.items():
            log = (self.state / f"sync-{env}.log").open("ab")
            self._procs.append(
                subprocess.Popen(
                    [
                        sys.executable,
                        "-m",
                        "ci_plugins_emulator",
                        "sync",
                        "--state-dir",
                        str(self.state),
                        "--env-repo",
                        str(self.repo),
                        "--env",
                        env,
                        "--app",
                        self.app,
                        "--namespace",
                        namespace,
                        "--watch",
                        "--interval",
                        "1",
                    ],
                    env=tools_env(),
                    stdout=log,
                    stderr=subprocess.STDOUT,
                )
            )
            log.close()
        return self

    def __exit__(self, *exc: object) -> None:
        for proc in self._procs:
            proc.terminate()
        for proc in self._procs:
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=10)

    @property
    def synced(self) -> dict[str, list[str]]:
        client = EmulatorClient(self.cluster["api"])
        try:
            found = {}
            for env in self.namespaces:
                path = f"/apis/argoproj.io/v1alpha1/namespaces/argocd/applications/{self.app}-{env}"
                status = (client.get(path) or {}).get("status") or {}
                found[env] = [h["revision"] for h in status.get("history") or []]
            return found
        finally:
            client.http.clear()


@contextmanager
def emulated_cluster(
    work: Path,
    repo: Path,
    *,
    app: str = "digits",
    namespaces: Mapping[str, str] | None = None,
) -> Iterator[tuple[Path, ArgoWatch]]:
    """`ci-plugins-emulator up` (API, kubelet running real pods, registry, Prometheus) with
    `sync --watch` per environment; yields the kubeconfig and the watchers."""
    state = work / "local-cluster"
    up = run(
        [
            sys.executable,
            "-m",
            "ci_plugins_emulator",
            "up",
            "--state-dir",
            state,
            # the test web image (tests/support/images/web) runs as a real process too
            "--run-image",
            f"{WEB_IMAGE}={WEB_DIR}",
        ],
        cwd=work,
        env=tools_env(),
        timeout=120,
    )
    assert up.exit_code == 0, str(up)
    try:
        with ArgoWatch(state, repo, app=app, namespaces=namespaces or {"dev": "ml-dev"}) as argo:
            yield state / "kubeconfig", argo
    finally:
        run(
            [sys.executable, "-m", "ci_plugins_emulator", "down", "--state-dir", state],
            cwd=work,
            env=tools_env(),
            timeout=120,
        )


def with_env_repo(
    project: Path,
    url: str,
    config: str = "examples/digits/ci-plugins.yaml",
    *,
    registry: str | None = None,
) -> None:
    """Point the project's config at url (env_repo.url) and, when given, the registry the
    package job pushes to (package.registry); commit it."""
    path = project / config
    extra = f"\nenv_repo:\n  url: {url}\n"
    if registry:
        extra += f"package:\n  registry: {registry}\n"
    path.write_text(path.read_text(encoding="utf-8") + extra, encoding="utf-8")
    git("commit", "--quiet", "-am", "env repo for the test", cwd=project)
