"""One build run: executors for the plan's targets, the event stream into a reporter, the
scheduler, and the report at the end. The CLI calls this; tests can too."""

from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path

import anyio
from anyio.streams.memory import MemoryObjectReceiveStream

from .errors import EXIT_BUILD_FAILED, EXIT_INTERRUPTED, EXIT_OK, EnvironmentProblem
from .events import Event
from .executors import Executor
from .executors.native import NativeExecutor
from .plan import Plan, Target
from .reporters import Reporter
from .scheduler import RunOutcome, default_jobs, run_targets

__all__ = ["exit_code_for", "report_path", "run_plan"]

_EVENT_BUFFER = 1024  # events queued for a slow reporter before builds wait for it


def executor_for(target: Target) -> Executor:
    if target.builder == "container":
        raise EnvironmentProblem(
            f"{target.id}: the container builder is not available in this version of layerctl; "
            "use --builder native"
        )
    return NativeExecutor()


def exit_code_for(outcome: RunOutcome) -> int:
    if outcome.interrupted:
        return EXIT_INTERRUPTED
    if any(r.status != "built" and r.status != "up-to-date" for r in outcome.results):
        return EXIT_BUILD_FAILED
    return EXIT_OK


def report_path(plan: Plan) -> Path:
    return plan.workspace.root / plan.options.report_dir / "report.json"


async def run_plan(
    plan: Plan, reporter: Reporter, *, keep_going: bool = False, force: bool = False
) -> tuple[RunOutcome, int]:
    from .report import write_report

    for target in plan.targets:  # fail before anything starts, not halfway through
        executor_for(target)
    jobs = plan.options.jobs or default_jobs()
    started_at = datetime.now(timezone.utc)
    send, receive = anyio.create_memory_object_stream[Event](_EVENT_BUFFER)

    async def consume(stream: MemoryObjectReceiveStream[Event]) -> None:
        async with stream:
            async for event in stream:
                await reporter.handle(event)

    async with anyio.create_task_group() as tg:
        tg.start_soon(consume, receive)
        async with send:
            outcome = await run_targets(
                plan.targets,
                executor_for=executor_for,
                emit=send.send,
                jobs=jobs,
                keep_going=keep_going,
                force=force,
            )
    code = exit_code_for(outcome)
    with anyio.CancelScope(shield=True):
        await anyio.to_thread.run_sync(
            lambda: write_report(
                report_path(plan),
                results=outcome.results,
                started_at=started_at,
                duration_s=outcome.duration_s,
                workspace=plan.workspace.root,
                jobs=jobs,
                exit_code=code,
                interrupted=outcome.interrupted,
            )
        )
    return outcome, code
