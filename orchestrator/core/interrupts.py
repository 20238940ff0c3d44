"""SIGINT and SIGTERM outside a run's own receiver (``fanout.signals_cancel``).

The command line installs ``on_signal`` for both as it starts (``install``) and keeps it until
the process exits: either signal ends the command as Ctrl-C does (``KeyboardInterrupt``: one
line, exit 130), never by SIGTERM's default action, which kills the process before its report
is written. Once the outcome is decided (a run's report written: ``settle``), a late signal
changes nothing."""

from __future__ import annotations

import signal
from types import FrameType

__all__ = ["SIGNALS", "install", "on_signal", "settle"]

SIGNALS = (signal.SIGINT, signal.SIGTERM)
_settled = False


def on_signal(signum: int, frame: FrameType | None) -> None:
    if not _settled:
        raise KeyboardInterrupt


def install() -> None:
    """From now until the process exits, SIGINT and SIGTERM go through ``on_signal`` (a run's
    receiver takes them over while it runs, and gives them back)."""
    global _settled
    _settled = False
    for signum in SIGNALS:
        signal.signal(signum, on_signal)


def settle() -> None:
    """The outcome is decided (the report says it): from now on a signal is ignored."""
    global _settled
    _settled = True
