"""A second ``BuildCache`` for tests, kept in memory: it proves the seam a shared cache (a
directory, S3) plugs into, and it can be told to fail or lie."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from orchestrator.building.buildcache import Entry
from orchestrator.building.buildcache.record import Record
from orchestrator.building.stamp import Stamp
from orchestrator.core.outputs import ZIP_NAME


class CacheDown(OSError):
    """What a cache out of reach raises."""


@dataclass
class DictCache:
    """Entries by key: the zip's bytes and its record. ``corrupt``: ``fetch`` writes other
    bytes than those stored; ``fail``: the named methods raise; ``overwrites``: ``store``
    replaces an entry (a careless implementation: the shared code must not ask it to)."""

    name: str = "a test cache"
    entries: dict[str, tuple[bytes, Stamp]] = field(default_factory=dict)
    corrupt: bool = False
    fail: frozenset[str] = frozenset()
    overwrites: bool = False
    answer: str | None = None  # the key every lookup answers with (a cache that lies)
    calls: list[str] = field(default_factory=list)

    def _call(self, method: str) -> None:
        self.calls.append(method)
        if method in self.fail:
            raise CacheDown(f"{self.name} is out of reach")

    def lookup(self, key: str) -> Entry | None:
        self._call("lookup")
        found = self.entries.get(self.answer or key)
        return None if found is None else Entry(self.answer or key, found[1])

    def fetch(self, entry: Entry, into: Path) -> None:
        self._call("fetch")
        data = self.entries[entry.key][0]
        (into / ZIP_NAME).write_bytes(data[:-1] + bytes([data[-1] ^ 1]) if self.corrupt else data)

    def store(self, key: str, zip_path: Path, record: Stamp, shared: Record | None = None) -> None:
        self._call("store")
        if key not in self.entries or self.overwrites:
            self.entries[key] = (zip_path.read_bytes(), record)
