"""Running the targets of a run: the fan-out over them (``--jobs`` at a time), fail-fast or
keep-going, and the rows of targets that did not finish. Signals are received at the entry of
the run (``fanout.signals_cancel``); each build cleans up in a shielded finally when cancelled."""

from __future__ import annotations

import os
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass

import anyio

from .build import build_target, result_for, up_to_date_row
from .context import BuildContext
from .errors import EXIT_USAGE
from .events import GOOD, Emit, RunFinished, RunStarted, TargetFinished, TargetResult
from .executors import Executor
from .fanout import Fanned, Interrupt, fan_out
from .plan import Target
from .stamp import Stamp

__all__ = [
    "AfterBuild",
    "RunOutcome",
    "broken_layer",
    "default_jobs",
    "failed",
    "finish",
    "not_run",
    "run_targets",
]

# Work on a target's good zip in the target's own task, as soon as it is ready (publishing).
AfterBuild = Callable[[Target, TargetResult], Awaitable[TargetResult]]


@dataclass(frozen=True)
class RunOutcome:
    results: tuple[TargetResult, ...]
    duration_s: float
    interrupted: bool


def default_jobs() -> int:
    return max(1, len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1)


def _slowest_first(targets: Sequence[Target], executor_for: Callable[[Target], Executor]) -> list[Target]:
    """Start the slow targets first (containers, arm64 under emulation) so they do not end last."""
    return sorted(targets, key=lambda t: -executor_for(t).cost(t))


async def run_targets(
    targets: Sequence[Target],
    *,
    executor_for: Callable[[Target], Executor],
    emit: Emit,
    jobs: int,
    context: BuildContext,
    interrupt: Interrupt,
    keep_going: bool = False,
    after: AfterBuild | None = None,
    fresh: Mapping[str, Stamp] | None = None,
) -> RunOutcome:
    """Build the targets, ``jobs`` at a time. ``after`` runs on each good result in the same
    task, outside the build slot: the next build starts while this target's zip is published.
    Targets in ``fresh`` (found up to date before the run decided anything) are reported from
    their stamps, without an executor."""
    fresh = fresh or {}
    started = time.monotonic()
    await emit(RunStarted(tuple(t.id for t in targets), jobs))
    # a layer whose project cannot be read fails its targets at once, and stops no other layer
    broken = {t.id: broken_layer(t) for t in targets if t.problem}
    for result in broken.values():
        await emit(TargetFinished(result))
    ready = [t for t in targets if t.id in fresh]
    order = ready + _slowest_first([t for t in targets if not t.problem and t.id not in fresh], executor_for)
    slots = anyio.CapacityLimiter(jobs)
    began: set[str] = set()
    halted = anyio.Event()  # a build failed under fail-fast: no queued target starts

    async def build(target: Target) -> TargetResult:
        if target.id in fresh:
            result = up_to_date_row(target, fresh[target.id])
            await emit(TargetFinished(result))
            return await after(target, result) if after is not None else result
        async with slots:
            if halted.is_set():
                await anyio.sleep_forever()  # the fan-out is stopping and cancels this at once
            began.add(target.id)
            result = await build_target(target, executor_for(target), emit, context)
            if stops(result):
                halted.set()
        if after is not None and result.status in GOOD:
            result = await after(target, result)
        return result

    def stops(result: TargetResult) -> bool:
        return failed(result) and not keep_going

    fanned: Fanned[TargetResult] = Fanned()
    with interrupt.cancels():  # the slots bound the builds; every target's task waits its turn
        await fan_out(order, build, limiter=max(1, len(order)), stop=stops, name=lambda t: t.id, into=fanned)
    finished = {**broken, **{order[i].id: result for i, result in fanned.results.items()}}
    running = {target.id for target in order if target.id in began}
    return await finish(targets, finished, running, emit, started, interrupt.interrupted)


async def finish(
    targets: Sequence[Target],
    finished: dict[str, TargetResult],
    running: set[str],
    emit: Emit,
    started: float,
    interrupted: bool,
) -> RunOutcome:
    """The run's outcome in plan order: a row for every target, also those that did not finish."""
    ordered = []
    for target in targets:
        result = finished.get(target.id)
        if result is None:
            why = "interrupted" if interrupted else "stopped after a failure"
            result = not_run(target, why, cancelled=target.id in running)
            with anyio.CancelScope(shield=True):
                await emit(TargetFinished(result))
        ordered.append(result)
    outcome = RunOutcome(tuple(ordered), round(time.monotonic() - started, 3), interrupted)
    with anyio.CancelScope(shield=True):
        await emit(RunFinished(outcome.results, outcome.duration_s))
    return outcome


def failed(result: TargetResult) -> bool:
    """The target failed, or publishing it failed in a region."""
    return result.status == "failed" or any(p.status == "failed" for p in result.publish)


def not_run(target: Target, why: str, *, cancelled: bool = False) -> TargetResult:
    return result_for(target, status="cancelled" if cancelled else "not-run", error=why)


def broken_layer(target: Target) -> TargetResult:
    """The row of a target whose layer project cannot be read: its problem, exit code 2."""
    return result_for(target, status="failed", error=target.problem, exit_code=EXIT_USAGE)
