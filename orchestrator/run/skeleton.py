"""The one run skeleton of the commands that run over targets: `build-all`/`build` (``run.py``),
`publish` (``publish/command.py``) and `verify` (``verify.py``). A command brings its own steps
(``Command``); the skeleton wires the rest, in this order, in one place (``run_command``):

1. every check that can refuse the run (``Command.start``): nothing is written yet;
2. the run lock (the CLI's, taken only now), then SIGINT and SIGTERM received to the end, the
   report included (``fanout.signals_cancel``): a signal cancels what runs, and the run ends
   through its report, never killed before it;
3. the event pipe into the reporter and the command's work (``Command.work``), whose fan-out over
   targets is ``fan_targets``: RunStarted, one coroutine per target (the command's) taking its
   turn ``--jobs`` at a time, fail-fast or keep-going, a row for every target that did not
   finish, RunFinished;
4. the end (``Command.finish``), still under the handlers: the report (``report_run``, for a
   command that writes one) and the exit code."""

from __future__ import annotations

import os
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Protocol, TypeVar

import anyio
import anyio.to_thread

from ..building.rows import result_for
from ..core.errors import (
    EXIT_BUILD_FAILED,
    EXIT_ENVIRONMENT,
    EXIT_INTERRUPTED,
    EXIT_OK,
    EXIT_PUBLISH,
    EXIT_USAGE,
    ReportError,
)
from ..core.events import GOOD, Emit, RunFinished, RunStarted, TargetFinished, TargetResult
from ..core.fanout import Fanned, Interrupt, fan_out, signals_cancel
from ..core.interrupts import settle
from ..plan.targets import Plan, Target
from ..report.eventpipe import event_pipe
from ..report.reporters import Reporter

__all__ = [
    "Command",
    "Lock",
    "Run",
    "RunOutcome",
    "Turn",
    "default_jobs",
    "exit_code_for",
    "failed",
    "fan_targets",
    "finish",
    "jobs_of",
    "not_run",
    "report_path",
    "report_run",
    "run_command",
]

Out = TypeVar("Out")
Lock = AbstractContextManager[object]


@dataclass(frozen=True)
class RunOutcome:
    results: tuple[TargetResult, ...]
    duration_s: float
    interrupted: bool


@dataclass(frozen=True)
class Run:
    """What the skeleton hands a command's work: the event pipe and the run's signals."""

    emit: Emit
    interrupt: Interrupt


class Command(Protocol[Out]):
    """A command's own steps; ``Out`` is what its work returns (``RunOutcome`` when it reports)."""

    async def start(self) -> None:
        """Every check that can refuse the run, before anything is written."""

    async def work(self, run: Run) -> Out:
        """The run itself, under the handlers and into the event pipe."""

    async def finish(self, outcome: Out, started_at: datetime) -> int:
        """The exit code, once the report (of a command that writes one) is written."""


async def run_command(command: Command[Out], reporter: Reporter, lock: Lock | None = None) -> tuple[Out, int]:
    """Run ``command`` through the skeleton (see the module's words); the outcome and exit code."""
    await command.start()
    with lock or nullcontext():
        async with signals_cancel() as interrupt:
            started_at = datetime.now(timezone.utc)
            async with event_pipe(reporter) as emit:
                outcome = await command.work(Run(emit, interrupt))
            return outcome, await command.finish(outcome, started_at)


def default_jobs() -> int:
    return max(1, len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1)


def jobs_of(plan: Plan) -> int:
    """Targets run at once: ``--jobs``, else the number of CPUs."""
    return plan.options.jobs or default_jobs()


# A target's turn: ``step`` runs while the target holds one of the ``--jobs`` slots.
Turn = Callable[[Callable[[], Awaitable[TargetResult]]], Awaitable[TargetResult]]


async def fan_targets(
    targets: Sequence[Target],
    work: Callable[[Target, Turn], Awaitable[TargetResult]],
    *,
    run: Run,
    jobs: int,
    keep_going: bool,
    order: Sequence[Target] | None = None,
    done: Mapping[str, TargetResult] | None = None,
    doing: str = "building",
) -> RunOutcome:
    """A row for every target, in plan order. ``work`` runs for each target of ``order`` (by
    default ``targets``; started in that order) in its own task; what it does inside its turn
    is bounded by ``jobs``, what it does outside runs beside the next target's turn (publishing
    while the next target builds). Under fail-fast, once a result fails no turn is given
    and what runs is cancelled. ``done``: rows known before the fan-out, shown first.
    ``doing``: what the run does to its targets, as the reporters' first line says it."""
    emit, interrupt = run.emit, run.interrupt
    started = time.monotonic()
    await emit(RunStarted(tuple(t.id for t in targets), jobs, doing))
    known = dict(done or {})
    for result in known.values():
        await emit(TargetFinished(result))
    items = list(targets if order is None else order)
    slots, halted, began = anyio.CapacityLimiter(jobs), anyio.Event(), dict[str, float]()

    def stops(result: TargetResult) -> bool:
        return failed(result) and not keep_going

    async def one(target: Target) -> TargetResult:
        async def turn(step: Callable[[], Awaitable[TargetResult]]) -> TargetResult:
            async with slots:
                if halted.is_set():
                    await anyio.sleep_forever()  # the fan-out is stopping and cancels this at once
                began[target.id] = time.time()
                result = await step()
                if stops(result):
                    halted.set()
            return result

        return await work(target, turn)

    fanned: Fanned[TargetResult] = Fanned()
    with interrupt.cancels():  # the slots bound the work; every target's task waits its turn
        await fan_out(items, one, limiter=max(1, len(items)), stop=stops, name=lambda t: t.id, into=fanned)
    finished = {**known, **{items[i].id: result for i, result in fanned.results.items()}}
    return await finish(targets, finished, began, emit, started, interrupt.interrupted)


async def finish(
    targets: Sequence[Target],
    finished: Mapping[str, TargetResult],
    running: Mapping[str, float],
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
            result = not_run(target, why, began=running.get(target.id))
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


def not_run(target: Target, why: str, *, began: float | None = None) -> TargetResult:
    """The row of a target that did not finish: ``cancelled`` (with when it started, Unix time,
    and how long it ran) when it had started, ``not-run`` when it never did."""
    if began is None:
        return result_for(target, status="not-run", error=why)
    ran = round(time.time() - began, 3)
    return result_for(target, status="cancelled", error=why, started_at=round(began, 3), duration_s=ran)


def exit_code_for(outcome: RunOutcome) -> int:
    if outcome.interrupted:
        return EXIT_INTERRUPTED
    if any(r.status == "failed" and r.exit_code == EXIT_ENVIRONMENT for r in outcome.results):
        return EXIT_ENVIRONMENT  # the machine lacks something (engine, image, QEMU): say so
    if any(r.status == "failed" and r.exit_code == EXIT_USAGE for r in outcome.results):
        return EXIT_USAGE  # a layer's project cannot be read: fix it
    if any(r.status not in GOOD for r in outcome.results):
        return EXIT_BUILD_FAILED
    if any(p.status == "failed" for r in outcome.results for p in r.publish):
        return EXIT_PUBLISH  # every target built; AWS refused or was out of reach
    return EXIT_OK


def report_path(plan: Plan) -> Path:
    return plan.workspace.root / plan.options.report_dir / "report.json"


async def report_run(plan: Plan, outcome: RunOutcome, started_at: datetime) -> int:
    """The run's exit code, once its report is written (and, when it published on GitHub
    Actions, the layer ARNs handed to later steps through ``$GITHUB_OUTPUT``). Called under
    the run's signal receiver: once the report is written, the outcome is decided and a late
    signal changes nothing (``interrupts.settle``)."""
    from ..report.document import write_report
    from ..report.reporters.github import write_outputs

    code = exit_code_for(outcome)
    report_error: ReportError | None = None
    with anyio.CancelScope(shield=True):
        try:
            await anyio.to_thread.run_sync(
                lambda: write_report(
                    report_path(plan),
                    results=outcome.results,
                    started_at=started_at,
                    duration_s=outcome.duration_s,
                    workspace=plan.workspace.root,
                    workspace_id=plan.workspace_id,
                    shard=plan.shard,
                    jobs=jobs_of(plan),
                    exit_code=code,
                    interrupted=outcome.interrupted,
                )
            )
            if any(r.publish for r in outcome.results):
                write_outputs(outcome.results)
            settle()
        except ReportError as exc:  # the work is done and shown: say so after it
            report_error = exc
    if report_error is not None:
        if code != EXIT_OK:  # a failed or interrupted run keeps its own code
            report_error.exit_code = code
        raise report_error
    return code
