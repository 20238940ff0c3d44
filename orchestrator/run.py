"""One build run: decide the builders, prepare the container engine when a target needs it,
stream events into a reporter, run the scheduler, write the report. The CLI calls this."""

from __future__ import annotations

import os
import sys
import time
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

import anyio
import anyio.to_thread
from anyio.streams.memory import MemoryObjectReceiveStream

from .context import BuildContext
from .decide import decide_builders
from .errors import (
    EXIT_BUILD_FAILED,
    EXIT_ENVIRONMENT,
    EXIT_INTERRUPTED,
    EXIT_OK,
    EXIT_PUBLISH,
    EXIT_USAGE,
    ReportError,
)
from .events import Emit, Event, Notice, RunStarted
from .executors import ExecutorSetup, open_executors
from .fanout import signals_cancel
from .freshness import check_targets
from .localwheels import LocalWheels
from .places import cache_dir, prepare_outputs
from .plan import Builder, Plan, Target
from .reporters import Reporter
from .scheduler import RunOutcome, default_jobs, finish, run_targets
from .secrets import Credentials, Masker
from .stamp import Stamp

__all__ = ["event_pipe", "exit_code_for", "finish_run", "report_path", "run_plan"]

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
    if any(r.status == "failed" and r.exit_code == EXIT_ENVIRONMENT for r in outcome.results):
        return EXIT_ENVIRONMENT  # the machine lacks something (engine, image, QEMU): say so
    if any(r.status == "failed" and r.exit_code == EXIT_USAGE for r in outcome.results):
        return EXIT_USAGE  # a layer's project cannot be read: fix it
    if any(r.status not in ("built", "up-to-date") for r in outcome.results):
        return EXIT_BUILD_FAILED
    if any(p.status == "failed" for r in outcome.results for p in r.publish):
        return EXIT_PUBLISH  # every target built; AWS refused or was out of reach
    return EXIT_OK


def report_path(plan: Plan) -> Path:
    return plan.workspace.root / plan.options.report_dir / "report.json"


async def decide(
    plan: Plan,
    credentials: Credentials,
    local: LocalWheels | None = None,
    targets: Sequence[Target] | None = None,
) -> list[Target]:
    """The targets (default: the plan's) with every `auto` builder decided (see decide.py).
    In-repo projects are built into ``local`` (the run's), else into a temporary directory."""
    context = BuildContext(workspace=plan.workspace.root, credentials=credentials)
    targets = plan.targets if targets is None else targets

    if local is not None:
        return await decide_builders(targets, context.uv_env, local)
    local = LocalWheels()
    try:
        return await decide_builders(targets, context.uv_env, local)
    finally:
        with anyio.CancelScope(shield=True):
            await anyio.to_thread.run_sync(local.close)


async def run_plan(
    plan: Plan,
    reporter: Reporter,
    *,
    keep_going: bool = False,
    force: bool = False,
    timeout_s: float | None = None,
    retries: int = 0,
    credentials: Credentials | None = None,
    publish: bool = False,
    refresh: bool = False,
    verify_zips: bool = False,
) -> tuple[RunOutcome, int]:
    """Build the plan's targets; with ``publish``, each target's zip is published as soon as it
    is ready, in the target's own task (``publish/``: boto3 is imported only then). Targets
    whose inputs equal their last good build's are found first (``freshness.py``), before any
    decision, executor or network."""
    credentials = credentials or Credentials.from_env()
    local = LocalWheels(cache_dir(plan))  # in-repo wheels of this run, removed when it ends
    policy = _Policy(keep_going, force, refresh, verify_zips, timeout_s, retries, publish)
    try:
        return await _run_plan(plan, reporter, local, policy, credentials)
    finally:
        with anyio.CancelScope(shield=True):
            await anyio.to_thread.run_sync(local.close)


@dataclass(frozen=True)
class _Policy:
    keep_going: bool
    force: bool
    refresh: bool
    verify_zips: bool
    timeout_s: float | None
    retries: int
    publish: bool


async def _run_plan(
    plan: Plan, reporter: Reporter, local: LocalWheels, policy: _Policy, credentials: Credentials
) -> tuple[RunOutcome, int]:
    retries, publish = policy.retries, policy.publish
    context = BuildContext(
        workspace=plan.workspace.root,
        credentials=credentials,
        masker=Masker.for_credentials(credentials),
        force=policy.force,
        verify_zips=policy.verify_zips,
        timeout_s=policy.timeout_s,
        retries=retries,
        local=local,
    )
    for target in plan.targets:  # a bad index URL or CA bundle stops the run before it starts
        context.index_url(target)
        context.ca_bundle(target)
    after = None
    if publish:  # names, regions and credentials are checked before anything is built
        from .publish.publisher import Publisher

        after = (await Publisher.open(plan)).after_build
    await anyio.to_thread.run_sync(prepare_outputs, plan)
    jobs = plan.options.jobs or default_jobs()
    started_at = datetime.now(timezone.utc)

    started = time.monotonic()
    # signals are received from here on: Ctrl-C while builders are decided ends the run the same way
    async with signals_cancel() as interrupt, event_pipe(reporter) as emit:

        async def notice(message: str) -> None:
            await emit(Notice(context.masker(message)))

        targets, fresh = list(plan.targets), dict[str, Stamp]()
        with interrupt.cancels():
            checks = await check_targets(
                plan.targets,
                local,
                force=policy.force,
                refresh=policy.refresh,
                verify=policy.verify_zips,
                env_for=context.uv_env,
            )
            targets = [c.target for c in checks]
            fresh = {c.target.id: c.stamp for c in checks if c.fresh and c.stamp is not None}
            stale = [t for t in targets if t.id not in fresh]
            undecided = sum(t.builder == "auto" and not t.problem for t in stale)
            if undecided:
                await notice(
                    f"deciding the builder of {undecided} targets (is there a wheel for everything?)"
                )
            decided = {t.id: t for t in await decide(plan, credentials, local, stale)} if stale else {}
            targets = [decided.get(t.id, t) for t in targets]
        if interrupt.interrupted:
            await emit(RunStarted(tuple(t.id for t in targets), jobs))
            outcome = await finish(targets, {}, set(), emit, started, interrupted=True)
        else:
            setup = ExecutorSetup(
                progress=notice,
                workspace=plan.workspace.root,
                masker=context.masker,
                cache_dir=cache_dir(plan),
                pull=plan.options.pull,
                retries=retries,
                keep_containers=plan.options.keep_containers,
                network=plan.options.container_network,
            )
            # each builder's module is imported and opened only when a target needs it
            builders = (Builder(t.builder) for t in targets if not t.problem and t.id not in fresh)
            async with open_executors(builders, setup) as executors:
                outcome = await run_targets(
                    targets,
                    executor_for=lambda target: executors[Builder(target.builder)],
                    emit=emit,
                    jobs=jobs,
                    context=context,
                    interrupt=interrupt,
                    keep_going=policy.keep_going,
                    after=None if after is None else (lambda t, r: after(t, r, emit)),
                    fresh=fresh,
                )
    return outcome, await finish_run(plan, outcome, started_at, jobs)


async def finish_run(plan: Plan, outcome: RunOutcome, started_at: datetime, jobs: int) -> int:
    """The run's exit code, once its report is written (and, when it published on GitHub
    Actions, the layer ARNs handed to later steps through ``$GITHUB_OUTPUT``)."""
    from .report import write_report
    from .reporters.github import write_outputs

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
            if any(r.publish for r in outcome.results):
                write_outputs(outcome.results)
        except ReportError as exc:  # the builds are done and shown: say so after them
            report_error = exc
    if report_error is not None:
        if code != EXIT_OK:  # a failed or interrupted run keeps its own code
            report_error.exit_code = code
        raise report_error
    return code
