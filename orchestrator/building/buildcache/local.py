"""The target's own output directory as a build cache: its one entry is the last good build,
the stamp (``.layerctl-stamp.json``) beside ``layer.zip``. The one place stamps are read and
written: the check before a run (``freshness.py``), the attempt (``pipeline.py``, through
``caches.BuildCaches``) and ``publish`` read them here."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from ...core.fileio import read_no_follow, write_atomic
from ...core.outputs import ARTIFACTS, STAMP_NAME, ZIP_NAME
from ..stamp import STAMP_FORMAT, Stamp
from . import BuildCache, Entry, zip_matches
from .record import Record

__all__ = ["LocalCache"]


class LocalCache:
    """The entry of a target's output directory ``out`` (a ``BuildCache``)."""

    name = "the target's output directory"

    def __init__(self, out: Path) -> None:
        self.out = out

    def last(self) -> Stamp | None:
        """The stamp of the last good build, whatever its key or format; one that cannot be
        read, is a link, or has fields of the wrong type counts as none."""
        try:
            return Stamp.model_validate_json(read_no_follow(self.out / STAMP_NAME))
        except (OSError, ValueError):  # pydantic's ValidationError is a ValueError
            return None

    def lookup(self, key: str) -> Entry | None:
        """The last good build if its stamp is of the current format and its key is ``key``
        (its zip is checked by ``zip_problem``, as for any cache's, before it is used)."""
        stamp = self.last()
        if stamp is None or stamp.format != STAMP_FORMAT or stamp.key != key:
            return None
        return Entry(key, stamp)

    def fetch(self, entry: Entry, into: Path) -> None:
        """The entry's zip, copied to ``into``; nothing to do when ``into`` is ``out`` itself."""
        if into.resolve() != self.out.resolve():
            shutil.copyfile(self.out / ZIP_NAME, into / ZIP_NAME, follow_symlinks=False)

    def store(self, key: str, zip_path: Path, record: Stamp, shared: Record | None = None) -> None:
        """Make ``zip_path`` this directory's entry: the zip moved to ``layer.zip`` (a zip built
        in place stays), then the stamp written with the zip's size, mtime and inode. The stamp
        comes after the zip it describes (a run killed between the two leaves a zip whose inode
        differs from the old stamp's: it is hashed, found different and rebuilt). A no-op when
        the stamp already says exactly this."""
        zip_at = self.out / ZIP_NAME
        if zip_path != zip_at:
            os.replace(zip_path, zip_at)
        info = zip_at.lstat()
        offline = record.offline
        if offline is not None:
            offline = offline.model_copy(update={"zip_stat": (info.st_size, info.st_mtime_ns, info.st_ino)})
        stamp = record.model_copy(update={"format": STAMP_FORMAT, "key": key, "offline": offline})
        if self.last() != stamp:
            write_atomic(self.out / STAMP_NAME, stamp.model_dump_json(indent=2))

    def zip_problem(self, stamp: Stamp, *, verify: bool = False) -> str | None:
        """Why the stamped zip cannot be trusted (None: intact). Its bytes are hashed only when
        its size, mtime or inode differ from those the stamp recorded (or with ``verify``): a
        no-op run reads no zip."""
        zip_path = self.out / ZIP_NAME
        try:
            info = zip_path.lstat()
        except FileNotFoundError:
            return "zip missing"
        except OSError:
            return "zip unreadable"
        if zip_path.is_symlink():
            return "zip altered"
        if not (self.out / ARTIFACTS / "python").is_dir():
            return "artifacts missing"
        recorded = stamp.offline.zip_stat if stamp.offline else None
        if not verify and recorded == (info.st_size, info.st_mtime_ns, info.st_ino):
            return None
        if not os.access(zip_path, os.R_OK):
            return "zip unreadable"
        return None if zip_matches(zip_path, stamp.sha256) else "zip altered"


_IMPLEMENTS: type[BuildCache] = LocalCache  # mypy checks it keeps the interface
