"""`layerctl publish`: publish what the last good builds produced, without building. A target's
zip is the one its stamp records (the sha256 checked again); a target with no good build, or
whose zip changed since, fails with a line saying to build it, unless ``cache-url`` names a
shared build cache holding its key: it is then restored from there (status ``cached``,
``buildcache/restore.py``) and published. The run is the run skeleton's (``runskeleton.py``), as
a build's: report.json, the summary, ``$GITHUB_OUTPUT``."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime

import anyio
import anyio.to_thread

from ..building.buildcache import zip_matches
from ..building.buildcache.caches import BuildCaches
from ..building.buildcache.local import LocalCache
from ..building.buildcache.restore import Fingerprint
from ..building.localwheels import LocalWheels
from ..building.places import prepare_outputs
from ..building.rows import result_for
from ..core.events import GOOD, Emit, Notice, TargetFinished, TargetResult, TargetWarning
from ..core.outputs import ZIP_NAME
from ..core.secrets import Credentials, Masker
from ..plan.targets import Builder, Plan, Target
from ..publish.publisher import Publisher
from ..report.reporters import Reporter
from .skeleton import Lock, Run, RunOutcome, Turn, fan_targets, jobs_of, report_run, run_command

__all__ = ["last_good_build", "publish_plan", "publish_rows"]


def last_good_build(target: Target) -> TargetResult:
    """The row of the target's last good build (as an up-to-date target reports it), or a
    failed row saying to build it."""
    out = target.out_dir
    stamp = LocalCache(out).last()  # the build cache's entry in the target's own directory
    if stamp is None:
        return _unpublishable(target, "no good build to publish")
    if not zip_matches(out / ZIP_NAME, stamp.sha256):  # hashed, whatever its stat says
        return _unpublishable(target, f"{out / ZIP_NAME} is not the zip its last good build made")
    return result_for(target, status="up-to-date", **stamp.result_at(out))  # the workspace may have moved


async def from_cache(
    target: Target,
    caches: BuildCaches,
    local: LocalWheels,
    row: TargetResult,
    fingerprint: Fingerprint | None = None,
    *,
    emit: Emit | None = None,
) -> TargetResult:
    """The target restored from the shared build cache (a cached row), else ``row`` (its failed
    row) saying why not too: a rejected entry's reason, as build-all says it. What the caches
    said is the row's warnings, each also emitted (``emit``) as a build's are. ``fingerprint``:
    a container or hybrid target's image digest, from the run's engine."""
    from ..building.buildcache.restore import restore_from_cache
    from ..building.decide import with_builder

    notes: list[str] = []
    hit = await restore_from_cache(target, caches, local, notes, fingerprint)
    if emit is not None:
        for note in notes:
            await emit(TargetWarning(target.id, note))
    if isinstance(hit, str):
        return row.model_copy(update={"error": f"{row.error}; shared build cache: {hit}", "warnings": notes})
    fields = hit.stamp.result_at(target.out_dir)
    if hit.stamp.offline is not None:  # the builder as decided where it was built
        target = with_builder(target, hit.stamp.offline.builder, hit.stamp.offline.builder_reason)
    return result_for(target, status="cached", cache=hit.source, warnings=notes, **fields)


def _unpublishable(target: Target, why: str) -> TargetResult:
    return result_for(
        target,
        status="failed",
        error=f"{target.id}: {why}",
        exit_code=1,
        hint=f"build it first: layerctl build {target.layer.name} (or build-all --publish)",
    )


async def publish_plan(plan: Plan, reporter: Reporter, *, lock: Lock | None = None) -> tuple[RunOutcome, int]:
    """Publish each target's last good build (or, with ``cache-url``, the shared cache's), on the
    run skeleton: names, regions and credentials are checked before the run lock (``lock``, the
    CLI's) is taken and before anything is sent (a refused run writes nothing); from the lock on,
    the report included, signals end the run through its report. ``--jobs`` targets at once."""
    local = LocalWheels()
    with _closing(local):
        return await run_command(_Publish(plan, local), reporter, lock)


@dataclass
class _Publish:
    """A publish run's own steps in the skeleton (``runskeleton.Command``)."""

    plan: Plan
    local: LocalWheels
    publisher: Publisher | None = None
    caches: BuildCaches = field(default_factory=BuildCaches)
    masker: Masker = field(default_factory=Masker)
    fingerprint: Fingerprint | None = None  # a container or hybrid target's, from the engine

    async def start(self) -> None:
        from .builds import run_caches

        self.publisher = await Publisher.open(self.plan)
        credentials = Credentials.from_env()
        self.masker = Masker.for_credentials(credentials)
        self.caches = run_caches(self.plan, credentials, self.masker)

    async def work(self, run: Run) -> RunOutcome:
        if not self.caches.shared:
            return await self._each(run)
        await anyio.to_thread.run_sync(prepare_outputs, self.plan)  # restored builds are written there
        from ..building.executors import open_executors
        from .builds import executor_setup

        async def notice(message: str) -> None:
            await run.emit(Notice(self.masker(message)))

        # a container or hybrid target's key holds its image's digest: the engine is asked (the
        # image checked, pulled as a build would) only when such a target is not built here
        builders = {Builder.CONTAINER} if any(t.builder == "container" for t in self.plan.targets) else set()
        builders |= (
            {Builder.HYBRID} if any(t.builder in ("auto", "hybrid") for t in self.plan.targets) else set()
        )
        setup = executor_setup(self.plan, notice, self.masker, self.caches)
        async with open_executors(builders, setup) as executors:
            self.fingerprint = lambda target: executors[Builder(target.builder)].fingerprint(target)
            return await self._each(run)

    async def _each(self, run: Run) -> RunOutcome:
        async def each(target: Target, turn: Turn) -> TargetResult:
            return await turn(lambda: self.one(target, run.emit))

        plan = self.plan
        return await fan_targets(
            plan.targets,
            each,
            run=run,
            jobs=jobs_of(plan),
            keep_going=plan.options.keep_going,
            doing="publishing",
        )

    async def one(self, target: Target, emit: Emit) -> TargetResult:
        assert self.publisher is not None  # opened by start
        began = time.time()
        result = await anyio.to_thread.run_sync(last_good_build, target)
        if result.status == "failed" and self.caches.shared:
            result = await from_cache(target, self.caches, self.local, result, self.fingerprint, emit=emit)
        result = result.model_copy(update={"started_at": round(began, 3)})
        await emit(TargetFinished(result))
        if result.status in GOOD:
            result = await self.publisher.after_build(target, result, emit)
        return result.model_copy(update={"duration_s": round(time.time() - began, 3)})

    async def finish(self, outcome: RunOutcome, started_at: datetime) -> int:
        return await report_run(self.plan, outcome, started_at)


@contextmanager
def _closing(local: LocalWheels) -> Iterator[None]:
    try:
        yield
    finally:
        local.close()


def publish_rows(results: tuple[TargetResult, ...]) -> list[dict[str, object]]:
    """`publish --format json`: one object per target and region (a target not published at
    all, having no good build or stopped by a failure, has one with region null)."""
    rows: list[dict[str, object]] = []
    for result in results:
        for p in result.publish:
            rows.append({"target": result.id, "sha256": result.sha256, **p.model_dump(mode="json")})
        if not result.publish:
            rows.append(
                {
                    "target": result.id,
                    "region": None,
                    "status": "failed" if result.status == "failed" else "not-run",
                    "error": result.error,
                }
            )
    return rows
