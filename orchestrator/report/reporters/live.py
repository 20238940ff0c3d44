"""The live terminal view (rich): one row per target (state, builder, elapsed, last log line)
and an overall progress bar with done/total and ETA. It redraws a few times a second from a
snapshot, so a target printing thousands of lines costs one string assignment per line.
At the end it leaves the final table, each failure's last lines and hint, and the summary.
Warnings are printed above the view, to stay. -q shows only the progress bar while it runs;
-v also prints a line above the view as each target enters a phase."""

from __future__ import annotations

import threading
import time
from collections import deque
from dataclasses import dataclass
from typing import TextIO

from rich.console import Console, Group, RenderableType
from rich.live import Live
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.table import Table
from rich.text import Text

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
from .summary import failure_blocks, summary_table, where_built

__all__ = ["LiveReporter"]

_FINAL = {
    "built": "done",
    "up-to-date": "up to date",
    "cached": "cached",
    "failed": "failed",
    "cancelled": "cancelled",
    "not-run": "skipped",
}
_STYLE = {"done": "green", "up to date": "green", "cached": "green", "failed": "bold red", "cancelled": "yellow", "skipped": "dim",
          "queued": "dim"}  # fmt: skip
_ORDER = {
    "failed": 0,
    "queued": 2,
    "done": 3,
    "up to date": 3,
    "cached": 3,
    "cancelled": 3,
    "skipped": 3,
}  # running: 1


@dataclass
class _Row:
    id: str
    state: str = "queued"
    builder: str = ""
    started: float | None = None
    ended: float | None = None
    last: str = ""


class LiveReporter:
    """verbose -1 (-q): the progress bar, warnings, failures and the summary; 0: and the table of
    targets with their last log lines, and notices; 1 (-v): and a line per phase of each target."""

    def __init__(self, out: TextIO, *, verbose: int = 0) -> None:
        self.console = Console(file=out, highlight=False)  # honours NO_COLOR and the terminal size
        self.verbose = verbose
        self.rows: dict[str, _Row] = {}
        self.notices: deque[str] = deque(maxlen=2)
        self.lock = threading.Lock()  # the refresh thread renders while the event loop updates
        self.progress = Progress(
            TextColumn("[bold]layerctl"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("targets"),
            TimeElapsedColumn(),
            TextColumn("ETA"),
            TimeRemainingColumn(),
            console=self.console,
        )
        self.task = self.progress.add_task("build", total=None)
        self.live = Live(
            console=self.console,
            get_renderable=self._render,
            refresh_per_second=6,
            redirect_stdout=False,
            redirect_stderr=False,
        )
        self.started = False

    async def handle(self, event: Event) -> None:
        if isinstance(event, LogLines):
            row = self.rows.get(event.target)
            if row is not None and event.lines:
                row.last = event.lines[-1]
            return
        above: Text | None = None  # printed outside the lock: the refresh thread takes it to render
        with self.lock:
            if isinstance(event, RunStarted):
                self.rows = {t: _Row(t) for t in event.targets}
                self.progress.reset(self.task, total=len(event.targets))  # elapsed and ETA from here
                self.live.start()
                self.started = True
            elif isinstance(event, Notice) and self.verbose >= 0:
                if self.started:
                    self.notices.append(event.message)
                else:  # before the fan-out (deciding builders): a plain line
                    above = Text(f"layerctl: {event.message}")
            elif isinstance(event, TargetStarted):
                row = self.rows[event.target]
                row.state, row.builder, row.started = "starting", event.builder, time.monotonic()
            elif isinstance(event, PhaseStarted):
                self.rows[event.target].state = event.phase
                if self.verbose > 0:
                    above = Text(f"{event.target} | -- {event.phase}", style="dim")
            elif isinstance(event, TargetWarning):
                above = Text(f"{event.target} | warning: {event.message}", style="yellow")
            elif isinstance(event, Published):
                above = Text("\n".join(f"{event.target} | {line}" for line in published_lines(event.results)))
            elif isinstance(event, TargetFinished):
                result = event.result
                row = self.rows[result.id]
                row.state, row.ended = _FINAL[result.status], time.monotonic()
                row.builder = where_built(result) if result.engine else row.builder or result.builder
                if result.status == "failed":
                    row.last = result.error or ""
                elif result.status == "cached":
                    row.last = f"restored from {result.cache}"
                self.progress.advance(self.task)
        if above is not None:
            self.console.print(above)
        if isinstance(event, RunFinished):
            self.close()
            for block in failure_blocks(event.results):
                self.console.print()
                for number, line in enumerate(block):
                    self.console.print(Text(line, style="" if number else "red"))
            self.console.print()
            summary_table(event.results, self.console)

    def flush(self) -> None:
        return None  # the refresh thread draws

    def close(self) -> None:
        if self.started:
            self.started = False
            self.live.stop()  # a last refresh, cursor shown again, the view left in place

    def _render(self) -> RenderableType:
        if self.verbose < 0:
            return self.progress.get_renderable()
        with self.lock:
            rows = list(self.rows.values())
            notices = list(self.notices)
        now = time.monotonic()
        room = max(3, self.console.size.height - 6 - len(notices))
        shown = sorted(rows, key=lambda r: _ORDER.get(r.state, 1))[:room] if len(rows) > room else rows
        table = Table(box=None, pad_edge=False, expand=True, show_header=True, header_style="bold")
        table.add_column("target", no_wrap=True)
        table.add_column("state", no_wrap=True)
        table.add_column("builder", no_wrap=True)
        table.add_column("elapsed", justify="right", no_wrap=True)
        table.add_column("last line", no_wrap=True, overflow="ellipsis", ratio=1)
        for row in shown:
            elapsed = "" if row.started is None else f"{(row.ended or now) - row.started:.1f}s"
            style = _STYLE.get(row.state, "cyan")
            table.add_row(
                row.id, Text(row.state, style=style), row.builder, elapsed, Text(row.last, style="dim")
            )
        parts: list[RenderableType] = [table]
        if len(rows) > len(shown):
            parts.append(Text(f"... {len(rows) - len(shown)} more (done or queued)", style="dim"))
        parts.extend(Text(n, style="dim", no_wrap=True, overflow="ellipsis") for n in notices)
        parts.append(self.progress.get_renderable())
        return Group(*parts)
