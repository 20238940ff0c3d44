"""One build run: decide the builders, prepare the container engine when a target needs it,
stream events into a reporter, run the scheduler, write the report. The CLI calls this."""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable, Sequence
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

import anyio
import anyio.to_thread

from .buildcache.caches import BuildCaches
from .context import BuildContext
from .errors import (
    EXIT_BUILD_FAILED,
    EXIT_ENVIRONMENT,
    EXIT_INTERRUPTED,
    EXIT_OK,
    EXIT_PUBLISH,
    EXIT_USAGE,
    ReportError,
)
from .eventpipe import event_pipe
from .events import GOOD, Emit, Notice, RunStarted, TargetResult
from .executors import ExecutorSetup, open_executors
from .fanout import Interrupt, signals_cancel
from .freshness import check_targets
from .interrupts import settle
from .localwheels import LocalWheels
from .outputs import remove_leftovers
from .places import cache_dir, check_outputs, prepare_outputs
from .plan import Builder, Plan, Target
from .reporters import Reporter
from .scheduler import RunOutcome, default_jobs, finish, run_targets
from .secrets import Credentials, Masker
from .stamp import Stamp

__all__ = ["After", "check_start", "exit_code_for", "finish_run", "report_path", "run_caches", "run_plan"]

# The publisher's hook: a good build's result, published (``publish.publisher``).
After = Callable[[Target, TargetResult, Emit], Awaitable[TargetResult]]


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


async def decide(
    plan: Plan,
    credentials: Credentials,
    local: LocalWheels | None = None,
    targets: Sequence[Target] | None = None,
) -> list[Target]:
    """The targets (default: the plan's) with every `auto` builder decided (see decide.py).
    In-repo projects are built into ``local`` (the run's), else into a temporary directory."""
    from .decide import decide_builders  # resolution's modules: only when a target is to build

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
    lock: AbstractContextManager[object] | None = None,
) -> tuple[RunOutcome, int]:
    """Build the plan's targets; with ``publish``, each target's zip is published as soon as it
    is ready, in the target's own task (``publish/``: boto3 is imported only then). Every check
    that can refuse the run comes first (``check_start``): a refused run writes nothing. Then
    the run lock (``lock``: the CLI's) is taken and, from there to the end, the report
    included, SIGINT and SIGTERM end the run through its report. Targets whose inputs equal
    their last good build's are found first (``freshness.py``), before any decision, executor
    or network."""
    credentials = credentials or Credentials.from_env()
    local = LocalWheels(cache_dir(plan))  # in-repo wheels of this run, removed when it ends
    policy = _Policy(keep_going, force, refresh, verify_zips, timeout_s, retries, publish)
    masker = Masker.for_credentials(credentials, (i for t in plan.targets for i in t.layer.indexes))
    context = BuildContext(
        workspace=plan.workspace.root,
        credentials=credentials,
        masker=masker,
        caches=run_caches(plan, credentials, masker),
        force=policy.force,
        verify_zips=policy.verify_zips,
        timeout_s=policy.timeout_s,
        retries=retries,
        local=local,
    )
    try:
        after = await check_start(plan, context, publish=publish)
        with lock or nullcontext():
            async with signals_cancel() as interrupt:
                await anyio.to_thread.run_sync(prepare_outputs, plan)
                jobs = plan.options.jobs or default_jobs()
                started_at, started = datetime.now(timezone.utc), time.monotonic()
                async with event_pipe(reporter) as emit:
                    run = _Run(plan, context, policy, interrupt, emit, after)
                    outcome = await run.targets(jobs, started)
                return outcome, await finish_run(plan, outcome, started_at, jobs)
    finally:
        with anyio.CancelScope(shield=True):
            await anyio.to_thread.run_sync(local.close)


def run_caches(plan: Plan, credentials: Credentials, masker: Masker) -> BuildCaches:
    """The run's build caches: each target's directory, then ``cache-url``'s (``buildcache/open.py``)."""
    from .buildcache.open import open_caches

    options = plan.options
    return open_caches(
        options.cache_url,
        options.cache_mode,
        plan.workspace.root,
        secret=credentials.cache_secret,
        masker=masker,
    )


async def check_start(plan: Plan, context: BuildContext, *, publish: bool) -> After | None:
    """Every check that can refuse the run, before anything is written: each target's index
    URLs (credentials without an index) and CA bundle, every place the run writes
    (``places.check_outputs``: SOURCE_DATE_EPOCH, outputs, cache-dir) and, when publishing,
    names, regions and credentials (the publisher's hook is returned)."""
    for target in plan.targets:
        context.index_url(target)
        context.ca_bundle(target)
    await anyio.to_thread.run_sync(check_outputs, plan)
    if not publish:
        return None
    from .publish.publisher import Publisher

    return (await Publisher.open(plan)).after_build


@dataclass(frozen=True)
class _Policy:
    keep_going: bool
    force: bool
    refresh: bool
    verify_zips: bool
    timeout_s: float | None
    retries: int
    publish: bool


@dataclass(frozen=True)
class _Run:
    plan: Plan
    context: BuildContext
    policy: _Policy
    interrupt: Interrupt
    emit: Emit
    after: After | None

    async def notice(self, message: str) -> None:
        await self.emit(Notice(self.context.masker(message)))

    async def targets(self, jobs: int, started: float) -> RunOutcome:
        plan, context, policy, interrupt, emit = (
            self.plan,
            self.context,
            self.policy,
            self.interrupt,
            self.emit,
        )
        local = context.local
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
            for target in (t for t in targets if t.id in fresh):  # what a killed run left goes here too
                await anyio.to_thread.run_sync(remove_leftovers, target.out_dir)
            undecided = sum(t.builder == "auto" and not t.problem for t in stale)
            if undecided:
                await self.notice(
                    f"deciding the builder of {undecided} targets (is there a wheel for everything?)"
                )
            decided = (
                {t.id: t for t in await decide(plan, context.credentials, local, stale)} if stale else {}
            )
            targets = [decided.get(t.id, t) for t in targets]
        if interrupt.interrupted:
            await emit(RunStarted(tuple(t.id for t in targets), jobs))
            return await finish(targets, {}, set(), emit, started, interrupted=True)
        setup = ExecutorSetup(
            progress=self.notice,
            workspace=plan.workspace.root,
            masker=context.masker,
            cache_dir=cache_dir(plan),
            pull=plan.options.pull,
            retries=policy.retries,
            keep_containers=plan.options.keep_containers,
            network=plan.options.container_network,
        )
        after = self.after
        # each builder's module is imported and opened only when a target needs it
        builders = (Builder(t.builder) for t in targets if not t.problem and t.id not in fresh)
        async with open_executors(builders, setup) as executors:
            return await run_targets(
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


async def finish_run(plan: Plan, outcome: RunOutcome, started_at: datetime, jobs: int) -> int:
    """The run's exit code, once its report is written (and, when it published on GitHub
    Actions, the layer ARNs handed to later steps through ``$GITHUB_OUTPUT``). Called under
    the run's signal receiver: once the report is written, the outcome is decided and a late
    signal changes nothing (``interrupts.settle``)."""
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
            settle()
        except ReportError as exc:  # the builds are done and shown: say so after them
            report_error = exc
    if report_error is not None:
        if code != EXIT_OK:  # a failed or interrupted run keeps its own code
            report_error.exit_code = code
        raise report_error
    return code
