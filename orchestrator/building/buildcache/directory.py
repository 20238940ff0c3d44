"""A directory as a shared cache's ``Store``: a shared filesystem, or a directory that CI's
cache action (``actions/cache``) restores and saves. An object is written to a temporary name
beside its place, then linked there (``os.link`` fails when the name exists: someone else
stored it, which is success), so an object is never half-written nor replaced. Objects are
read without following links."""

from __future__ import annotations

import errno
import os
import shutil
import tempfile
from pathlib import Path

from ...package.zip import sha256_file
from .shared import CacheProblem, SharedCache

__all__ = ["DirectoryStore", "directory_cache"]


class DirectoryStore:
    def __init__(self, root: Path) -> None:
        self.root = root
        self.name = str(root)

    def _path(self, name: str) -> Path:
        return self.root.joinpath(*name.split("/"))

    def read(self, name: str, limit: int) -> bytes | None:
        try:
            fd = os.open(self._path(name), os.O_RDONLY | os.O_NOFOLLOW)
        except FileNotFoundError:
            return None
        with os.fdopen(fd, "rb") as fh:
            data = fh.read(limit + 1)
        if len(data) > limit:
            raise CacheProblem(f"its {name} is larger than a record")
        return data

    def download(self, name: str, dest: Path) -> None:
        fd = os.open(self._path(name), os.O_RDONLY | os.O_NOFOLLOW)
        with os.fdopen(fd, "rb") as src, dest.open("xb") as out:
            shutil.copyfileobj(src, out, 1 << 20)

    def create(self, name: str, source: Path | bytes, sha256: str) -> bool:
        final = self._path(name)
        final.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=".tmp-", dir=final.parent)
        try:
            with os.fdopen(fd, "wb") as out:
                if isinstance(source, bytes):
                    out.write(source)
                else:
                    with source.open("rb") as src:
                        shutil.copyfileobj(src, out, 1 << 20)
                out.flush()
                os.fsync(out.fileno())
            os.chmod(tmp, 0o644)  # other runners read it
            try:
                os.link(tmp, final)
            except FileExistsError:
                return False
            except OSError as exc:
                if exc.errno in (errno.EPERM, errno.ENOTSUP, errno.EOPNOTSUPP):
                    raise CacheProblem(
                        f"{final.parent} does not support hard links, needed to write once"
                    ) from None
                raise
            return True
        finally:
            os.unlink(tmp)

    def sha256_of(self, name: str) -> str | None:
        path = self._path(name)
        return None if path.is_symlink() else sha256_file(path)

    def names(self, prefix: str, after: str) -> list[str]:
        folder = self._path(prefix.rstrip("/"))
        if folder.is_symlink() or not folder.is_dir():
            return []
        with os.scandir(folder) as entries:
            return sorted(
                prefix + e.name
                for e in entries
                if e.name > after and not e.name.startswith(".") and e.is_file(follow_symlinks=False)
            )


def directory_cache(root: Path) -> SharedCache:
    return SharedCache(DirectoryStore(root))
