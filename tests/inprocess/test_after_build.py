"""Publishing is a pipeline, not a second phase: the scheduler's ``after`` hook runs in each
target's own task as soon as its zip is ready, outside the build slot, so the next target builds
meanwhile; a failure in it stops a fail-fast run like a failed build."""

from __future__ import annotations

from pathlib import Path

import anyio
import pytest

from orchestrator.core.events import PublishResult, TargetResult
from orchestrator.plan.targets import Target
from orchestrator.run.builds import exit_code_for

from .conftest import FakeExecutor, by_id, plan_for, run

pytestmark = pytest.mark.anyio


async def test_after_runs_as_each_zip_is_ready_outside_the_build_slot(tmp_path: Path) -> None:
    plan = plan_for(tmp_path, ["a", "b", "c"])
    timeline: list[str] = []
    first_published = anyio.Event()
    all_ready = anyio.Event()

    async def after(target: Target, result: TargetResult) -> TargetResult:
        timeline.append(f"publish {target.layer.name}")
        if len(timeline) == 3:
            all_ready.set()
        if target.layer.name == "a":
            # holds a's publish until b and c are built: with jobs=1, only a free slot lets them
            with anyio.fail_after(10):
                await all_ready.wait()
            first_published.set()
        published = PublishResult(region="eu-west-1", status="published", layer_name=target.layer.name)
        return result.model_copy(update={"publish": [published]})

    outcome = await run(plan, FakeExecutor({}), jobs=1, after=after)
    assert first_published.is_set()
    assert timeline[0] == "publish a" and sorted(timeline) == ["publish a", "publish b", "publish c"]
    assert all(r.status == "built" and r.publish[0].status == "published" for r in outcome.results)
    assert exit_code_for(outcome) == 0


async def test_a_failed_publish_stops_a_fail_fast_run_with_exit_4(tmp_path: Path) -> None:
    plan = plan_for(tmp_path, ["a", "b"])

    async def after(target: Target, result: TargetResult) -> TargetResult:
        failed = PublishResult(
            region="eu-west-1", status="failed", layer_name=target.layer.name, error="AccessDenied"
        )
        return result.model_copy(update={"publish": [failed]})

    outcome = await run(plan, FakeExecutor({}), jobs=1, after=after)
    status = {i: r.status for i, r in by_id(outcome).items()}
    assert status == {"a:py3.12-x86_64": "built", "b:py3.12-x86_64": "cancelled"}  # b built meanwhile
    assert exit_code_for(outcome) == 1  # a target that did not run outranks the publish failure
    (tmp_path / "k").mkdir()
    kept = await run(
        plan_for(tmp_path / "k", ["a", "b"]), FakeExecutor({}), jobs=1, after=after, keep_going=True
    )
    assert exit_code_for(kept) == 4
