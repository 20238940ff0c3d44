"""Deterministic, streamed, atomic ``layer.zip`` writing, with Lambda's size limits.

Same tree in, same bytes out: entries sorted, one fixed timestamp (SOURCE_DATE_EPOCH or
1980-01-01), permissions normalised to 0644/0755, no ``__pycache__`` unless layerctl compiled it.
Files are streamed through zlib in chunks (never whole in memory) into a temp file that replaces
the previous zip only once it is complete.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import stat
import time
import zipfile
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from functools import lru_cache
from io import BufferedIOBase
from pathlib import Path
from typing import TYPE_CHECKING

from ..core.errors import ConfigError, PackageError
from ..core.fileio import temp_file

if TYPE_CHECKING:
    from pathspec import GitIgnoreSpec

__all__ = [
    "DIRECT_UPLOAD_LIMIT",
    "RUNTIME_PROVIDED",
    "UNZIPPED_LIMIT",
    "Entry",
    "ZipResult",
    "collect",
    "compiled_patterns",
    "exclude_patterns",
    "runtime_provided_patterns",
    "sha256_file",
    "source_date_epoch",
    "write_zip",
    "zip_date_time",
]

UNZIPPED_LIMIT = 262_144_000  # Lambda: function + all layers, unzipped
DIRECT_UPLOAD_LIMIT = 50 * 1024 * 1024  # Lambda: a zip uploaded directly rather than via S3
# What every Lambda Python runtime already ships (the AWS SDK and its own dependencies).
RUNTIME_PROVIDED = ("boto3", "botocore", "s3transfer", "jmespath")
_CHUNK = 1 << 20
_ZIP_EPOCH = 315532800  # 1980-01-01T00:00:00Z, the earliest time a zip can record
_ZIP_LAST = 4354819199  # 2107-12-31T23:59:59Z, the latest
_PREFIX = "python/"


@dataclass(frozen=True)
class Entry:
    name: str  # POSIX path relative to the tree root
    path: Path
    size: int
    executable: bool


@dataclass(frozen=True)
class ZipResult:
    path: Path
    files: int
    unzipped_size: int
    zipped_size: int
    sha256: str

    @property
    def over_direct_upload_limit(self) -> bool:
        return self.zipped_size > DIRECT_UPLOAD_LIMIT


def exclude_patterns(user: Sequence[str], *, runtime_provided: bool, keep_bytecode: bool) -> list[str]:
    """The gitignore-style patterns (relative to ``python/``) that keep files out of the zip."""
    patterns = ["/.lock"]  # uv's install lock in a --target directory
    if not keep_bytecode:
        patterns += ["__pycache__/", "*.pyc"]
    if runtime_provided:
        patterns += runtime_provided_patterns()
    return patterns + list(user)


def runtime_provided_patterns() -> list[str]:
    """What ``exclude-runtime-provided`` leaves out: the runtime's SDK packages, whole."""
    return [p for name in RUNTIME_PROVIDED for p in (f"/{name}/", f"/{name}-*.dist-info/", f"/{name}.libs/")]


def collect(root: Path, patterns: Iterable[str]) -> list[Entry]:
    """The files of ``root`` that no pattern excludes, in the zip's (sorted) order.

    A symlink is never followed out of the tree: one that points inside it is stored as what it
    points to (a file's bytes, a directory's files under the link's name); one that points
    outside it, dangles or loops fails with its path. An excluded link is not looked at."""
    spec = compiled_patterns(tuple(patterns))
    entries: list[Entry] = []
    try:  # the tree as named: its real path is needed only to follow a link (a walk per part)
        _collect_dir(Path(root), "", spec, None, frozenset(), entries)
    except _Link:  # walked again from its real path, where links are followed
        top = Path(os.path.realpath(root))
        entries.clear()
        _collect_dir(top, "", spec, top, frozenset({top}), entries)
    entries.sort(key=lambda e: e.name)
    return entries


class _Link(Exception):
    """A walk without the tree's real path met a link it would follow."""


@lru_cache(maxsize=64)
def compiled_patterns(patterns: tuple[str, ...]) -> GitIgnoreSpec:
    """The patterns compiled once per process (every target of a matrix has the same ones)."""
    # pathspec is imported when a zip is first written: a no-op run imports this module (the
    # build cache's hashing and limits) but packs nothing
    from pathspec import GitIgnoreSpec

    return GitIgnoreSpec.from_lines(list(patterns))


def _collect_dir(
    directory: Path,
    prefix: str,
    spec: GitIgnoreSpec,
    top: Path | None,
    chain: frozenset[Path],
    out: list[Entry],
) -> None:
    with os.scandir(directory) as scan:
        items = sorted(scan, key=lambda item: item.name)
    for item in items:
        rel = prefix + item.name
        path = Path(item.path)
        if item.is_symlink():
            if spec.match_file(rel) or spec.match_file(rel + "/"):
                continue
            if top is None:
                raise _Link
            path = _link_inside(path, rel, top)
            if path.is_dir():
                if path in chain:
                    raise PackageError(f"python/{rel}: symlink loop (points to a directory that contains it)")
                _collect_dir(path, rel + "/", spec, top, chain | {path}, out)
                continue
        elif item.is_dir(follow_symlinks=False):
            _collect_dir(path, rel + "/", spec, top, chain | {path}, out)
            continue
        if spec.match_file(rel):
            continue
        st = path.stat()
        if stat.S_ISREG(st.st_mode):
            out.append(Entry(rel, path, st.st_size, bool(st.st_mode & 0o111)))


def _link_inside(link: Path, rel: str, top: Path) -> Path:
    """Where ``link`` points, fully resolved, when that is inside ``top``."""
    target = os.readlink(link)
    real = Path(os.path.realpath(link))
    if not real.exists():
        raise PackageError(f"python/{rel}: symlink to {target} points to a missing file")
    if real != top and top not in real.parents:
        raise PackageError(
            f"python/{rel}: symlink to {target} points outside the installed tree; layerctl never "
            "follows a link out of the tree into the zip (the package must ship the file itself)"
        )
    return real


def source_date_epoch() -> int | None:
    """``SOURCE_DATE_EPOCH`` as the zip's timestamp; unset means 1980-01-01. A value that is not
    a whole number of seconds, or lies past 2107 (the last year a zip can record), is an error."""
    raw = os.environ.get("SOURCE_DATE_EPOCH", "").strip()
    if not raw:
        return None
    if not raw.isdigit() or not raw.isascii():
        raise ConfigError(
            f"environment: SOURCE_DATE_EPOCH={raw!r} is not a whole number of seconds since 1970; "
            "unset it or set it to e.g. the last commit's time (git log -1 --format=%ct)"
        )
    value = int(raw)
    if value > _ZIP_LAST:
        raise ConfigError(
            f"environment: SOURCE_DATE_EPOCH={raw} is after 2107-12-31, the last date a zip entry can "
            "record; set a time between 1980 and 2107 (earlier times are recorded as 1980-01-01)"
        )
    return value


def zip_date_time(epoch: int | None = None) -> tuple[int, int, int, int, int, int]:
    if epoch is None:
        epoch = source_date_epoch()
    year, month, day, hour, minute, second = time.gmtime(max(epoch or _ZIP_EPOCH, _ZIP_EPOCH))[:6]
    return (year, month, day, hour, minute, second - second % 2)


def write_zip(
    entries: Sequence[Entry],
    dest: Path,
    *,
    level: int = 6,
    epoch: int | None = None,
    check_cancelled: Callable[[], None] | None = None,
) -> ZipResult:
    """Write ``entries`` under ``python/`` to ``dest`` atomically. Raises PackageError over 250 MB."""
    unzipped = sum(e.size for e in entries)
    if unzipped > UNZIPPED_LIMIT:
        raise PackageError(
            f"the layer unzips to {unzipped:,} bytes, over Lambda's limit of {UNZIPPED_LIMIT:,}; "
            "exclude what the functions do not need (exclude, exclude-runtime-provided)"
        )
    date_time = zip_date_time(epoch)
    method = zipfile.ZIP_DEFLATED if level > 0 else zipfile.ZIP_STORED
    try:
        fd, tmp = temp_file(dest.parent, f".{dest.name}.", ".tmp")
    except FileNotFoundError:
        dest.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = temp_file(dest.parent, f".{dest.name}.", ".tmp")
    try:
        with os.fdopen(fd, "w+b") as raw:  # written, then read back for its digest: one open
            with zipfile.ZipFile(raw, "w", method, compresslevel=level or None) as zf:
                for entry in entries:
                    if check_cancelled is not None:
                        check_cancelled()
                    info = zipfile.ZipInfo(_PREFIX + entry.name, date_time)
                    info.compress_type = method
                    _set_level(info, level)  # zf.open(info) takes the entry's level, not the archive's
                    info.create_system = 3  # Unix, so external_attr carries the mode
                    info.external_attr = (stat.S_IFREG | (0o755 if entry.executable else 0o644)) << 16
                    info.file_size = entry.size
                    with entry.path.open("rb") as src, zf.open(info, "w") as out:
                        shutil.copyfileobj(src, out, _CHUNK)
            zipped = raw.tell()  # the end of the central directory, written last
            raw.seek(0)
            digest = _sha256_of(raw)
            os.fchmod(raw.fileno(), 0o644)
        os.replace(tmp, dest)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return ZipResult(dest, len(entries), unzipped, zipped, digest)


def _set_level(info: zipfile.ZipInfo, level: int) -> None:
    """The deflate level of one entry (``compress_level`` from Python 3.13, ``_compresslevel``
    before: ``ZipFile.open`` of a ``ZipInfo`` keeps the entry's, which defaults to zlib's 6)."""
    setattr(info, _LEVEL_ATTRIBUTE, level)


_LEVEL_ATTRIBUTE = "compress_level" if hasattr(zipfile.ZipInfo, "compress_level") else "_compresslevel"


def sha256_file(path: Path) -> str:
    with path.open("rb") as fh:
        return _sha256_of(fh)


def _sha256_of(fh: BufferedIOBase) -> str:
    digest = hashlib.sha256()
    while chunk := fh.read(_CHUNK):
        digest.update(chunk)
    return digest.hexdigest()
