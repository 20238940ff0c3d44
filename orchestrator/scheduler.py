"""Running many targets at once: one task group, a capacity limiter, fail-fast or keep-going,
and clean cancellation (SIGINT/SIGTERM cancel every build; each cleans up in a shielded finally)."""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import anyio

from .build import BuildContext, build_target, result_for
from .errors import EnvironmentProblem
from .events import Emit, RunFinished, RunStarted, TargetFinished, TargetResult
from .executors import Executor
from .plan import Target
from .runtimes import Arch

__all__ = ["RunOutcome", "default_jobs", "run_targets"]


@dataclass(frozen=True)
class RunOutcome:
    results: tuple[TargetResult, ...]
    duration_s: float
    interrupted: bool
    fatal: EnvironmentProblem | None = None  # stopped the whole run (engine, image, QEMU)


def default_jobs() -> int:
    return max(1, len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1)


def _slowest_first(targets: Sequence[Target]) -> list[Target]:
    """Start the slow targets first (arm64 under emulation, containers) so they do not end last."""
    return sorted(targets, key=lambda t: (t.builder != "container", t.arch is not Arch.ARM64))


async def run_targets(
    targets: Sequence[Target],
    *,
    executor_for: Callable[[Target], Executor],
    emit: Emit,
    jobs: int,
    context: BuildContext,
    keep_going: bool = False,
) -> RunOutcome:
    started = time.monotonic()
    results: dict[str, TargetResult] = {}
    limiter = anyio.CapacityLimiter(jobs)
    running: set[str] = set()
    interrupted = False
    fatal: EnvironmentProblem | None = None
    await emit(RunStarted(tuple(t.id for t in targets), jobs))

    async with anyio.create_task_group() as tg:

        async def watch_signals() -> None:
            nonlocal interrupted
            with anyio.open_signal_receiver(signal.SIGINT, signal.SIGTERM) as signals:
                async for _ in signals:
                    interrupted = True
                    builds.cancel()
                    return

        async def one(target: Target) -> None:
            nonlocal fatal
            async with limiter:
                running.add(target.id)
                try:
                    result = await build_target(target, executor_for(target), emit, context)
                except EnvironmentProblem as exc:  # every target would meet it: stop, keep-going or not
                    fatal = fatal or exc
                    builds.cancel()
                    return
                results[target.id] = result
                if result.status == "failed" and not keep_going:
                    builds.cancel()  # while still holding the slot, so no queued target starts

        with anyio.CancelScope() as builds:
            async with anyio.create_task_group() as inner:
                for target in _slowest_first(targets):
                    inner.start_soon(one, target, name=target.id)
                tg.start_soon(watch_signals)
        tg.cancel_scope.cancel()

    ordered = []
    for target in targets:
        result = results.get(target.id)
        if result is None:
            status = "cancelled" if target.id in running else "not-run"
            why = "interrupted" if interrupted else fatal.message if fatal else "stopped after a failure"
            result = result_for(target, status=status, error=why)
            with anyio.CancelScope(shield=True):
                await emit(TargetFinished(result))
        ordered.append(result)
    outcome = RunOutcome(tuple(ordered), round(time.monotonic() - started, 3), interrupted, fatal)
    with anyio.CancelScope(shield=True):
        await emit(RunFinished(outcome.results, outcome.duration_s))
    return outcome
