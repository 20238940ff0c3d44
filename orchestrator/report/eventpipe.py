"""The event pipe: builds emit events into an anyio memory object stream, one reporter task
consumes them in order, so builds never wait on a terminal (up to a buffer) and a reporter never
sees two events at once. A reader that goes away (`| head`) stops the output, not the builds."""

from __future__ import annotations

import os
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import anyio
from anyio.streams.memory import MemoryObjectReceiveStream

from ..core.events import Emit, Event
from .reporters import Reporter

__all__ = ["event_pipe"]

_EVENT_BUFFER = 1024  # events queued for a slow reporter before builds wait for it


@asynccontextmanager
async def event_pipe(reporter: Reporter) -> AsyncIterator[Emit]:
    """An ``emit`` whose events reach ``reporter`` in order, from one consumer task, so builds
    never wait on a terminal (up to a buffer) and a reporter never sees two events at once."""
    send, receive = anyio.create_memory_object_stream[Event](_EVENT_BUFFER)
    failure: Exception | None = None

    async def emit(event: Event) -> None:
        try:
            send.send_nowait(event)  # room in the buffer: no trip through the event loop per line
        except anyio.WouldBlock:
            await send.send(event)  # the reporter is behind: wait for it

    async with anyio.create_task_group() as tg:
        tg.start_soon(_consume, reporter, receive)
        async with send:
            try:
                yield emit
            except Exception as exc:  # re-raised below as itself, not inside an ExceptionGroup
                failure = exc
    if failure is not None:
        raise failure


async def _consume(reporter: Reporter, stream: MemoryObjectReceiveStream[Event]) -> None:
    reading = True
    async with stream:
        while True:
            try:
                event = stream.receive_nowait()
            except anyio.WouldBlock:
                if reading:
                    try:
                        reporter.flush()  # idle: push lines out now; under load they go in batches
                    except OSError:  # a closed or full output: stop showing
                        reading = False
                        _silence_stdout()
                try:
                    event = await stream.receive()
                except anyio.EndOfStream:
                    return
            except anyio.EndOfStream:
                return
            if reading:
                try:
                    await reporter.handle(event)
                except OSError:  # `| head` went away, a full disk: keep building, stop showing
                    reading = False
                    _silence_stdout()


def _silence_stdout() -> None:
    """Point stdout at /dev/null so nothing (not even the final flush) writes to a closed pipe."""
    try:
        fileno = sys.stdout.fileno()
    except (AttributeError, OSError, ValueError):  # not a real file (tests) or already closed
        return
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, fileno)
    os.close(devnull)
