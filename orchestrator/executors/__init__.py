"""Executors install a target's requirement set into a directory. The scheduler and the build
pipeline only know this Protocol; a new place to build (a remote host, another engine) is one
new module here."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from ..plan import Target
from ..process import BatchSink

__all__ = ["Executor", "InstallOutcome", "InstallRequest"]


@dataclass(frozen=True, kw_only=True)
class InstallRequest:
    target: Target
    requirements: Path  # requirements.txt to install, as resolved for this target
    dest: Path  # the directory that becomes python/ in the zip
    index_url: str | None = field(default=None, repr=False)  # may hold credentials: env only
    ca_bundle: Path | None = None


@dataclass(frozen=True, kw_only=True)
class InstallOutcome:
    tool_versions: dict[str, str]
    image: str | None = None
    image_id: str | None = None


class Executor(Protocol):
    name: str

    async def fingerprint(self, target: Target) -> str:
        """What about this executor decides the bytes it installs (tool versions, image id):
        part of the target's up-to-date key."""
        ...

    async def install(self, request: InstallRequest, log: BatchSink) -> InstallOutcome:
        """Install into ``request.dest``, streaming output lines to ``log``."""
        ...
