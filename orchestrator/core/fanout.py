"""One way to run a piece of work over many items at once: one task group, a capacity limiter,
and an optional stop condition (fail-fast) that cancels what is running and starts nothing more.
Builds, verification, builder decisions and image checks all use it; none spawns tasks itself.

``Interrupt`` carries SIGINT/SIGTERM from the entry of a run (``signals_cancel``) to whatever
part of the run is going on, deciding included: it cancels every scope registered with it."""

from __future__ import annotations

import asyncio
import signal
import socket
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Sequence
from contextlib import asynccontextmanager, contextmanager, suppress
from dataclasses import dataclass, field
from types import FrameType
from typing import Generic, TypeVar

import anyio

from .interrupts import SIGNALS

__all__ = ["Fanned", "Interrupt", "fan_out", "signals_cancel"]

T = TypeVar("T")
R = TypeVar("R")


@dataclass
class Fanned(Generic[R]):
    """What a fan-out did: results by item index, the indexes that started, whether it stopped."""

    results: dict[int, R] = field(default_factory=dict)
    started: set[int] = field(default_factory=set)
    stopped: bool = False


async def fan_out(
    items: Sequence[T],
    work: Callable[[T], Awaitable[R]],
    *,
    limiter: anyio.CapacityLimiter | int,
    stop: Callable[[R], bool] | None = None,
    name: Callable[[T], str] = repr,
    into: Fanned[R] | None = None,
) -> Fanned[R]:
    """Run ``work`` on every item, at most ``limiter`` at once, in the items' order. When a
    result meets ``stop``, everything still running is cancelled and nothing more starts.
    ``work`` reports failures in its result; an exception it raises ends the fan-out.
    ``into`` is filled as results come, so a caller cancelled from outside still has them."""
    # a bound of at least every item never holds one back: no limiter to take and give back
    unbounded = isinstance(limiter, int) and limiter >= len(items)
    slots = anyio.CapacityLimiter(limiter) if isinstance(limiter, int) else limiter
    done: Fanned[R] = Fanned() if into is None else into
    with anyio.CancelScope() as scope:
        async with anyio.create_task_group() as tg:

            async def run(index: int, item: T) -> None:
                done.started.add(index)
                result = await work(item)
                done.results[index] = result
                if stop is not None and stop(result):
                    done.stopped = True
                    scope.cancel()  # while still holding the slot, so no queued item starts

            async def one(index: int, item: T) -> None:
                if unbounded:
                    return await run(index, item)
                async with slots:
                    await run(index, item)

            for index, item in enumerate(items):
                tg.start_soon(one, index, item, name=name(item))
    return done


class Interrupt:
    """Whether the run was interrupted, and the scopes a signal cancels."""

    def __init__(self) -> None:
        self.interrupted = False
        self._scopes: list[anyio.CancelScope] = []

    @contextmanager
    def cancels(self) -> Iterator[anyio.CancelScope]:
        """A scope that SIGINT/SIGTERM cancel (at once if one came already)."""
        with anyio.CancelScope() as scope:
            self._scopes.append(scope)
            if self.interrupted:
                scope.cancel()
            try:
                yield scope
            finally:
                self._scopes.remove(scope)

    def fire(self) -> None:
        self.interrupted = True
        for scope in self._scopes:
            scope.cancel()


@asynccontextmanager
async def signals_cancel() -> AsyncIterator[Interrupt]:
    """Receive SIGINT and SIGTERM for the whole body: each cancels the registered scopes.

    The signals reach the event loop through a wakeup descriptor (as asyncio's own handlers
    do), and as the body ends the handlers it found are put back at once: the signals never
    fall back to their default action in between (asyncio's ``remove_signal_handler`` would
    leave SIGTERM's, which kills the process before its report is written)."""
    interrupt = Interrupt()
    loop = asyncio.get_running_loop()
    wanted = {int(signum) for signum in SIGNALS}
    reader, writer = socket.socketpair()
    reader.setblocking(False)
    writer.setblocking(False)

    def receive() -> None:
        with suppress(OSError):
            for signum in reader.recv(4096):  # one byte per signal received
                if signum in wanted:
                    interrupt.fire()

    loop.add_reader(reader.fileno(), receive)
    wakeup = signal.set_wakeup_fd(writer.fileno(), warn_on_full_buffer=False)
    previous = [(signum, signal.signal(signum, _noted)) for signum in SIGNALS]
    try:
        yield interrupt
    finally:
        for signum, handler in previous:
            signal.signal(signum, signal.SIG_DFL if handler is None else handler)
        signal.set_wakeup_fd(wakeup)
        loop.remove_reader(reader.fileno())
        reader.close()
        writer.close()


def _noted(signum: int, frame: FrameType | None) -> None:
    """The signal is in the wakeup descriptor: the event loop takes it from there."""
