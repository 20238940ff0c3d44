"""One run per workspace: ``build``, ``build-all`` and ``clean`` hold an exclusive lock on a file
in the report directory for their whole run. A second run waits for the first (saying so once),
or with ``--no-wait`` exits with EXIT_BUSY. The lock is the kernel's (flock): a run that is
killed releases it, so a lock file left behind never blocks anyone."""

from __future__ import annotations

import fcntl
import os
import socket
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from pathlib import Path

from .errors import WorkspaceBusy

__all__ = ["LOCK_NAME", "workspace_lock"]

LOCK_NAME = ".layerctl.lock"


@contextmanager
def workspace_lock(
    directory: Path, *, wait: bool, say: Callable[[str], None], prepare: Callable[[], object]
) -> Iterator[None]:
    """Hold the workspace's run lock (``directory/.layerctl.lock``) for the body. ``prepare``
    (re)creates the directory; it runs again when a finished ``clean`` removed it meanwhile."""
    path = directory / LOCK_NAME
    announced = False
    while True:
        prepare()
        fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC, 0o644)
        try:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                holder = _holder(fd)
                if not wait:
                    raise WorkspaceBusy(
                        f"another layerctl run ({holder}) is working on this workspace (lock {path}); "
                        "run again when it has finished, or leave out --no-wait to queue behind it"
                    ) from None
                if not announced:
                    say(f"layerctl: waiting for another layerctl run ({holder}) on this workspace to finish")
                    announced = True
                fcntl.flock(fd, fcntl.LOCK_EX)
            if not _same_file(fd, path):  # removed (by `clean`) while we waited: lock the new one
                continue
            with suppress(OSError):  # who holds it, for the message of a run that waits (best effort)
                os.ftruncate(fd, 0)
                os.pwrite(fd, f"pid {os.getpid()} on {socket.gethostname()}\n".encode(), 0)
            yield
            return
        finally:
            os.close(fd)


def _same_file(fd: int, path: Path) -> bool:
    try:
        now = os.stat(path, follow_symlinks=False)
    except FileNotFoundError:
        return False
    held = os.fstat(fd)
    return (now.st_dev, now.st_ino) == (held.st_dev, held.st_ino)


def _holder(fd: int) -> str:
    try:
        text = os.pread(fd, 200, 0).decode("utf-8", "replace").strip()
    except OSError:
        text = ""
    return text or "pid unknown"
