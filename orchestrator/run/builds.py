"""`build-all` and `build` on the run skeleton (``runskeleton.py``): the checks that can refuse
the run, then, under the handlers, the places the run writes, the targets up to date
(``freshness.py``), the builders decided, the executors opened when a target needs them and the
build's fan-out (``scheduler.py``); the report. The CLI calls ``run_plan``.

A run with nothing to build (every target up to date, decided offline) imports the stages up to
the check and the report only: deciding (``decide.py``), the executors (``_executors``) and
building one target (``scheduler.run_targets``) are each imported where a target first needs them."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable, Mapping, Sequence
from contextlib import AbstractAsyncContextManager, nullcontext
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

import anyio
import anyio.to_thread

from ..building.context import BuildContext
from ..building.freshness import check_targets
from ..building.localwheels import LocalWheels
from ..building.places import cache_dir, check_outputs, prepare_outputs
from ..building.stamp import Stamp
from ..core.errors import LayerctlError
from ..core.events import Emit, Notice, TargetResult
from ..core.outputs import remove_leftovers
from ..core.run_settings import RunFlags
from ..core.secrets import Credentials, Masker
from ..plan.targets import Builder, Plan, Target
from ..report.reporters import Reporter
from .engines import selected_engines
from .scheduler import run_targets
from .skeleton import (
    Lock,
    Run,
    RunOutcome,
    exit_code_for,
    fan_targets,
    jobs_of,
    report_path,
    report_run,
    run_command,
)

if TYPE_CHECKING:
    from ..building.buildcache.caches import BuildCaches
    from ..building.executors import Executor, ExecutorSetup

__all__ = ["After", "check_start", "decide", "executor_setup", "exit_code_for", "run_caches", "run_plan"]

# The publisher's hook: a good build's result, published (``publish.publisher``).
After = Callable[[Target, TargetResult, Emit], Awaitable[TargetResult]]


async def decide(
    plan: Plan,
    credentials: Credentials,
    local: LocalWheels | None = None,
    targets: Sequence[Target] | None = None,
) -> list[Target]:
    """The targets (default: the plan's) with every `auto` builder decided (see decide.py).
    In-repo projects are built into ``local`` (the run's), else into a temporary directory."""
    from ..building.decide import decide_builders  # resolution's modules: only when a target is to build

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
    flags: RunFlags | None = None,
    *,
    credentials: Credentials | None = None,
    lock: Lock | None = None,
) -> tuple[RunOutcome, int]:
    """Build the plan's targets as ``flags`` (the command's ``RunFlags``) and ``plan.options``
    (the workspace's) say; with ``flags.publish``, each target's zip is published as soon as it
    is ready, in the target's own task (``publish/``: boto3 is imported only then). The run
    skeleton does the rest: every check that can refuse the run first (``check_start``), then
    the run lock (``lock``: the CLI's) and the handlers to the end. Targets whose inputs equal
    their last good build's are found first, before any decision, executor or network."""
    flags = flags or RunFlags()
    credentials = credentials or Credentials.from_env()
    local = LocalWheels(cache_dir(plan))  # in-repo wheels of this run, removed when it ends
    masker = Masker.for_credentials(credentials, (i for t in plan.targets for i in t.layer.indexes))
    context = BuildContext(
        workspace=plan.workspace.root,
        credentials=credentials,
        masker=masker,
        caches=run_caches(plan, credentials, masker),
        force=flags.force,
        verify_zips=flags.verify_zips,
        timeout_s=plan.options.timeout,
        retries=plan.options.retries,
        local=local,
    )
    try:
        return await run_command(_Build(plan, flags, context), reporter, lock)
    finally:
        with anyio.CancelScope(shield=True):
            await anyio.to_thread.run_sync(local.close)


def executor_setup(
    plan: Plan, notice: Callable[[str], Awaitable[None]], masker: Masker, caches: BuildCaches
) -> ExecutorSetup:
    """What the run's executors get (``executors.ExecutorSetup``), from the plan's settings."""
    from ..building.executors import ExecutorSetup

    return ExecutorSetup(
        progress=notice,
        workspace=plan.workspace.root,
        masker=masker,
        cache_dir=cache_dir(plan),
        pull=plan.options.pull,
        retries=plan.options.retries,
        keep_containers=plan.options.keep_containers,
        network=plan.options.container_network,
        caches=caches,
        engines=selected_engines(plan.workspace.engines, plan.options.engine),
    )


def run_caches(plan: Plan, credentials: Credentials, masker: Masker) -> BuildCaches:
    """The run's build caches: each target's directory, then ``cache-url``'s (``buildcache/open.py``)."""
    from ..building.buildcache.open import open_caches

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
    engines = selected_engines(plan.workspace.engines, plan.options.engine)  # --engine: of the table
    # no [tool.layerctl.engines] table: no address to check, and the executors (where the check
    # lives) stay unimported until a target builds
    if engines and any(t.builder != "native" and not t.problem for t in plan.targets):
        from .engines import check_endpoints

        check_endpoints(engines)  # each context exists and is readable
    if not publish:
        return None
    from ..publish.publisher import Publisher

    return (await Publisher.open(plan)).after_build


@dataclass
class _Build:
    """A build run's own steps in the skeleton (``runskeleton.Command``)."""

    plan: Plan
    flags: RunFlags
    context: BuildContext
    after: After | None = None

    async def start(self) -> None:
        self.after = await check_start(self.plan, self.context, publish=self.flags.publish)

    async def finish(self, outcome: RunOutcome, started_at: datetime) -> int:
        return await report_run(self.plan, outcome, started_at)

    async def work(self, run: Run) -> RunOutcome:
        plan, context, flags, emit = self.plan, self.context, self.flags, run.emit
        await anyio.to_thread.run_sync(prepare_outputs, plan)
        targets, fresh = list(plan.targets), dict[str, Stamp]()

        async def notice(message: str) -> None:
            await emit(Notice(context.masker(message)))

        with run.interrupt.cancels():
            checks = await check_targets(
                plan.targets,
                context.local,
                force=flags.force,
                refresh=flags.refresh,
                verify=flags.verify_zips,
                env_for=context.uv_env,
            )
            targets = [c.target for c in checks]
            fresh = {c.target.id: c.stamp for c in checks if c.fresh and c.stamp is not None}
            stale = [t for t in targets if t.id not in fresh]
            for target in (t for t in targets if t.id in fresh):  # what a killed run left goes here too
                await anyio.to_thread.run_sync(remove_leftovers, target.out_dir)
            undecided = sum(t.builder == "auto" and not t.problem for t in stale)
            if undecided:
                await notice(
                    f"deciding the builder of {undecided} targets (is there a wheel for everything?)"
                )
            decided = await decide(plan, context.credentials, context.local, stale) if stale else []
            by_id = {t.id: t for t in decided}
            targets = [by_id.get(t.id, t) for t in targets]
        jobs = jobs_of(plan)
        if run.interrupt.interrupted:  # every target's row says so; no executor is opened
            return await fan_targets(targets, _never, run=run, jobs=jobs, keep_going=True, order=())
        after = self.after
        building = [t for t in targets if not t.problem and t.id not in fresh]
        durations = await anyio.to_thread.run_sync(measured, plan, flags, context.caches) if building else {}
        async with self._executors(building, notice) as executors:
            outcome = await run_targets(
                targets,
                executor_for=lambda target: executors[Builder(target.builder)],
                emit=emit,
                jobs=jobs,
                context=context,
                interrupt=run.interrupt,
                keep_going=plan.options.keep_going,
                after=None if after is None else (lambda t, r: after(t, r, emit)),
                fresh=fresh,
                durations=durations,
            )
        await self._keep_durations(outcome, notice)
        return outcome

    def _executors(
        self, building: Sequence[Target], notice: Callable[[str], Awaitable[None]]
    ) -> AbstractAsyncContextManager[Mapping[Builder, Executor]]:
        """One open executor per builder of the targets to build. The executors are the stage
        after the check: imported here, when a target needs one; a run with nothing to build opens
        none and imports none (each builder's module is imported by ``open_executors``)."""
        if not building:
            return nullcontext({})
        from ..building.executors import open_executors

        setup = executor_setup(self.plan, notice, self.context.masker, self.context.caches)
        return open_executors((Builder(t.builder) for t in building), setup)

    async def _keep_durations(self, outcome: RunOutcome, notice: Callable[[str], Awaitable[None]]) -> None:
        """The measured durations of what this run built, for the next runner's order
        (``buildcache/durations.py``), when a shared cache may be written."""
        built = {r.id: r.duration_s for r in outcome.results if r.status == "built"}
        caches = self.context.caches
        if not built or not caches.shared or not caches.write or outcome.interrupted:
            return
        from ..building.buildcache.durations import store_durations

        workspace = self.plan.workspace_id
        for problem in await anyio.to_thread.run_sync(
            store_durations, caches, workspace, uuid.uuid4().hex[:12], built
        ):
            await notice(f"warning: {problem}")


def measured(plan: Plan, flags: RunFlags, caches: BuildCaches | None = None) -> dict[str, float]:
    """The durations the order goes by: ``--durations``' report, else the last run's (if any),
    else those the shared build cache keeps (``buildcache/durations.py``)."""
    from .matrix import durations_of

    if flags.durations:
        return durations_of(flags.durations)
    try:
        if report_path(plan).is_file():
            return durations_of(str(report_path(plan)))
    except LayerctlError:  # a report that cannot be read orders nothing: the estimate does
        return {}
    if caches is not None and caches.shared:
        from ..building.buildcache.durations import read_durations

        return read_durations(caches, plan.workspace_id)
    return {}


async def _never(target: Target, turn: object) -> TargetResult:
    raise AssertionError(f"{target.id}: no target runs in an interrupted run")  # pragma: no cover
