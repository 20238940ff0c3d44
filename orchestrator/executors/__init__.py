"""Executors install a target's requirement set into a directory. The scheduler and the build
pipeline only know this Protocol; a new place to build (a container engine, a remote host) is one
new module here."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from ..plan import Target
from ..process import LineSink

__all__ = ["Executor", "InstallRequest"]


@dataclass(frozen=True, kw_only=True)
class InstallRequest:
    target: Target
    requirements: Path  # requirements.txt to install, as resolved for this target
    dest: Path  # the directory that becomes python/ in the zip


class Executor(Protocol):
    name: str

    async def install(self, request: InstallRequest, log: LineSink) -> dict[str, str]:
        """Install into ``request.dest``, streaming output lines to ``log``; return tool versions."""
        ...
