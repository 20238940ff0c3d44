"""The workspace's identity in a report: the same on every runner of a CI matrix, wherever
each checks the repository out, so that reports of one workspace can be merged and reports of
different ones are told apart. Pure."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from pathlib import Path

from .discovery import Layer

__all__ = ["workspace_id"]


def workspace_id(root: Path, layers: Iterable[Layer]) -> str:
    """``<root's name>-<12 hex digits>``: the digest of the sorted ``name=relative/path`` of every
    discovered layer (never the absolute path: each runner checks out elsewhere)."""
    lines = sorted(f"{layer.name}={_relative(layer.root, root)}" for layer in layers)
    digest = hashlib.sha256("\n".join(lines).encode("utf-8")).hexdigest()[:12]
    return f"{root.name}-{digest}"


def _relative(path: Path, root: Path) -> str:
    try:
        return path.relative_to(root).as_posix() or "."
    except ValueError:  # a layer outside the root (not one discovery makes): its own name
        return path.name
