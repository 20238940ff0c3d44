"""Cost-aware order: the targets start longest expected first, by their measured durations
(the previous report), else by their executor's cost hint."""

from __future__ import annotations

from pathlib import Path

import pytest

from orchestrator.building.executors import InstallRequest
from orchestrator.core.process import BatchSink
from orchestrator.plan.targets import Target
from orchestrator.run.scheduler import ESTIMATE_UNIT_S, expected_durations

from .conftest import FakeExecutor, plan_for, run, writes_a_module

pytestmark = pytest.mark.anyio


async def test_measured_durations_start_the_longest_first(tmp_path: Path) -> None:
    plan = plan_for(tmp_path, ["a", "b", "c", "d"])
    started: list[str] = []

    async def records(request: InstallRequest, log: BatchSink, attempt: int) -> None:
        started.append(request.target.layer.name)
        await writes_a_module(request, log, attempt)

    executor = FakeExecutor(dict.fromkeys("abcd", records))
    measured = {"a:py3.12-x86_64": 10.0, "b:py3.12-x86_64": 50.0, "c:py3.12-x86_64": 90.0}
    await run(plan, executor, jobs=1, durations=measured)
    # d was never measured: its estimate (one unit of the fake's cost, 30 s) puts it between a and b
    assert started == ["c", "b", "d", "a"]


def test_an_unmeasured_target_is_estimated_from_its_cost_hint(tmp_path: Path) -> None:
    targets = plan_for(tmp_path, ["a", "b"]).targets

    def cost(target: Target) -> float:
        return 6.0 if target.layer.name == "a" else 2.0

    assert expected_durations(targets, cost, {"b:py3.12-x86_64": 7.5}) == {
        "a:py3.12-x86_64": 6 * ESTIMATE_UNIT_S,
        "b:py3.12-x86_64": 7.5,
    }
