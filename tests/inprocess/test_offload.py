"""``core/offload.run_sync``: a step's file work in a thread keeps anyio's promises — the work
runs to its end when the waiting task is cancelled, and the cancellation is raised only then;
long work that checks ``Cancelled`` stops early; the work's own exception reaches the task."""

from __future__ import annotations

import os
import threading
import time

import anyio
import pytest

from orchestrator.core.offload import Cancelled, run_step, run_sync


def test_the_work_runs_in_another_thread_and_returns_its_value() -> None:
    async def main() -> tuple[int, int]:
        return await run_sync(lambda a, b: (a + b, threading.get_ident()), 2, 3)

    value, thread = anyio.run(main)
    assert value == 5
    assert thread != threading.get_ident()


def test_the_works_exception_reaches_the_task() -> None:
    def fails() -> None:
        raise OSError(28, "No space left on device")

    async def main() -> None:
        await run_sync(fails)

    with pytest.raises(OSError, match="No space left"):
        anyio.run(main)


def test_a_cancelled_task_waits_for_the_work_to_end_then_is_cancelled() -> None:
    """As a staging tree is cleaned up only once nothing writes in it any more."""
    events: list[str] = []
    started = threading.Event()

    def slow() -> None:
        started.set()
        time.sleep(0.3)
        events.append("work ended")

    async def main() -> None:
        with anyio.CancelScope() as scope:

            async def cancel_once_started() -> None:
                await anyio.to_thread.run_sync(started.wait)
                scope.cancel()

            async with anyio.create_task_group() as tg:
                tg.start_soon(cancel_once_started)
                try:
                    await run_sync(slow)
                    events.append("returned")
                finally:
                    events.append("task went on")
        assert scope.cancelled_caught

    anyio.run(main)
    assert events == ["work ended", "task went on"]


def test_long_work_that_checks_stops_when_its_task_is_cancelled() -> None:
    cancelled = Cancelled()
    checks: list[str] = []
    started = threading.Event()

    def long(check: Cancelled) -> None:
        started.set()
        for _ in range(500):  # 5 s unless it stops
            try:
                check.check()
            except BaseException:
                checks.append("stopped")
                raise
            time.sleep(0.01)
        checks.append("ran to the end")

    async def main() -> float:
        begun = time.monotonic()
        with anyio.CancelScope() as scope:

            async def cancel_once_started() -> None:
                await anyio.to_thread.run_sync(started.wait)
                scope.cancel()

            async with anyio.create_task_group() as tg:
                tg.start_soon(cancel_once_started)
                await run_sync(long, cancelled, cancelled=cancelled)
        assert scope.cancelled_caught
        return time.monotonic() - begun

    took = anyio.run(main)
    assert checks == ["stopped"]
    assert took < 2.5


def test_work_not_started_when_its_task_is_cancelled_never_runs() -> None:
    ran: list[int] = []
    gate = threading.Event()

    async def main() -> None:
        # every thread of the files pool busy, so the next piece of work waits in the queue
        async with anyio.create_task_group() as busy:
            for _ in range(2 * (os.cpu_count() or 1) + 8):
                busy.start_soon(run_sync, gate.wait)
            await anyio.sleep(0.1)
            with anyio.move_on_after(0.1):
                await run_sync(ran.append, 1)
            gate.set()

    anyio.run(main)
    time.sleep(0.1)
    assert ran == []


def test_a_small_step_runs_on_the_loop_and_a_large_one_in_a_thread() -> None:
    async def main() -> tuple[int, int]:
        here = await run_step(threading.get_ident, here=True)
        away = await run_step(threading.get_ident, here=False)
        return here, away

    here, away = anyio.run(main)
    assert here == threading.get_ident()
    assert away != threading.get_ident()


def test_a_small_step_lets_a_cancellation_in_before_it_starts() -> None:
    ran: list[str] = []

    async def main() -> None:
        with anyio.CancelScope() as scope:
            scope.cancel()
            await run_step(lambda: ran.append("work"), here=True)
        assert scope.cancelled_caught

    anyio.run(main)
    assert ran == []
