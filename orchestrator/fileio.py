"""Writing the files layerctl owns without ever following a link someone left at their name:
atomically (a temp file renamed over the name, so a reader never sees half a file), afresh
(the name removed, then created exclusively), and whole trees swapped in one rename."""

from __future__ import annotations

import os
import shutil
import tempfile
import time
from contextlib import suppress
from pathlib import Path
from typing import TextIO

__all__ = ["create_fresh", "read_no_follow", "replace_tree", "write_atomic"]


def write_atomic(path: Path, text: str) -> None:
    """Replace ``path`` with ``text`` in one rename (a link at ``path`` is replaced, not followed)."""
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        with suppress(OSError):
            os.unlink(tmp)
        raise


def create_fresh(path: Path) -> TextIO:
    """Open a new, empty ``path`` for writing: whatever was at the name (a link, a read-only
    file) is removed first, never written through."""
    if path.is_symlink() or path.exists():
        path.unlink()
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC, 0o644)
    return os.fdopen(fd, "w", encoding="utf-8")


def read_no_follow(path: Path) -> bytes:
    """The bytes of ``path``; OSError (ELOOP) when it is a link."""
    fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC)
    with os.fdopen(fd, "rb") as fh:
        return fh.read()


def replace_tree(staging: Path, dest: Path) -> None:
    """Put the ``staging`` tree at ``dest`` in one rename; the old tree is removed afterwards."""
    old: Path | None = None
    if dest.exists() or dest.is_symlink():
        old = dest.with_name(f".{dest.name}-old-{os.getpid()}-{time.monotonic_ns()}")
        os.replace(dest, old)
    os.chmod(staging, 0o755)  # mkdtemp made it private
    os.replace(staging, dest)
    if old is not None:
        if old.is_symlink():
            old.unlink()
        else:
            shutil.rmtree(old, ignore_errors=True)
