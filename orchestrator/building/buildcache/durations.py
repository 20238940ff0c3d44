"""Measured build durations kept in a shared cache, so that a fresh runner (no previous
``report.json`` in its checkout) still starts the longest targets first.

A run that built targets and may write the cache (``cache-mode = "read-write"``) stores one
document, ``durations/<workspace id>/<UTC time>-<run id>.json``: each built target's measured
seconds. It is created once and never replaced, like every object of a shared cache, and signed
(HMAC-SHA256) when ``LAYERCTL_CACHE_SECRET`` is set. A run that needs durations reads the newest
``READ`` documents of its workspace written in the last ``DAYS`` days (their names sort by
time), a newer measure winning. Older documents are never read again: an S3 lifecycle rule on
``<prefix>/durations/`` (or deleting old files of a directory cache) may expire them.

Durations only order work; they never choose what is built or shipped. So a document that
cannot be read, is not a layerctl document, holds a value that is no duration, or is unsigned
(or signed with another secret) while a secret is set, is skipped, and a cache that fails is the
same as one that holds nothing: the estimate orders those targets. They never split shards: the
``matrix`` job and each ``--shard`` job must see the same durations, which a cache written by
running shards cannot promise (``--durations`` names one file for all of them)."""

from __future__ import annotations

import hashlib
import hmac
import json
import re
from collections.abc import Mapping
from datetime import datetime, timedelta, timezone
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from .caches import BuildCaches
from .shared import SharedCache

__all__ = ["DAYS", "READ", "read_durations", "store_durations"]

READ = 20  # documents read, newest first: a CI matrix writes one per shard
DAYS = 30
_LIMIT = 4 << 20
_DAY_S = 86_400.0
_DOMAIN = b"layerctl-durations/1\n"
_TIME = "%Y%m%dT%H%M%S%fZ"  # names sort by time
_SAFE = re.compile(r"[^A-Za-z0-9._-]")


class _Document(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    format: Literal[1] = 1
    workspace: str
    durations: dict[str, float] = Field(default_factory=dict)
    signature: str | None = None

    def canonical(self) -> bytes:
        body = self.model_dump(mode="json", exclude={"signature"})
        return json.dumps(body, sort_keys=True, separators=(",", ":")).encode()


def _mac(document: _Document, secret: bytes) -> str:
    return hmac.new(secret, _DOMAIN + document.canonical(), hashlib.sha256).hexdigest()


def _prefix(workspace: str) -> str:
    return f"durations/{_SAFE.sub('-', workspace) or 'workspace'}/"


def _shared(caches: BuildCaches) -> list[SharedCache]:
    return [c for c in caches.shared if isinstance(c, SharedCache)]


def store_durations(
    caches: BuildCaches, workspace: str, run_id: str, durations: Mapping[str, float]
) -> list[str]:
    """Store a run's measured durations in each shared cache it may write; what failed, as
    warnings (never a failure of the run). Blocking."""
    measured = {k: round(v, 3) for k, v in durations.items() if 0 < v < _DAY_S}
    if not caches.write or not measured:
        return []
    document = _Document(workspace=workspace, durations=measured)
    if caches.secret is not None:
        document = document.model_copy(update={"signature": _mac(document, caches.secret)})
    when = datetime.now(timezone.utc).strftime(_TIME)
    name = f"{_prefix(workspace)}{when}-{_SAFE.sub('-', run_id)}.json"
    problems = []
    for cache in _shared(caches):
        try:
            cache.objects.create(name, document.model_dump_json().encode(), "")
        except Exception as exc:  # a failing cache costs the next run its order, nothing more
            problems.append(f"build cache {cache.name}: durations not stored ({type(exc).__name__}: {exc})")
    return problems


def read_durations(caches: BuildCaches, workspace: str) -> dict[str, float]:
    """The newest measured durations of ``workspace``'s targets in the shared caches (empty
    when there are none, or none that can be trusted). Blocking."""
    found: dict[str, float] = {}
    since = (datetime.now(timezone.utc) - timedelta(days=DAYS)).strftime(_TIME)
    for cache in reversed(_shared(caches)):  # the first cache's measures win
        try:
            names = sorted(cache.objects.names(_prefix(workspace), since))[-READ:]
        except Exception:  # a failing cache: the estimate orders those targets
            continue
        for name in names:  # oldest first: a newer measure replaces an older one
            found.update(_read(cache, name, workspace, caches.secret))
    return found


def _read(cache: SharedCache, name: str, workspace: str, secret: bytes | None) -> dict[str, float]:
    try:
        data = cache.objects.read(name, _LIMIT)
        if data is None:
            return {}
        document = _Document.model_validate_json(data)
    except Exception:  # unreadable, not a layerctl document: skipped
        return {}
    if document.workspace != workspace:
        return {}
    if secret is not None and not (
        document.signature and hmac.compare_digest(document.signature, _mac(document, secret))
    ):
        return {}
    return {k: v for k, v in document.durations.items() if 0 < v < _DAY_S}
