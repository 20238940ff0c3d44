"""SIGINT and SIGTERM outside a run's own receiver (``fanout.signals_cancel``).

The command line installs ``on_signal`` for both as it starts (``install``) and keeps it until
the process exits: either signal ends the command as Ctrl-C does (``KeyboardInterrupt``: one
line, exit 130), never by SIGTERM's default action, which kills the process before its report
is written. Once the outcome is decided (a run's report written: ``settle``), a late signal
changes nothing: both are ignored from then on, by the kernel (``SIG_IGN``), as Python puts
back their default actions while it exits (SIGTERM's would kill the process: exit 143)."""

from __future__ import annotations

import signal
import threading
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
    """The outcome is decided (the report says it): from now on a signal is ignored, also while
    the interpreter exits (a run's receiver, if one is active, puts ``on_signal`` back as it
    ends; the command line's boundary settles again last)."""
    global _settled
    _settled = True
    if threading.current_thread() is threading.main_thread():  # the only one that may
        for signum in SIGNALS:
            signal.signal(signum, signal.SIG_IGN)
