"""A target's log (``build.log`` and the live stream) and the wall time of its phases."""

from __future__ import annotations

import time
from collections import deque
from pathlib import Path
from typing import TextIO

from ..core.events import Emit, LogLines
from ..core.fileio import create_fresh
from ..core.outputs import check_build_names
from ..core.secrets import Masker

__all__ = ["PhaseClock", "TargetLog"]


class TargetLog:
    """A target's log sink: masks secrets (they never reach build.log, the terminal or a
    report), keeps only the tail in memory, writes build.log and emits the lines.

    build.log is opened only once the target really builds (``open``): until then lines wait
    in memory, so an up-to-date target keeps the log of the build that made its zip. It is
    created afresh, never through a link or into a file someone else left at that name."""

    def __init__(self, target: str, path: Path, tail: deque[str], mask: Masker, emit: Emit) -> None:
        self.target, self.path, self.tail, self.mask, self.emit = target, path, tail, mask, emit
        self._file: TextIO | None = None
        self._pending: list[str] = []

    async def __call__(self, line: str) -> None:
        await self.batch([line])

    async def batch(self, lines: list[str]) -> None:
        lines = [self.mask(line) for line in lines]  # also when no secret is known: URLs' credentials
        self.tail.extend(lines)
        self._write(lines)
        await self.emit(LogLines(self.target, tuple(lines)))

    def record(self, line: str) -> None:
        """To build.log only (an event carries it to the reporters)."""
        self._write([self.mask(line)])

    def _write(self, lines: list[str]) -> None:
        if self._file is None:
            self._pending.extend(lines)
        else:
            self._file.write("\n".join(lines) + "\n")

    def open(self, *, empty: bool = False) -> None:
        """The target builds: its log from now on in build.log (``empty``: its directory was
        just made, so no user's entry can be in the way)."""
        if not empty:
            check_build_names(self.path.parent)  # the build writes them all: refuse before it starts
        self._open()

    def _open(self) -> None:
        if self._file is not None:
            return
        self._file = create_fresh(self.path)
        if self._pending:
            self._file.write("\n".join(self._pending) + "\n")
            self._pending.clear()

    def close(self, *, keep: bool) -> None:
        """Close build.log; ``keep``: write the lines still waiting (a target that failed
        before it built), else drop them (an up-to-date target)."""
        try:
            if keep and self._file is None and self._pending:
                self._open()
        except OSError:
            pass  # the failure is already in the result; there is just no build.log for it
        finally:
            if self._file is not None:
                self._file.close()
                self._file = None
            self._pending.clear()


class PhaseClock:
    """Wall time per phase of one target, for the report."""

    def __init__(self) -> None:
        self.phases: dict[str, float] = {}
        self._current: str | None = None
        self._since = time.monotonic()

    def enter(self, name: str) -> None:
        self.close()
        self._current, self._since = name, time.monotonic()

    def close(self) -> dict[str, float]:
        if self._current is not None:
            spent = time.monotonic() - self._since  # summed over attempts when a target is retried
            self.phases[self._current] = round(self.phases.get(self._current, 0.0) + spent, 3)
            self._current = None
        return self.phases
