"""The run's build caches from its settings: ``cache-url`` (``s3://bucket/prefix``, or a
directory: relative to the workspace root), ``cache-mode`` (``read-write``, ``read``, ``off``)
and the secret ``LAYERCTL_CACHE_SECRET`` (``secrets.Credentials``: from the environment only,
never in a file, a flag, a log or a report; the run's masker masks it). Nothing is contacted
here: the first target that asks does."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import urlsplit

from ...core.secrets import Masker
from .caches import BuildCaches

__all__ = ["open_caches"]


def open_caches(
    url: str | None, mode: str, workspace: Path, *, secret: str | None = None, masker: Masker | None = None
) -> BuildCaches:
    """The target's directory, then the shared cache ``url`` names (none: ``mode`` off, or no url)."""
    if not url or mode == "off":
        return BuildCaches()
    mask = masker or Masker()
    if url.startswith("s3://"):
        from .s3 import s3_cache

        parts = urlsplit(url)
        cache = s3_cache(parts.netloc, parts.path, mask(url))
    else:
        from .directory import directory_cache

        root = (workspace / url).absolute()
        cache = directory_cache(root)
        cache.name = mask(str(root))
    return BuildCaches(
        shared=(cache,), write=mode == "read-write", secret=secret.encode() if secret else None
    )
