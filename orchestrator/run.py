"""One build run: decide the builders, prepare the container engine when a target needs it,
stream events into a reporter, run the scheduler, write the report. The CLI calls this."""

from __future__ import annotations

import os
import sys
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from datetime import datetime, timezone
from pathlib import Path

import anyio
import anyio.to_thread
from anyio.streams.memory import MemoryObjectReceiveStream

from .build import BuildContext
from .decide import decide_builders
from .errors import EXIT_BUILD_FAILED, EXIT_INTERRUPTED, EXIT_OK, ReportError
from .events import Emit, Event, Notice
from .executors import Executor
from .executors.native import NativeExecutor, uv_environment
from .plan import Plan, Target
from .reporters import Reporter
from .scheduler import RunOutcome, default_jobs, run_targets
from .secrets import Credentials, Masker

__all__ = ["cache_dir", "event_pipe", "exit_code_for", "report_path", "run_plan"]

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


def exit_code_for(outcome: RunOutcome) -> int:
    if outcome.interrupted:
        return EXIT_INTERRUPTED
    if outcome.fatal is not None:
        return outcome.fatal.exit_code
    if any(r.status not in ("built", "up-to-date") for r in outcome.results):
        return EXIT_BUILD_FAILED
    return EXIT_OK


def report_path(plan: Plan) -> Path:
    return plan.workspace.root / plan.options.report_dir / "report.json"


def cache_dir(plan: Plan) -> Path:
    if plan.options.cache_dir:
        return (plan.workspace.root / plan.options.cache_dir).resolve()
    return Path.home() / ".cache" / "layerctl"


async def decide(plan: Plan, credentials: Credentials) -> list[Target]:
    """The plan's targets with every `auto` builder decided (see decide.py)."""
    context = BuildContext(workspace=plan.workspace.root, credentials=credentials)

    def env_for(target: Target) -> dict[str, str]:
        return uv_environment(context.index_url(target), context.ca_bundle(target))

    return await decide_builders(plan.targets, env_for)


async def run_plan(
    plan: Plan,
    reporter: Reporter,
    *,
    keep_going: bool = False,
    force: bool = False,
    timeout_s: float | None = None,
    retries: int = 0,
    credentials: Credentials | None = None,
) -> tuple[RunOutcome, int]:
    from .report import write_report

    credentials = credentials or Credentials.from_env()
    context = BuildContext(
        workspace=plan.workspace.root,
        credentials=credentials,
        masker=Masker.for_credentials(credentials),
        force=force,
        timeout_s=timeout_s,
        retries=retries,
    )
    for target in plan.targets:  # a bad index URL or CA bundle stops the run before it starts
        context.index_url(target)
        context.ca_bundle(target)
    jobs = plan.options.jobs or default_jobs()
    started_at = datetime.now(timezone.utc)

    async with event_pipe(reporter) as emit:

        async def notice(message: str) -> None:
            await emit(Notice(context.masker(message)))

        undecided = sum(t.builder == "auto" for t in plan.targets)
        if undecided:
            await notice(f"deciding the builder of {undecided} targets (is there a wheel for everything?)")
        targets = await decide(plan, credentials)
        async with AsyncExitStack() as stack:
            native = NativeExecutor()
            container: Executor | None = None
            if any(t.builder == "container" for t in targets):
                # imported only when a target needs it: aiodocker/aiohttp are a third of start-up
                from .executors.docker import ContainerExecutor, DockerEngine

                engine = await stack.enter_async_context(
                    DockerEngine(keep_containers=plan.options.keep_containers, pull_retries=retries)
                )
                # each target checks (once per run) only its own image: builds start while others are checked
                container = ContainerExecutor(
                    engine, cache_dir=cache_dir(plan), pull=plan.options.pull, progress=notice
                )

            def executor_for(target: Target) -> Executor:
                return container if target.builder == "container" and container else native

            outcome = await run_targets(
                targets,
                executor_for=executor_for,
                emit=emit,
                jobs=jobs,
                context=context,
                keep_going=keep_going,
            )
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
                    jobs=jobs,
                    exit_code=code,
                    interrupted=outcome.interrupted,
                )
            )
        except ReportError as exc:  # the builds are done and shown: say so after them
            report_error = exc
    if outcome.fatal is not None:
        raise outcome.fatal
    if report_error is not None:
        if code != EXIT_OK:  # a failed or interrupted run keeps its own code
            report_error.exit_code = code
        raise report_error
    return outcome, code
