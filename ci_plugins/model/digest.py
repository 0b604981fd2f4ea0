"""The model digest: sha256 over a directory's files, stable for identical bytes."""

from __future__ import annotations

import hashlib
from pathlib import Path

CHUNK = 1 << 20


def directory_digest(root: Path) -> str:
    """`sha256:<hex>` over every file under root: sorted relative POSIX paths and contents.

    Each file contributes its path, its size and its bytes, so renaming or moving a file
    changes the digest while timestamps, permissions and the root's own name do not.
    """
    total = hashlib.sha256()
    files = sorted(
        (path.relative_to(root).as_posix(), path) for path in root.rglob("*") if path.is_file()
    )
    for relative, path in files:
        name = relative.encode("utf-8")
        total.update(len(name).to_bytes(8, "big") + name)
        total.update(path.stat().st_size.to_bytes(8, "big"))
        with path.open("rb") as fh:
            while chunk := fh.read(CHUNK):
                total.update(chunk)
    return "sha256:" + total.hexdigest()
