"""Reporters consume the event stream and present it; they never build anything.

``make_reporter`` picks one: GitHub Actions groups when ``GITHUB_ACTIONS=true``, the live view
on a terminal, prefixed plain lines otherwise; ``--log-format`` overrides the choice."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Literal, Protocol, TextIO

from ...core.events import Event

__all__ = ["LogFormat", "Reporter", "choose_format", "make_reporter"]

LogFormat = Literal["auto", "live", "plain", "github", "json"]


class Reporter(Protocol):
    async def handle(self, event: Event) -> None: ...

    def flush(self) -> None:
        """No event is waiting: push out what is buffered."""
        ...

    def close(self) -> None:
        """Leave the terminal clean (called on every exit path, Ctrl-C included)."""
        ...


def choose_format(requested: LogFormat, out: TextIO) -> LogFormat:
    if requested != "auto":
        return requested
    if os.environ.get("GITHUB_ACTIONS") == "true":
        return "github"
    if out.isatty() and os.environ.get("TERM") != "dumb":
        return "live"
    return "plain"


def make_reporter(
    requested: LogFormat = "auto",
    *,
    verbose: int = 0,
    out: TextIO | None = None,
    workspace: Path | None = None,
) -> Reporter:
    """verbose: -1 quiet (results and failures only), 0 normal, 1+ every phase."""
    out = out or sys.stdout
    chosen = choose_format(requested, out)
    if chosen == "live":
        from .live import LiveReporter

        return LiveReporter(out, verbose=verbose)
    if chosen == "github":
        from .github import GitHubReporter

        return GitHubReporter(out, verbose=verbose, workspace=workspace)
    if chosen == "json":
        from .jsonl import JsonReporter

        return JsonReporter(out)
    from .plain import PlainReporter

    return PlainReporter(out, verbose=verbose)
