"""The layout of a cache shared by runners, over a ``Store`` (a directory, an S3 prefix):
entries content-addressed by key, ``<key>/layer.zip`` and ``<key>/record.json``.

Each object is created only if absent (a store's ``create``: an S3 conditional write, a
directory's link), never replaced, and the zip before the record: a record never points at a
missing zip, and a reader never sees half an entry. Two runners storing the same key at once
both succeed; when the zip already there is not the one this record describes (a build that
is not reproducible), the record is not written, so the entry stays whole."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Protocol

from ...core.outputs import ZIP_NAME
from ..stamp import Stamp
from . import BuildCache, Entry
from .record import Record

__all__ = ["RECORD_NAME", "CacheProblem", "SharedCache", "Store"]

RECORD_NAME = "record.json"
_KEY = re.compile(r"[0-9a-f]{64}")
RECORD_LIMIT = 4 << 20  # a record is a few kilobytes; a larger one is not layerctl's


class CacheProblem(Exception):
    """What a shared cache holds or answers that cannot be used (a miss, said in the log)."""


class Store(Protocol):
    """Objects by name (``<key>/layer.zip``), each written once. Blocking; bounded waits."""

    name: str  # where it is, for the log (masked)

    def read(self, name: str, limit: int) -> bytes | None:
        """The object's bytes (None: absent); more than ``limit`` bytes is a ``CacheProblem``."""
        ...

    def download(self, name: str, dest: Path) -> None:
        """The object written to ``dest`` (a new file)."""
        ...

    def create(self, name: str, source: Path | bytes, sha256: str) -> bool:
        """Create the object from ``source`` unless it exists (True: created; False: it was
        there), atomically: a reader sees all of it or nothing."""
        ...

    def sha256_of(self, name: str) -> str | None:
        """The sha256 of an object this store created (None: unknown)."""
        ...

    def names(self, prefix: str, after: str) -> list[str]:
        """The names of the objects directly under ``prefix`` (it ends with ``/``) whose own
        name sorts after ``after``, sorted."""
        ...


class SharedCache:
    """A ``BuildCache`` over a ``Store``."""

    def __init__(self, store: Store) -> None:
        self.objects = store
        self.name = store.name

    def lookup(self, key: str) -> Entry | None:
        data = self.objects.read(f"{_checked(key)}/{RECORD_NAME}", RECORD_LIMIT)
        if data is None:
            return None
        try:
            record = Record.model_validate_json(data)
        except ValueError:
            raise CacheProblem(f"its {key}/{RECORD_NAME} is not a layerctl record") from None
        return Entry(key, record.stamp, record)

    def fetch(self, entry: Entry, into: Path) -> None:
        self.objects.download(f"{_checked(entry.key)}/{ZIP_NAME}", into / ZIP_NAME)

    def store(self, key: str, zip_path: Path, record: Stamp, shared: Record | None = None) -> None:
        if shared is None:
            raise CacheProblem("a shared entry needs its record")
        zip_name = f"{_checked(key)}/{ZIP_NAME}"
        if not self.objects.create(zip_name, zip_path, shared.sha256):
            there = self.objects.sha256_of(zip_name)
            if there is not None and there != shared.sha256:
                raise CacheProblem(f"it holds another zip for this key (sha256 {there[:12]}); kept as it is")
        self.objects.create(f"{key}/{RECORD_NAME}", shared.model_dump_json(indent=2).encode(), "")


def _checked(key: str) -> str:
    if not _KEY.fullmatch(key):
        raise CacheProblem(f"{key!r} is not an input key")
    return key


_IMPLEMENTS: type[BuildCache] = SharedCache  # mypy checks it keeps the interface
