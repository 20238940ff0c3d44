"""The caches of a run, and the rules of ``BuildCache`` enforced for every implementation: an
entry is used only once its zip hashes to its record, a failing or lying cache is a miss, a
stored key is never written again.

A target's own output directory (``LocalCache``) is asked first and its zip checked as the
check before a run checks it (size, mtime and inode, else its bytes). The shared caches are
asked next, in order: the first entry whose zip verifies is restored into the target's
directory (the zip, its tree in ``artifacts/``, then the stamp: a run killed in between leaves
a zip its stamp does not describe, which rebuilds). With a secret (``LAYERCTL_CACHE_SECRET``),
a shared entry is used only when its record's signature verifies (``record.py``). A good build
is kept in the target's directory, then (unless the caches are read-only) stored in each
shared cache that does not hold its key yet, its record signed with the secret."""

from __future__ import annotations

import os
import shutil
import stat
import tempfile
import zipfile
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

from ...core.fileio import replace_tree, write_atomic
from ...core.outputs import ARTIFACTS, REQUIREMENTS_NAME, ZIP_NAME
from ...package.zip import UNZIPPED_LIMIT
from ..inputkey import input_key
from ..stamp import STAMP_FORMAT, Offline, Stamp, StampResult
from . import BuildCache, Entry, zip_matches
from .local import LocalCache
from .record import Record, sign, signature_problem

__all__ = ["BuildCaches", "Hit"]


@dataclass(frozen=True)
class Hit:
    """A target found built: its stamp in its output directory, and the shared cache it was
    restored from (None: the directory's own last good build)."""

    stamp: Stamp
    source: str | None = None

    def said(self) -> str:
        """The line of the target's log."""
        if self.source is None:
            return f"up to date: inputs unchanged since the last build ({self.stamp.sha256[:12]})"
        return f"cached: restored from {self.source} ({self.stamp.sha256[:12]})"


@dataclass(frozen=True)
class BuildCaches:
    """Each target's output directory, then ``shared`` (caches of other runners), in order.
    ``notes``: what a shared cache did wrong, for the target's warnings (each a miss, never a
    failure). ``write``: store good builds in the shared caches (``cache-mode = "read"``: no);
    ``secret``: sign what is stored, trust only what verifies."""

    shared: tuple[BuildCache, ...] = ()
    write: bool = True
    secret: bytes | None = field(default=None, repr=False)

    @property
    def remote(self) -> bool:
        """Whether finding or keeping a build may wait on the network (shared caches)."""
        return bool(self.shared)

    def find(
        self, out: Path, key: str, *, verify: bool = False, notes: list[str] | None = None
    ) -> Hit | None:
        """The build of ``key`` in the target's directory ``out``, restored there from a
        shared cache when it is not (``verify``: hash the directory's zip whatever its stat)."""
        local = LocalCache(out)
        entry = local.lookup(key)
        if entry is not None and local.zip_problem(entry.record, verify=verify) is None:
            return Hit(entry.record)
        for cache in self.shared:
            try:
                found = _restore(cache, key, out, self.secret)
            except Exception as exc:  # a failing cache is a miss
                _note(notes, cache, f"failed ({type(exc).__name__}: {exc})")
                continue
            if isinstance(found, Stamp):
                return Hit(found, cache.name)
            if found is not None:  # the entry is there but cannot be used: named, to delete it
                _note(notes, cache, f"entry {key} rejected: {found}")
        return None

    def up_to_date(
        self, out: Path, record: Offline, requirements: str, *, verify: bool = False, notes: list[str]
    ) -> Hit | None:
        """The attempt's check (``pipeline.py``): the build of ``record``'s key in ``out``
        (restored from a shared cache when it is not there: its ``requirements.txt`` then
        written from ``requirements``), stamped with ``record`` (how the check before the next
        run finds it); None: it builds. What a shared cache did wrong is added to ``notes``."""
        hit = self.find(out, input_key(record.material), verify=verify, notes=notes)
        if hit is None:
            return None
        if hit.source is not None:  # requirements.txt describes the zip beside it
            write_atomic(out / REQUIREMENTS_NAME, requirements)
        stamp = self.remember(out, hit.stamp.result, record)  # a no-op when the stamp says so already
        return Hit(stamp, hit.source)

    def remember(self, out: Path, made: StampResult, record: Offline) -> Stamp:
        """Stamp the zip in ``out`` as the build of ``record``'s key (the key computed here,
        from what it is made of, ``inputkey.input_key``); the shared caches are not told."""
        key = input_key(record.material)
        stamp = Stamp(format=STAMP_FORMAT, key=key, sha256=made.sha256, result=made, offline=record)
        LocalCache(out).store(key, out / ZIP_NAME, stamp)
        return stamp

    def keep(
        self,
        out: Path,
        made: StampResult,
        record: Offline,
        notes: list[str] | None = None,
        *,
        target: str = "",
    ) -> None:
        """A good build: stamped in ``out``, then stored in each shared cache lacking its key
        (``target``: the id of the target that built it, in the shared record)."""
        stamp = self.remember(out, made, record)
        if not self.write or not self.shared:
            return
        shared = self.record(stamp, target)
        for cache in self.shared:
            try:
                if cache.lookup(stamp.key) is None:  # written once, whatever the implementation does
                    cache.store(stamp.key, out / ZIP_NAME, stamp, shared)
            except Exception as exc:  # the build is good; the cache just does not have it
                _note(notes, cache, f"could not store the build ({type(exc).__name__}: {exc})")

    def record(self, stamp: Stamp, target: str) -> Record:
        """The shared record of a stamp: nothing of this checkout or machine in it (the zip's
        path, its inode), signed with the secret when there is one."""
        offline = stamp.offline.model_copy(update={"zip_stat": None}) if stamp.offline else None
        result = stamp.result.model_copy(update={"zip_path": ZIP_NAME})
        clean = stamp.model_copy(update={"offline": offline, "result": result})
        shared = Record(
            key=stamp.key, sha256=stamp.sha256, size=stamp.result.zipped_size, target=target, stamp=clean
        )
        return sign(shared, self.secret) if self.secret else shared


def _note(notes: list[str] | None, cache: BuildCache, what: str) -> None:
    if notes is not None:
        notes.append(f"build cache {cache.name}: {what}; a miss")


def _restore(cache: BuildCache, key: str, out: Path, secret: bytes | None) -> Stamp | str | None:
    """The entry of ``key`` fetched, checked, and put in ``out`` (its stamp); why it was not
    (a message); None when the cache has no entry."""
    entry = cache.lookup(key)
    if entry is None:
        return None
    why = _untrusted(entry, key, secret)
    if why:
        return why
    staging = Path(tempfile.mkdtemp(prefix=".staging-", dir=out))  # a killed run's leftover
    try:
        cache.fetch(entry, staging)
        zip_path = staging / ZIP_NAME
        if not zip_matches(zip_path, entry.record.sha256):
            return "its zip is not the one its record describes"
        tree = staging / "tree"
        why = _extract(zip_path, tree, entry.record.result.unzipped_size)
        if why:
            return why
        os.replace(zip_path, out / ZIP_NAME)
        replace_tree(tree, out / ARTIFACTS)
        local = LocalCache(out)
        local.store(key, out / ZIP_NAME, entry.record)
        return local.last() or "its record could not be written"
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def _untrusted(entry: Entry, key: str, secret: bytes | None) -> str | None:
    """Why an entry's record cannot be the build of ``key`` (None: it can)."""
    record = entry.record
    if entry.key != key or record.key != key:
        return "it answered another key"
    if secret is not None and entry.shared is None:
        return "its record is not signed (LAYERCTL_CACHE_SECRET is set)"
    if entry.shared is not None:
        shared = entry.shared
        why = signature_problem(shared, secret)
        if why:
            return why
        if shared.key != key or shared.sha256 != record.sha256 or shared.stamp != record:
            return "its record does not agree with itself"
    if record.format != STAMP_FORMAT or record.offline is None:
        return "its record is of another stamp format"
    if input_key(record.offline.material) != key or record.result.sha256 != record.sha256:
        return "its record does not agree with itself"
    return None


def _extract(zip_path: Path, tree: Path, size: int) -> str | None:
    """The zip's files into ``tree`` (``tree/python/...``, the tree the zip was made of); why
    not when it holds anything layerctl does not write (a link, a path outside ``python/``) or
    unzips to more than its record says."""
    (tree / "python").mkdir(parents=True)
    with zipfile.ZipFile(zip_path) as zf:
        infos = zf.infolist()
        if sum(i.file_size for i in infos) > min(size, UNZIPPED_LIMIT):
            return "its zip unzips to more than its record says"
        for info in infos:
            name = PurePosixPath(info.filename)
            mode = info.external_attr >> 16
            if name.is_absolute() or ".." in name.parts or name.parts[:1] != ("python",):
                return f"its zip holds {info.filename!r}, outside python/"
            if info.is_dir() or (mode and not stat.S_ISREG(mode)):
                return f"its zip holds {info.filename!r}, which is not a file"
            dest = tree.joinpath(*name.parts)
            dest.parent.mkdir(parents=True, exist_ok=True)
            with zf.open(info) as src, dest.open("xb") as fh:
                shutil.copyfileobj(src, fh)
            os.chmod(dest, 0o755 if mode & 0o100 else 0o644)
    return None
