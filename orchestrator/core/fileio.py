"""Writing the files layerctl owns without ever following a link someone left at their name:
atomically (a temp file renamed over the name, so a reader never sees half a file), afresh
(the name removed, then created exclusively), and whole trees swapped in one rename. Reading
files whole only when they are regular and at most ``MAX_READ`` bytes (a FIFO, a device or a
directory is refused at once, never waited on); JSON nested at most ``MAX_DEPTH`` levels; and
the paths the operating system would refuse (a NUL, a part over NAME_MAX, the whole over
PATH_MAX), refused before anything looks at them."""

from __future__ import annotations

import errno
import json
import os
import shutil
import stat
import time
from collections.abc import Callable
from contextlib import suppress
from pathlib import Path
from typing import Any, TextIO, TypeVar

__all__ = [
    "MAX_DEPTH",
    "MAX_READ",
    "PATH_MAX",
    "ROOM",
    "create_fresh",
    "path_problem",
    "read_json",
    "read_no_follow",
    "read_regular",
    "replace_tree",
    "temp_dir",
    "temp_file",
    "too_deep",
    "write_atomic",
    "write_new",
]

T = TypeVar("T")

MAX_READ = 64 * 1024 * 1024  # bytes: the largest file layerctl reads whole (a report, a lock)
MAX_DEPTH = 100  # levels of nesting in a TOML or JSON file (real ones have fewer than ten)
PATH_MAX = 4096  # bytes with the final NUL (Linux): a path has at most PATH_MAX - 1
NAME_MAX = 255  # bytes of one part of a path
ROOM = 1024  # bytes kept free below a directory layerctl works in, for what it writes there


_NEW = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC


def temp_file(directory: Path, prefix: str, suffix: str) -> tuple[int, Path]:
    """A new, empty file in ``directory`` (mode 0600, created exclusively, never through a
    link) and its descriptor, open for reading and writing: ``tempfile.mkstemp``'s promises,
    its name's shape (8 random characters between ``prefix`` and ``suffix``), at a third of its
    cost (a target makes three)."""
    flags = os.O_RDWR | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC
    return _unique(directory, prefix, suffix, lambda path: (os.open(path, flags, 0o600), path))


def temp_dir(directory: Path, prefix: str) -> Path:
    """A new, empty directory in ``directory`` (mode 0700), as ``tempfile.mkdtemp`` makes."""

    def make(path: Path) -> Path:
        os.mkdir(path, 0o700)
        return path

    return _unique(directory, prefix, "", make)


def _unique(directory: Path, prefix: str, suffix: str, make: Callable[[Path], T]) -> T:
    for _ in range(100):  # as tempfile: a name taken is tried again with another
        try:
            return make(directory / f"{prefix}{os.urandom(4).hex()}{suffix}")
        except FileExistsError:
            continue
    raise FileExistsError(errno.EEXIST, "no unused temporary name found", str(directory))


def write_atomic(path: Path, text: str) -> None:
    """Replace ``path`` with ``text`` in one rename (a link at ``path`` is replaced, not followed)."""
    fd, tmp = temp_file(path.parent, f".{path.name}.", ".tmp")
    try:
        try:
            _write_all(fd, text.encode("utf-8"))
            os.fchmod(fd, 0o644)
        finally:
            os.close(fd)
        os.replace(tmp, path)
    except BaseException:
        with suppress(OSError):
            os.unlink(tmp)
        raise


def write_new(path: Path, text: str) -> None:
    """Write ``text`` to ``path``, which must not exist (a name of this run's own: no temp file
    and rename needed), mode 0644 whatever the umask, as ``write_atomic`` leaves a file."""
    fd = os.open(path, _NEW, 0o644)
    try:
        os.fchmod(fd, 0o644)
        _write_all(fd, text.encode("utf-8"))
    finally:
        os.close(fd)


def _write_all(fd: int, data: bytes) -> None:
    """All of ``data`` to ``fd`` (a write may take only part of it), without a file object."""
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]


def create_fresh(path: Path) -> TextIO:
    """Open a new, empty ``path`` for writing: whatever was at the name (a link, a read-only
    file) is removed first, never written through."""
    try:
        fd = os.open(path, _NEW, 0o644)
    except FileExistsError:  # anything at the name, a link too (O_EXCL): removed, then made afresh
        path.unlink()
        fd = os.open(path, _NEW, 0o644)
    return os.fdopen(fd, "w", encoding="utf-8")


def read_no_follow(path: Path) -> bytes:
    """The bytes of the regular file ``path``; OSError (ELOOP) when it is a link."""
    return read_regular(path, follow=False)


def read_regular(path: Path, *, follow: bool = True, limit: int = MAX_READ) -> bytes:
    """The bytes of ``path`` if it is a regular file of at most ``limit`` bytes, else OSError
    (its ``strerror`` says why). Opened without blocking: a FIFO is refused, not waited on."""
    flags = os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC | (0 if follow else os.O_NOFOLLOW)
    fd = os.open(path, flags)
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise OSError(errno.EINVAL, "not a regular file (a directory, a FIFO or a device)", str(path))
        with os.fdopen(fd, "rb", closefd=False) as fh:
            data = fh.read(limit + 1)
    finally:
        os.close(fd)
    if len(data) > limit:
        raise OSError(errno.EFBIG, f"larger than {limit} bytes, more than layerctl reads", str(path))
    return data


def read_json(path: Path, *, follow: bool = True) -> Any:
    """The JSON value in ``path`` (read by :func:`read_regular`): OSError if it cannot be read,
    ValueError if it is not JSON, not UTF-8 or nested more than ``MAX_DEPTH`` levels."""
    data = read_regular(path, follow=follow)
    try:
        value = json.loads(data.decode("utf-8"))
    except RecursionError:
        raise ValueError(f"nested more than {MAX_DEPTH} levels deep") from None
    if too_deep(value):
        raise ValueError(f"nested more than {MAX_DEPTH} levels deep")
    return value


def too_deep(value: Any, limit: int = MAX_DEPTH) -> bool:
    """Whether lists and tables in ``value`` nest more than ``limit`` levels (without recursion)."""
    stack = [(value, 0)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, (dict, list)):
            if depth >= limit:
                return True
            children = item.values() if isinstance(item, dict) else item
            stack.extend((child, depth + 1) for child in children)
    return False


def path_problem(value: str | os.PathLike[str], *, room: int = 0) -> str | None:
    """Why the operating system would refuse ``value`` as a path (None: it would not): a NUL,
    a part over NAME_MAX bytes, or the whole over PATH_MAX less ``room`` (what goes below it);
    and bytes that are not UTF-8, which the reports and logs that name the path cannot hold."""
    text = os.fspath(value)
    if "\x00" in text:
        return "holds a NUL character, which no path may hold"
    try:
        text.encode("utf-8")
    except UnicodeError:  # undecodable bytes of an environment or argument: no report could hold them
        return "holds bytes that are not UTF-8 text; layerctl takes UTF-8 paths only"
    raw = os.fsencode(text)
    longest = max((len(part) for part in raw.split(b"/")), default=0)
    if longest > NAME_MAX:
        return f"has a path part of {longest} bytes; at most {NAME_MAX} bytes"
    limit = PATH_MAX - 1 - room
    if len(raw) > limit:
        beyond = f" (room for what layerctl writes below it, within PATH_MAX {PATH_MAX})" if room else ""
        return f"makes a path of {len(raw)} bytes; at most {limit} bytes{beyond}"
    return None


def replace_tree(staging: Path, dest: Path) -> None:
    """Put the ``staging`` tree at ``dest`` in one rename; the old tree is removed afterwards."""
    os.chmod(staging, 0o755)  # mkdtemp made it private
    try:  # nothing there (or an empty directory, replaced as well): one rename
        os.replace(staging, dest)
        return
    except OSError as exc:
        if exc.errno not in (errno.ENOTEMPTY, errno.EEXIST, errno.ENOTDIR, errno.EISDIR):
            raise
    old = dest.with_name(f".{dest.name}-old-{os.getpid()}-{time.monotonic_ns()}")
    os.replace(dest, old)
    os.replace(staging, dest)
    if old.is_symlink():
        old.unlink()
    else:
        shutil.rmtree(old, ignore_errors=True)
