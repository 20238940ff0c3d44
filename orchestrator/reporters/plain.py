"""Plain line output for logs and pipes: every line is prefixed with its target id, in the order
the lines happen, so parallel builds stay readable (and greppable) when interleaved."""

from __future__ import annotations

from typing import TextIO

from rich.console import Console
from rich.table import Table

from ..events import (
    Event,
    LogLine,
    Notice,
    PhaseStarted,
    RunFinished,
    RunStarted,
    TargetFinished,
    TargetResult,
    TargetStarted,
    Warning,
)

__all__ = ["PlainReporter", "summary_table"]

_MARK = {
    "built": "ok",
    "up-to-date": "ok",
    "failed": "FAILED",
    "cancelled": "cancelled",
    "not-run": "not run",
}


def _mb(size: int | None) -> str:
    return "-" if size is None else f"{size / 1e6:.1f} MB"


class PlainReporter:
    def __init__(self, out: TextIO, *, verbose: int = 0) -> None:
        self.out = out
        self.verbose = verbose
        self.width = 0

    def _write(self, target: str, text: str) -> None:
        self.out.write(f"{target.ljust(self.width)} | {text}\n")
        self.out.flush()

    async def handle(self, event: Event) -> None:
        if isinstance(event, RunStarted):
            self.width = max((len(t) for t in event.targets), default=0)
            self.out.write(f"layerctl: building {len(event.targets)} targets, {event.jobs} at a time\n")
        elif isinstance(event, Notice):
            self.out.write(f"{'layerctl'.ljust(self.width)} | {event.message}\n")
            self.out.flush()
        elif isinstance(event, TargetStarted):
            self._write(event.target, f"started ({event.builder})")
        elif isinstance(event, PhaseStarted):
            if self.verbose:
                self._write(event.target, f"-- {event.phase}")
        elif isinstance(event, LogLine):
            self._write(event.target, event.line)
        elif isinstance(event, Warning):
            self._write(event.target, f"warning: {event.message}")
        elif isinstance(event, TargetFinished):
            self._write(event.result.id, _finished_line(event.result))
        elif isinstance(event, RunFinished):
            summary_table(event.results, Console(file=self.out, width=120, highlight=False))


def _finished_line(result: TargetResult) -> str:
    if result.status == "built":
        return f"built in {result.duration_s:.1f}s: {_mb(result.zipped_size)} zip, sha256 {result.sha256}"
    if result.status == "up-to-date":
        return f"up to date: {_mb(result.zipped_size)} zip, sha256 {result.sha256}"
    if result.status == "failed":
        return f"FAILED: {result.error} (log: {result.log})"
    return f"{_MARK[result.status]}: {result.error or ''}".rstrip(": ")


def summary_table(results: tuple[TargetResult, ...], console: Console) -> None:
    table = Table(title="layerctl summary", title_justify="left")
    for column in ("target", "builder", "status", "time", "unzipped", "zip", "sha256"):
        table.add_column(column, justify="right" if column in ("time", "unzipped", "zip") else "left")
    for r in results:
        table.add_row(
            r.id,
            r.builder,
            _MARK[r.status] if r.status != "up-to-date" else "up to date",
            f"{r.duration_s:.1f}s",
            _mb(r.unzipped_size),
            _mb(r.zipped_size),
            (r.sha256 or "")[:12],
        )
    console.print(table)
