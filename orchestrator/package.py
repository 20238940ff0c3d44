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
import tempfile
import time
import zipfile
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from pathspec import GitIgnoreSpec

from .errors import PackageError

__all__ = [
    "DIRECT_UPLOAD_LIMIT",
    "RUNTIME_PROVIDED",
    "UNZIPPED_LIMIT",
    "Entry",
    "ZipResult",
    "collect",
    "exclude_patterns",
    "sha256_file",
    "write_zip",
    "zip_date_time",
]

UNZIPPED_LIMIT = 262_144_000  # Lambda: function + all layers, unzipped
DIRECT_UPLOAD_LIMIT = 50 * 1024 * 1024  # Lambda: a zip uploaded directly rather than via S3
# What every Lambda Python runtime already ships (the AWS SDK and its own dependencies).
RUNTIME_PROVIDED = ("boto3", "botocore", "s3transfer", "jmespath")
_CHUNK = 1 << 20
_ZIP_EPOCH = 315532800  # 1980-01-01T00:00:00Z, the earliest time a zip can record
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
        for name in RUNTIME_PROVIDED:
            patterns += [f"/{name}/", f"/{name}-*.dist-info/", f"/{name}.libs/"]
    return patterns + list(user)


def collect(root: Path, patterns: Iterable[str]) -> list[Entry]:
    """The files of ``root`` that no pattern excludes, in the zip's (sorted) order."""
    spec = GitIgnoreSpec.from_lines(list(patterns))
    entries: list[Entry] = []
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames.sort()
        base = Path(dirpath)
        rel_dir = base.relative_to(root).as_posix()
        prefix = "" if rel_dir == "." else rel_dir + "/"
        for name in filenames:
            rel = prefix + name
            if spec.match_file(rel):
                continue
            path = base / name
            st = path.stat()  # follows symlinks: the zip holds the content
            if not stat.S_ISREG(st.st_mode):
                continue
            entries.append(Entry(rel, path, st.st_size, bool(st.st_mode & 0o111)))
    entries.sort(key=lambda e: e.name)
    return entries


def zip_date_time(epoch: int | None = None) -> tuple[int, int, int, int, int, int]:
    if epoch is None:
        raw = os.environ.get("SOURCE_DATE_EPOCH", "")
        epoch = int(raw) if raw.isdigit() else _ZIP_EPOCH
    year, month, day, hour, minute, second = time.gmtime(max(epoch, _ZIP_EPOCH))[:6]
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
    dest.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{dest.name}.", suffix=".tmp", dir=dest.parent)
    tmp = Path(tmp_name)
    try:
        with os.fdopen(fd, "wb") as raw, zipfile.ZipFile(raw, "w", method, compresslevel=level or None) as zf:
            for entry in entries:
                if check_cancelled is not None:
                    check_cancelled()
                info = zipfile.ZipInfo(_PREFIX + entry.name, date_time)
                info.compress_type = method
                info.create_system = 3  # Unix, so external_attr carries the mode
                info.external_attr = (stat.S_IFREG | (0o755 if entry.executable else 0o644)) << 16
                info.file_size = entry.size
                with entry.path.open("rb") as src, zf.open(info, "w") as out:
                    shutil.copyfileobj(src, out, _CHUNK)
        digest = sha256_file(tmp)
        zipped = tmp.stat().st_size
        os.chmod(tmp, 0o644)
        os.replace(tmp, dest)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return ZipResult(dest, len(entries), unzipped, zipped, digest)


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        while chunk := fh.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()
