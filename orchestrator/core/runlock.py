"""One run at a time on any output: ``build``, ``build-all`` and ``clean`` hold an exclusive lock
on a file in the report directory and in the output directory of every layer they touch, for
their whole run. A second run waits for the first (saying so once),
or with ``--no-wait`` exits with EXIT_BUSY. The lock is the kernel's (flock): a run that is
killed releases it, so a lock file left behind never blocks anyone."""

from __future__ import annotations

import fcntl
import os
import socket
from collections.abc import Callable, Iterator, Sequence
from contextlib import ExitStack, contextmanager, suppress
from pathlib import Path

from .errors import ConfigError, EnvironmentProblem, WorkspaceBusy

__all__ = ["LOCK_NAME", "check_lock", "run_locks"]

LOCK_NAME = ".layerctl.lock"


@contextmanager
def run_locks(
    places: Sequence[tuple[Path, Callable[[], object]]], *, wait: bool, say: Callable[[str], None]
) -> Iterator[None]:
    """Hold the run lock of every directory of ``places`` (``directory/.layerctl.lock``; each
    comes with the callable that (re)creates the directory) for the body, taken in one order so
    two runs never deadlock. A run locks its report directory and the output directory of every
    layer it builds or cleans: another run on any of them, whatever its report directory or
    workspace root, waits (or exits with --no-wait)."""
    # one lock file per directory, however it was reached (a link to a layer is the layer)
    ordered = sorted({directory.resolve(): prepare for directory, prepare in places}.items())
    announced = False
    while True:
        with ExitStack() as held:
            for directory, prepare in ordered:
                prepare()
                path = directory / LOCK_NAME
                fd = _open(path)
                held.callback(os.close, fd)
                try:
                    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                except BlockingIOError:
                    holder = _holder(fd)
                    if not wait:
                        raise WorkspaceBusy(
                            f"another layerctl run ({holder}) is working on {directory} (lock {path}); run "
                            "again when it has finished, or leave out --no-wait to queue behind it"
                        ) from None
                    if not announced:
                        say(f"layerctl: waiting for another layerctl run ({holder}) on {directory} to finish")
                        announced = True
                    fcntl.flock(fd, fcntl.LOCK_EX)
                if not _same_file(fd, path):  # removed (by `clean`) while we waited: start over
                    break
                with suppress(OSError):  # who holds it, for the message of a run that waits
                    os.ftruncate(fd, 0)
                    os.pwrite(fd, f"pid {os.getpid()} on {socket.gethostname()}\n".encode(), 0)
            else:
                yield
                return


def check_lock(directory: Path) -> None:
    """Refuse, before anything is written, a link or a directory where ``directory``'s lock
    file goes (never followed, never removed: it is not layerctl's)."""
    path = directory / LOCK_NAME
    what = "a symlink" if path.is_symlink() else "a directory" if path.is_dir() else None
    if what is not None:
        raise ConfigError(f"{path}: is {what} where layerctl keeps its run lock; remove it")


def _open(path: Path) -> int:
    """The lock file, created if missing; a link or a directory at its name is refused in one line."""
    try:
        return os.open(path, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC, 0o644)
    except OSError as exc:
        failure = exc
    check_lock(path.parent)
    raise EnvironmentProblem(f"{path}: cannot open the run lock ({failure.strerror or failure})")


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
