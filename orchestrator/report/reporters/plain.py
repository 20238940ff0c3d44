"""Plain line output for logs and pipes: every line is prefixed with its target id, in the order
the lines happen, so parallel builds stay readable (and greppable) when interleaved."""

from __future__ import annotations

from typing import TextIO

from ...core.events import (
    Event,
    LogLines,
    Notice,
    PhaseStarted,
    Published,
    RunFinished,
    RunStarted,
    TargetFinished,
    TargetStarted,
    TargetWarning,
)
from .published import published_lines
from .summary import failure_blocks, finished_line, write_summary

__all__ = ["PlainReporter"]


class PlainReporter:
    """verbose -1 (-q): outcomes, failures and the summary only; 0: and every log line; 1 (-v): and
    every phase."""

    def __init__(self, out: TextIO, *, verbose: int = 0) -> None:
        self.out = out
        self.verbose = verbose
        self.width = 0

    def _write(self, target: str, text: str) -> None:
        self.out.write(f"{target.ljust(self.width)} | {text}\n")

    async def handle(self, event: Event) -> None:
        if isinstance(event, LogLines):  # by far the most frequent event: checked first
            if self.verbose >= 0:
                prefix = f"{event.target.ljust(self.width)} | "
                self.out.write("".join(f"{prefix}{line}\n" for line in event.lines))
            return
        if isinstance(event, RunStarted):
            self.width = max((len(t) for t in event.targets), default=0)
            self.out.write(f"layerctl: {event.doing} {len(event.targets)} targets, {event.jobs} at a time\n")
        elif isinstance(event, Notice):
            if self.verbose >= 0:
                self._write("layerctl", event.message)
        elif isinstance(event, TargetStarted):
            if self.verbose >= 0:
                self._write(event.target, f"started ({event.builder})")
        elif isinstance(event, PhaseStarted):
            if self.verbose > 0:
                self._write(event.target, f"-- {event.phase}")
        elif isinstance(event, TargetWarning):
            self._write(event.target, f"warning: {event.message}")
        elif isinstance(event, TargetFinished):
            self._write(event.result.id, finished_line(event.result))
        elif isinstance(event, Published):
            for line in published_lines(event.results):
                self._write(event.target, line)
        elif isinstance(event, RunFinished):
            for block in failure_blocks(event.results):
                self.out.write("\n" + "\n".join(block) + "\n")
            self.out.write("\n")
            write_summary(event.results, self.out)

    def flush(self) -> None:
        """Called when no event is waiting: lines reach a pipe promptly, yet in batches under load."""
        self.out.flush()

    def close(self) -> None:
        self.out.flush()
