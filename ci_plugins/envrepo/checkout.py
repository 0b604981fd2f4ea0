"""The environment repository: read what runs where, and write releases as single commits.

Layout (docs/architecture.md): `environments/<env>/<app>/release.yaml`,
`environments/<env>/<app>/manifests/*.yaml`, and `environments/<env>/<app>/pin.yaml` while
an app is pinned after a rollback. Every checkout is a shallow, single-branch clone in a
temporary directory that is removed afterwards, whatever happens.
"""

from __future__ import annotations

import os
import re
import shutil
import tempfile
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path

import yaml
from pydantic import BaseModel, ConfigDict

from ci_plugins import safe_read
from ci_plugins.adapters.git import Git, Remote, resolve_remote
from ci_plugins.config.models import validate_model
from ci_plugins.config.names import check_app, check_env
from ci_plugins.envrepo.record import ReleaseRecord
from ci_plugins.errors import ExternalError, InputError, PushRejectedError
from ci_plugins.render.manifests import ManifestFile, manifest_paths, read_manifest_dir

ENVIRONMENTS = "environments"
RELEASE_FILE = "release.yaml"
MANIFESTS_DIR = "manifests"
PIN_FILE = "pin.yaml"
VERIFIED_TAG_PREFIX = "refs/tags/ci-plugins/verified"


class Pin(BaseModel):
    """Why an app is held at its release in one environment (environments/<env>/<app>/pin.yaml)."""

    model_config = ConfigDict(extra="allow", frozen=True, defer_build=True)

    app: str
    environment: str
    pinned_by: str = ""
    reason: str = ""
    pinned_at: str = ""
    model_version: str = ""


def app_path(env: str, app: str) -> str:
    """`environments/<env>/<app>` after validating both names (InputError, exit 2)."""
    return f"{ENVIRONMENTS}/{check_env(env)}/{check_app(app)}"


class EnvRepoCheckout:
    """A shallow clone of one branch of the environment repo."""

    def __init__(
        self, root: Path, *, git: Git, branch: str, url: str, sparse: Sequence[str] | None = None
    ) -> None:
        self.root = root
        self.git = git
        self.branch = branch
        self.url = url
        self.sparse = None if sparse is None else [p.rstrip("/") for p in sparse]

    @property
    def head(self) -> str:
        """The checked-out commit's sha; "" while the branch has no commit yet."""
        proc = self.git.run("rev-parse", "--verify", "-q", "HEAD", check=False)
        return proc.stdout.strip() if proc.returncode == 0 else ""

    def app_dir(self, env: str, app: str) -> Path:
        return self.root / app_path(env, app)

    def read_release(self, env: str, app: str) -> ReleaseRecord | None:
        """The release recorded for app in env, or None when there is none."""
        text = self.read_text(f"{app_path(env, app)}/{RELEASE_FILE}")
        if text is None:
            return None
        return release_from_text(text, source=f"{self.url}: {app_path(env, app)}/{RELEASE_FILE}")

    def read_pin(self, env: str, app: str) -> Pin | None:
        """The pin on app in env, or None when it is not pinned."""
        relpath = f"{app_path(env, app)}/{PIN_FILE}"
        text = self.read_text(relpath)
        if text is None:
            return None
        return pin_from_text(text, source=f"{self.url}: {relpath}")

    def manifest_files(self, env: str, app: str) -> list[Path]:
        """The app's rendered manifests in env (sorted), [] when none are recorded."""
        return manifest_paths(self.app_dir(env, app) / MANIFESTS_DIR)

    def read_manifests(self, env: str, app: str) -> list[ManifestFile]:
        """The app's rendered manifests in env, parsed ([] when none are recorded);
        ManifestError (exit 2) naming each file that is a link, not UTF-8, not YAML..."""
        directory = self.app_dir(env, app) / MANIFESTS_DIR
        return read_manifest_dir(directory, prefix=f"{app_path(env, app)}/{MANIFESTS_DIR}/")

    def manifest_bytes(self, env: str, app: str) -> dict[str, bytes | None]:
        """Each manifest file's exact bytes, to compare with a new render (None for an
        entry that is not a regular file: links are never followed)."""
        return {
            path.name: None if safe_read.file_problem(path) else path.read_bytes()
            for path in self.manifest_files(env, app)
        }

    def envs(self) -> list[str]:
        """Environments that have at least one app, from the commit (sparse or not)."""
        return self._children(ENVIRONMENTS)

    def apps(self, env: str) -> list[str]:
        """Apps recorded in env, from the commit (works in a sparse checkout too)."""
        return self._children(f"{ENVIRONMENTS}/{check_env(env)}")

    def read_text(self, relpath: str, *, commit: str | None = None) -> str | None:
        """A file's text from the working tree (or `commit`); None when it does not exist.

        InputError (exit 2) naming the file when it is not UTF-8, or in the working tree
        a link or not a regular file (corrupt environment-repo content, #17)."""
        if commit is None:
            path = self.root / relpath
            if os.path.lexists(path):
                return safe_read.read_text(path, name=f"{self.url}: {relpath}")
            if not self.head or self._in_sparse_cone(relpath):
                return None
            commit = "HEAD"
        data = self.git.blob(f"{commit}:{relpath}")
        source = f"{self.url}: {relpath}" + ("" if commit == "HEAD" else f" at {commit[:12]}")
        return None if data is None else safe_read.decode(data, source=source)

    # -- writing (promote, rollback, unpin) ----------------------------------------------
    def write_app(
        self,
        env: str,
        app: str,
        *,
        release: str,
        manifests: Mapping[str, bytes],
    ) -> None:
        """Replace the app's release.yaml and its whole manifests/ set (others untouched).

        InputError (exit 2) when the repo holds a link on the way: nothing is ever written
        outside the clone."""
        directory = self._writable(f"{app_path(env, app)}/{MANIFESTS_DIR}").parent
        self._writable(f"{app_path(env, app)}/{RELEASE_FILE}")
        shutil.rmtree(directory / MANIFESTS_DIR, ignore_errors=True)
        (directory / MANIFESTS_DIR).mkdir(parents=True)
        for name, data in sorted(manifests.items()):
            (directory / MANIFESTS_DIR / name).write_bytes(data)
        (directory / RELEASE_FILE).write_text(release, encoding="utf-8")

    def write_pin(self, env: str, app: str, pin: Pin | None) -> None:
        """Write (or with None, remove) environments/<env>/<app>/pin.yaml."""
        path = self._writable(f"{app_path(env, app)}/{PIN_FILE}")
        if pin is None:
            path.unlink(missing_ok=True)
            return
        data = pin.model_dump(mode="json")
        path.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")

    def _writable(self, relpath: str) -> Path:
        """root/relpath, after checking that no part of it is a symbolic link (a hostile
        env repo could point one outside the clone); InputError (exit 2) naming it."""
        path = self.root
        for part in relpath.split("/"):
            path = path / part
            if path.is_symlink():
                where = path.relative_to(self.root)
                raise InputError(
                    f"{self.url}: {where} is a symbolic link; refusing to write through it",
                    hint="environment repos hold plain files; replace the link with its content",
                )
        return path

    def commit(self, paths: Sequence[str], message: str) -> str | None:
        """Commit everything changed under paths; the new sha, or None when nothing changed.

        Signing follows the user's git config (commit.gpgsign, gpg.format).
        """
        self.git.run("add", "--all", "--sparse", "--", *paths)
        if self.git.run("diff", "--cached", "--quiet", check=False).returncode == 0:
            return None
        identity = []
        if not self.git.run("config", "user.email", check=False).stdout.strip():
            identity = ["-c", "user.name=ci-plugins", "-c", "user.email=ci-plugins@localhost"]
        self.git.run(*identity, "commit", "--quiet", "--no-verify", "-F", "-", input=message)
        return self.head

    def push(self, ref: str | None = None, *, lease: str | None = None) -> None:
        """Push HEAD to `ref` (default: the branch). Never forced; PushRejectedError when the
        remote moved on. `lease` (a sha, or "" for "must not exist") allows replacing our own
        merge-request branch only if nobody else changed it."""
        target = ref or f"refs/heads/{self.branch}"
        if lease is None:
            self.git.push(f"HEAD:{target}")
        else:
            self.git.push(f"HEAD:{target}", lease=f"{target}:{lease}")

    def refresh(self, *, depth: int | None = 1) -> None:
        """Fetch the branch again and reset this scratch clone to it (drops local commits)."""
        argv = ["fetch", "--quiet", "--no-tags"]
        if depth:
            argv += ["--depth", str(depth)]
        self.git.run(*argv, "origin", "--", f"refs/heads/{self.branch}")
        self.git.run("reset", "--quiet", "--hard", "FETCH_HEAD")
        self.git.run("clean", "--quiet", "-fdx")

    def remote_ref(self, ref: str) -> str:
        """The sha of ref on the remote, "" when it does not exist."""
        out = self.git.run("ls-remote", "origin", "--", ref).stdout.split()
        return out[0] if out else ""

    def _children(self, relpath: str) -> list[str]:
        if not self.head:
            return []
        proc = self.git.run("ls-tree", "--name-only", "HEAD", "--", relpath + "/", check=False)
        names = [Path(line).name for line in proc.stdout.splitlines() if line]
        return sorted(names)

    def _in_sparse_cone(self, relpath: str) -> bool:
        if self.sparse is None:
            return True  # a full checkout: the working tree is the truth
        return any(relpath == c or relpath.startswith(c + "/") for c in self.sparse)


def release_from_text(text: str, *, source: str) -> ReleaseRecord:
    """Parse a release.yaml's text; InputError (exit 2) naming source when it is not valid."""
    data = safe_read.load_text(text, source=source)
    return validate_model(ReleaseRecord, data, source=source)


def pin_from_text(text: str, *, source: str) -> Pin:
    """Parse a pin.yaml's text; InputError (exit 2) naming source when it is not valid."""
    data = safe_read.load_text(text, source=source)
    return validate_model(Pin, data, source=source)


@contextmanager
def checkout(
    url: str,
    *,
    branch: str = "main",
    sparse: Sequence[str] | None = None,
    depth: int | None = 1,
    environ: Mapping[str, str] | None = None,
) -> Iterator[EnvRepoCheckout]:
    """A shallow single-branch clone of url in a temp dir, removed afterwards.

    `sparse`: check out only these directories (cone mode). A repo or branch with no
    commit yet gives an empty checkout (`head == ""`). ExternalError (exit 3) when the
    remote is unreachable or refuses us; the message never holds a token.
    """
    remote = resolve_remote(url, environ=environ)
    tmp = Path(tempfile.mkdtemp(prefix="ci-plugins-envrepo-"))
    try:
        root = tmp / "repo"
        _clone(remote, root, tmp=tmp, branch=branch, sparse=sparse, depth=depth, environ=environ)
        git = Git(root, remote=remote, environ=environ)
        yield EnvRepoCheckout(root, git=git, branch=branch, url=remote.display, sparse=sparse)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def _clone(
    remote: Remote,
    root: Path,
    *,
    tmp: Path,
    branch: str,
    sparse: Sequence[str] | None,
    depth: int | None,
    environ: Mapping[str, str] | None,
) -> None:
    outside = Git(tmp, remote=remote, environ=environ)
    argv = ["--quiet", "--single-branch", "--no-tags"]
    if depth:
        argv += ["--depth", str(depth)]
    if sparse is not None:
        argv += ["--sparse", "--filter=blob:none"]
    if not outside.clone(*argv, url=remote.url, into=root, branch=branch):
        _init_empty(remote, root, branch=branch, environ=environ)
        return
    if sparse is not None:
        git = Git(root, remote=remote, environ=environ)
        git.run("sparse-checkout", "set", "--cone", "--sparse-index", "--", *sparse)


def _init_empty(
    remote: Remote, root: Path, *, branch: str, environ: Mapping[str, str] | None
) -> None:
    """The remote has no such branch yet: start it (the first promote creates it)."""
    root.mkdir(parents=True)
    git = Git(root, remote=remote, environ=environ)
    git.run("init", "--quiet", "--initial-branch", branch)
    git.run("remote", "add", "origin", remote.url)
    refs = git.run("ls-remote", "--heads", "origin")
    if refs.stdout.strip() and f"refs/heads/{branch}" not in refs.stdout:
        names = ", ".join(line.split("refs/heads/")[-1] for line in refs.stdout.splitlines())
        raise ExternalError(
            f"the environment repo {remote.display} has no branch {branch!r} (it has {names})",
            hint="set env_repo.branch in ci-plugins.yaml to the branch Argo CD / Flux watches",
        )


def verified_tag(env: str, app: str, commit: str) -> str:
    """The tag that records env/app's release at commit as verified healthy."""
    return f"{VERIFIED_TAG_PREFIX}/{app_path(env, app).split('/', 1)[1]}/{commit}"


def mark_verified(
    url: str,
    *,
    branch: str,
    env: str,
    app: str,
    commit: str,
    environ: Mapping[str, str] | None = None,
) -> None:
    """Record that the release of env/app at `commit` verified healthy.

    Pushes the tag `ci-plugins/verified/<env>/<app>/<commit>` (no new commit on the branch;
    marking twice is a no-op). InputError (2) for a commit that is not a full sha;
    ExternalError (3) when the remote refuses the tag or does not have the commit.
    """
    if not re.fullmatch(r"[0-9a-f]{40}", commit):
        raise InputError(f"cannot mark {commit!r} verified: expected a full 40-hex commit sha")
    tag = verified_tag(env, app, commit)
    with checkout(url, branch=branch, sparse=[], environ=environ) as repo:
        if repo.remote_ref(tag):
            return
        repo.git.run("fetch", "--quiet", "--depth", "1", "--no-tags", "origin", "--", commit)
        try:
            repo.git.push(f"{commit}:{tag}")
        except PushRejectedError:
            # A concurrent verify of the same commit pushed the same tag first (#17).
            if repo.remote_ref(tag) != commit:
                raise
