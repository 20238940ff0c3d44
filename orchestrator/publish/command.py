"""`layerctl publish`: publish what the last good builds produced, without building. A target's
zip is the one its stamp records (the sha256 checked again); a target with no good build, or
whose zip changed since, fails with a line saying to build it, unless ``cache-url`` names a
shared build cache holding its key: it is then restored from there (status ``cached``,
``buildcache/restore.py``) and published. The run reports and ends like a build
(``run.finish_run``): report.json, the summary, ``$GITHUB_OUTPUT``."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager, nullcontext
from datetime import datetime, timezone

import anyio
import anyio.to_thread

from ..build import result_for
from ..buildcache import zip_matches
from ..buildcache.caches import BuildCaches
from ..buildcache.local import LocalCache
from ..eventpipe import event_pipe
from ..events import GOOD, RunStarted, TargetFinished, TargetResult
from ..fanout import Fanned, fan_out, signals_cancel
from ..localwheels import LocalWheels
from ..outputs import ZIP_NAME
from ..places import prepare_outputs
from ..plan import Plan, Target
from ..reporters import Reporter
from ..run import finish_run, run_caches
from ..scheduler import RunOutcome, default_jobs, failed, finish
from ..secrets import Credentials, Masker
from .publisher import Publisher

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
    target: Target, caches: BuildCaches, local: LocalWheels, row: TargetResult
) -> TargetResult:
    """The target restored from the shared build cache (a cached row), else ``row`` (its failed
    row) saying why not too."""
    from ..buildcache.restore import restore_from_cache

    notes: list[str] = []
    hit = await restore_from_cache(target, caches, local, notes)
    if isinstance(hit, str):
        return row.model_copy(update={"error": f"{row.error}; shared build cache: {hit}", "warnings": notes})
    fields = hit.stamp.result_at(target.out_dir)
    return result_for(target, status="cached", cache=hit.source, warnings=notes, **fields)


def _unpublishable(target: Target, why: str) -> TargetResult:
    return result_for(
        target,
        status="failed",
        error=f"{target.id}: {why}",
        exit_code=1,
        hint=f"build it first: layerctl build {target.layer.name} (or build-all --publish)",
    )


async def publish_plan(
    plan: Plan,
    reporter: Reporter,
    *,
    keep_going: bool = False,
    lock: AbstractContextManager[object] | None = None,
) -> tuple[RunOutcome, int]:
    """Publish each target's last good build. Names, regions and credentials are checked
    before the run lock (``lock``, the CLI's) is taken and before anything is sent: a refused
    run writes nothing. From the lock on, the report included, signals end the run through
    its report (as ``run.run_plan``)."""
    publisher = await Publisher.open(plan)
    targets = list(plan.targets)
    jobs = plan.options.jobs or default_jobs()
    credentials = Credentials.from_env()
    caches = run_caches(plan, credentials, Masker.for_credentials(credentials))
    local = LocalWheels()
    with lock or nullcontext(), _closing(local):
        if caches.shared:  # restored builds are written into the targets' directories
            await anyio.to_thread.run_sync(prepare_outputs, plan)
        async with signals_cancel() as interrupt:
            started_at = datetime.now(timezone.utc)
            started = time.monotonic()
            async with event_pipe(reporter) as emit:
                await emit(RunStarted(tuple(t.id for t in targets), jobs))

                async def one(target: Target) -> TargetResult:
                    began = time.time()
                    result = await anyio.to_thread.run_sync(last_good_build, target)
                    if result.status == "failed" and caches.shared:
                        result = await from_cache(target, caches, local, result)
                    result = result.model_copy(update={"started_at": round(began, 3)})
                    await emit(TargetFinished(result))
                    if result.status in GOOD:
                        result = await publisher.after_build(target, result, emit)
                    return result.model_copy(update={"duration_s": round(time.time() - began, 3)})

                fanned: Fanned[TargetResult] = Fanned()
                with interrupt.cancels():
                    stop = (lambda r: failed(r)) if not keep_going else None
                    await fan_out(targets, one, limiter=jobs, stop=stop, name=lambda t: t.id, into=fanned)
                outcome = await finish(
                    targets,
                    {targets[i].id: result for i, result in fanned.results.items()},
                    {targets[i].id for i in fanned.started},
                    emit,
                    started,
                    interrupt.interrupted,
                )
            return outcome, await finish_run(plan, outcome, started_at, jobs)


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
