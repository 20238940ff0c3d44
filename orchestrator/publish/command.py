"""`layerctl publish`: publish what the last good builds produced, without building. A target's
zip is the one its stamp records (the sha256 checked again); a target with no good build, or
whose zip changed since, fails with a line saying to build it. The run is the run skeleton's
(``runskeleton.py``), as a build's: report.json, the summary, ``$GITHUB_OUTPUT``."""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import datetime

import anyio
import anyio.to_thread

from ..build import result_for
from ..buildcache import zip_matches
from ..buildcache.local import LocalCache
from ..events import Emit, TargetFinished, TargetResult
from ..outputs import ZIP_NAME
from ..plan import Plan, Target
from ..reporters import Reporter
from ..runskeleton import Lock, Run, RunOutcome, Turn, fan_targets, jobs_of, report_run, run_command
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


def _unpublishable(target: Target, why: str) -> TargetResult:
    return result_for(
        target,
        status="failed",
        error=f"{target.id}: {why}",
        exit_code=1,
        hint=f"build it first: layerctl build {target.layer.name} (or build-all --publish)",
    )


async def publish_plan(plan: Plan, reporter: Reporter, *, lock: Lock | None = None) -> tuple[RunOutcome, int]:
    """Publish each target's last good build, on the run skeleton: names, regions and
    credentials are checked before the run lock (``lock``, the CLI's) is taken and before
    anything is sent (a refused run writes nothing); from the lock on, the report included,
    signals end the run through its report. ``--jobs`` targets are published at once."""
    return await run_command(_Publish(plan), reporter, lock)


@dataclass
class _Publish:
    """A publish run's own steps in the skeleton (``runskeleton.Command``)."""

    plan: Plan
    publisher: Publisher | None = None

    async def start(self) -> None:
        self.publisher = await Publisher.open(self.plan)

    async def work(self, run: Run) -> RunOutcome:
        async def each(target: Target, turn: Turn) -> TargetResult:
            return await turn(lambda: self.one(target, run.emit))

        plan = self.plan
        return await fan_targets(
            plan.targets, each, run=run, jobs=jobs_of(plan), keep_going=plan.options.keep_going
        )

    async def one(self, target: Target, emit: Emit) -> TargetResult:
        assert self.publisher is not None  # opened by start
        began = time.time()
        result = await anyio.to_thread.run_sync(last_good_build, target)
        result = result.model_copy(update={"started_at": round(began, 3)})
        await emit(TargetFinished(result))
        if result.status == "up-to-date":
            result = await self.publisher.after_build(target, result, emit)
        return result.model_copy(update={"duration_s": round(time.time() - began, 3)})

    async def finish(self, outcome: RunOutcome, started_at: datetime) -> int:
        return await report_run(self.plan, outcome, started_at)


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
