"""Wheels built from sdists (``building/sdists.py``) in the shared build caches, under the rules
of zips: ``built-wheels/<key>/<wheel file>`` then ``built-wheels/<key>/record.json`` (the file's
name, sha256 and size; HMAC-SHA256-signed with ``LAYERCTL_CACHE_SECRET`` when it is set), each
object created only if absent, the wheel before its record. A wheel is used only when its record
is trusted (signed with the secret, when one is set) and its bytes hash to the record's sha256;
anything else a cache does or holds is a miss (one line in the target's log), never a failure:
the wheel is compiled instead. ``cache-mode = "read"`` stores nothing."""

from __future__ import annotations

import hashlib
import hmac
import re
from collections.abc import Awaitable, Callable
from pathlib import Path

import anyio.to_thread
from pydantic import BaseModel, ConfigDict

from ...package.zip import sha256_file
from .caches import BuildCaches
from .shared import CacheProblem, SharedCache, Store

__all__ = ["SharedWheels", "WheelRecord"]

_DIRECTORY = "built-wheels"
_DOMAIN = b"layerctl-built-wheel/1\n"  # a signature of this is no signature of a layer's record
_KEY = re.compile(r"[0-9a-f]{64}")
_FILE = re.compile(r"[A-Za-z0-9_.+-]+\.whl")
_RECORD_LIMIT = 64 << 10
Note = Callable[[str], Awaitable[None]]


class WheelRecord(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    key: str
    file: str
    sha256: str
    size: int
    signature: str | None = None

    def mac(self, secret: bytes) -> str:
        message = _DOMAIN + f"{self.key}\n{self.file}\n{self.sha256}\n{self.size}\n".encode()
        return hmac.new(secret, message, hashlib.sha256).hexdigest()


class SharedWheels:
    """The shared caches of a run (``BuildCaches.shared``) as stores of built wheels."""

    def __init__(self, caches: BuildCaches) -> None:
        self.stores: list[Store] = [c.objects for c in caches.shared if isinstance(c, SharedCache)]
        self.write, self.secret = caches.write, caches.secret

    async def fetch(self, key: str, into: Path, note: Note) -> Path | None:
        """The wheel of ``key`` from the first cache that holds a good one, in ``into`` (a new
        directory's path), or None."""
        for store in self.stores:
            try:
                found = await anyio.to_thread.run_sync(self._fetch, store, key, into)
            except Exception as exc:  # a failing cache is a miss
                await note(
                    f"warning: built-wheel cache {store.name}: failed ({type(exc).__name__}: {exc}); a miss"
                )
                continue
            if isinstance(found, Path):
                await note(f"built wheel {found.name} fetched from {store.name}")
                return found
            if found:
                # the entry is there but cannot be used: named, so that it can be deleted
                await note(
                    f"warning: built-wheel cache {store.name}: entry {_DIRECTORY}/{key} rejected: {found}; a miss"
                )
        return None

    def _fetch(self, store: Store, key: str, into: Path) -> Path | str | None:
        if not _KEY.fullmatch(key):
            raise CacheProblem(f"{key!r} is not a wheel key")
        data = store.read(f"{_DIRECTORY}/{key}/record.json", _RECORD_LIMIT)
        if data is None:
            return None
        try:
            record = WheelRecord.model_validate_json(data)
        except ValueError:
            return "its record is not layerctl's"
        if record.key != key or not _FILE.fullmatch(record.file):
            return "its record names another key or no wheel file"
        if self.secret is not None and not (
            record.signature and hmac.compare_digest(record.signature, record.mac(self.secret))
        ):
            return "its record is not signed with LAYERCTL_CACHE_SECRET"
        into.mkdir(parents=True, exist_ok=True)
        wheel = into / record.file
        store.download(f"{_DIRECTORY}/{key}/{record.file}", wheel)
        if sha256_file(wheel) != record.sha256:
            wheel.unlink()
            return "its wheel does not hash to its record"
        return wheel

    async def store(self, key: str, wheel: Path, sha256: str, note: Note) -> None:
        """Keep the wheel of ``key`` in each shared cache (nothing in read mode)."""
        if not self.write:
            return
        size = (await anyio.Path(wheel).stat()).st_size
        record = WheelRecord(key=key, file=wheel.name, sha256=sha256, size=size)
        if self.secret is not None:
            record = record.model_copy(update={"signature": record.mac(self.secret)})
        for store in self.stores:
            try:
                await anyio.to_thread.run_sync(_store, store, record, wheel)
            except Exception as exc:  # a cache that cannot be written costs the next runner a compile
                await note(
                    f"warning: built-wheel cache {store.name}: cannot store ({type(exc).__name__}: {exc})"
                )


def _store(store: Store, record: WheelRecord, wheel: Path) -> None:
    name = f"{_DIRECTORY}/{record.key}/{record.file}"
    if not store.create(name, wheel, record.sha256):
        there = store.sha256_of(name)
        if there is not None and there != record.sha256:
            return  # another runner's build of the same key (not reproducible): its entry stays
    store.create(f"{_DIRECTORY}/{record.key}/record.json", record.model_dump_json().encode(), "")
