"""Build caches: where a target's good builds are kept and found again by their input key
(``inputkey.py``), so a target whose key was built before (here, or by another runner) is
restored instead of built.

* ``BuildCache`` (below): the interface every cache implements, and its rules;
* ``local.py``: ``LocalCache``, the target's own output directory (the stamp beside
  ``layer.zip``): the one place stamps are read and written;
* ``caches.py``: ``BuildCaches``, the caches of a run in order (the target's own directory,
  then the shared ones), and the rules enforced for every implementation: each entry
  checked before use (its signature too, with ``LAYERCTL_CACHE_SECRET``), a failing or lying
  cache a miss, write-once;
* ``record.py``: ``Record``, a shared entry's ``record.json``, and its HMAC signature;
* ``shared.py``: the layout of a shared cache (``<key>/layer.zip``, ``<key>/record.json``,
  the zip stored before the record, each created only if absent) over a ``Store``;
  ``directory.py`` (a directory: a shared filesystem, or one ``actions/cache`` restores) and
  ``s3.py`` (an S3 bucket, boto3 imported only there) are the two stores;
* ``open.py``: the run's ``BuildCaches`` from ``cache-url``, ``cache-mode`` and the secret.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from ...package.zip import sha256_file
from ..stamp import Stamp

if TYPE_CHECKING:
    from .record import Record

__all__ = ["BuildCache", "Entry", "zip_matches"]


@dataclass(frozen=True)
class Entry:
    """A cache's claim that it holds the outputs of the build of ``key``: ``record`` (a stamp:
    the zip's sha256, what the build made, what the key is made of). A claim, not yet a fact:
    nothing of it is used before the zip fetched is found to hash to ``record.sha256``."""

    key: str
    record: Stamp
    shared: Record | None = None  # a shared cache's record.json (its signature is checked)


class BuildCache(Protocol):
    """Where built outputs are kept, content-addressed by input key.

    Rules every implementation keeps (those marked * are enforced by ``caches.BuildCaches``
    for every implementation, so a new one cannot get them wrong):

    * **Content-addressed.** An entry is found by its key alone: equal keys mean an identical
      zip (``inputkey.py``), whatever layer, checkout, path or machine built it.
    * **Written once.** ``store`` of a key the cache already holds is a no-op: an entry never
      changes under a reader (a shared implementation creates an entry only if absent, atomically,
      so two runners storing the same key at once leave one whole entry) *.
    * **Verified before use.** ``fetch`` puts the entry's zip at ``into / "layer.zip"``; it is
      used only once its bytes hash to the entry's record (``zip_matches``), and only a record
      of the current stamp format whose key is the one looked up *.
    * **A failing or lying cache is a miss.** Any exception from ``lookup``, ``fetch`` or
      ``store``, a zip that does not match its record, a record of another key: the target
      builds as if the cache were empty, and the run never fails because of a cache (nor uses
      a wrong zip) *. An implementation bounds its own waits (timeouts): a slow cache is a
      failing one.
    * **Blocking.** The methods are called in a worker thread, never on the event loop.

    ``LocalCache`` (the target's output directory) holds one entry, the target's last good
    build, which the next build of the target replaces: it is the only cache that is not
    shared, and its ``store`` writes the stamp that makes the zip built in place an entry.
    """

    name: str  # for the target's log: "restored from <name>"

    def lookup(self, key: str) -> Entry | None:
        """The entry of ``key``, or None (a miss)."""
        ...

    def fetch(self, entry: Entry, into: Path) -> None:
        """Write the entry's zip to ``into / "layer.zip"`` (``into``: a new directory)."""
        ...

    def store(self, key: str, zip_path: Path, record: Stamp, shared: Record | None = None) -> None:
        """Keep ``zip_path`` (the zip of a good build of ``key``) with its ``record`` (a shared
        cache: as ``shared``, the record.json to write, signed when a secret is set); a no-op
        when the cache already holds ``key``."""
        ...


def zip_matches(path: Path, sha256: str) -> bool:
    """The check before a zip from any cache is used: a regular file, never a link, whose
    bytes hash to ``sha256``."""
    try:
        return not path.is_symlink() and path.is_file() and sha256_file(path) == sha256
    except OSError:
        return False
