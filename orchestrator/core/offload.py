"""A step's blocking file work off the event loop, in one cheap thread hop.

``anyio.to_thread.run_sync`` costs a trip through the event loop, a capacity limiter, a cancel
scope and a sleeping worker woken by its own queue: about 50 µs of the loop's time and two
thread wake-ups per call, which a matrix of thousands of small targets (six steps each) pays
for nothing. ``run_sync`` here keeps its promises — the work runs to its end even when the task
is cancelled (the task then raises the cancellation, as anyio's does), and long work can stop
early (``Cancelled.check``) — over a shared thread pool whose busy workers take the next step
without sleeping. The asyncio backend is the one layerctl runs on (``fanout.signals_cancel``).

File work (walking, zipping, hashing a tree) needs a CPU, and more threads than CPUs only fight
over the GIL at every system call: its pool has one thread per CPU. Work that waits on the
network (a shared build cache) goes to a pool of its own (``waits=True``), wide enough that
every target of a run can wait at once.

``run_step`` runs work known to be small (a few files) on the event loop instead: a hop costs
more than such work, and its hand-offs of the interpreter's lock cost the loop more still. It
checkpoints first, as a hop would, so a cancellation and the other tasks' turns come between
steps as they did."""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextvars
import os
import threading
from collections.abc import Callable
from typing import TypeVar

import anyio

__all__ = ["Cancelled", "run_step", "run_sync"]

T = TypeVar("T")

_WAITING = 32  # threads of the pool for work that waits on the network
_pools: dict[bool, concurrent.futures.ThreadPoolExecutor] = {}
_lock = threading.Lock()


class Cancelled:
    """Set when the task waiting on the work is cancelled: ``check`` raises in the work then."""

    def __init__(self) -> None:
        self._set = False

    def check(self) -> None:
        if self._set:
            raise anyio.get_cancelled_exc_class()("the task waiting on this work was cancelled")


def _executor(waits: bool) -> concurrent.futures.ThreadPoolExecutor:
    with _lock:
        if waits not in _pools:
            size = _WAITING if waits else max(2, _cpus())
            name = "layerctl-waits" if waits else "layerctl-files"
            _pools[waits] = concurrent.futures.ThreadPoolExecutor(size, thread_name_prefix=name)
        return _pools[waits]


def _cpus() -> int:
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


async def run_sync(
    func: Callable[..., T], *args: object, cancelled: Cancelled | None = None, waits: bool = False
) -> T:
    """``func(*args)`` in a worker thread (``waits``: work that waits on the network). A
    cancellation of the waiting task waits for the work to end (``cancelled`` is set meanwhile,
    for work that checks it), then is raised."""
    context = contextvars.copy_context()
    work = _executor(waits).submit(context.run, func, *args)
    waiting = asyncio.wrap_future(work)
    try:
        return await waiting
    except BaseException:
        if not work.done() and not work.cancel():  # started: it runs to its end before this task goes on
            if cancelled is not None:
                cancelled._set = True
            loop, ended = asyncio.get_running_loop(), anyio.Event()
            work.add_done_callback(lambda _: loop.call_soon_threadsafe(ended.set))
            with anyio.CancelScope(shield=True):
                await ended.wait()
        raise


async def run_step(
    func: Callable[..., T], *args: object, here: bool, cancelled: Cancelled | None = None, waits: bool = False
) -> T:
    """``func(*args)`` on the event loop after a checkpoint when ``here`` (small work), else in
    a worker thread (``run_sync``)."""
    if here:
        await asyncio.sleep(0)  # anyio's checkpoint on asyncio, without finding the backend first
        return func(*args)
    return await run_sync(func, *args, cancelled=cancelled, waits=waits)
