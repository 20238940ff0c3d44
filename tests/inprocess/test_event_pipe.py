"""The event pipe: every event reaches a slow reporter, in order, and builds are not lost."""

from __future__ import annotations

from pathlib import Path

import anyio
import pytest

from orchestrator.building.context import BuildContext
from orchestrator.building.executors import InstallRequest
from orchestrator.core.events import Event, LogLines, RunFinished, TargetFinished
from orchestrator.core.fanout import Interrupt
from orchestrator.core.process import BatchSink
from orchestrator.report.eventpipe import event_pipe
from orchestrator.run.scheduler import run_targets

from .conftest import FakeExecutor, plan_for

pytestmark = pytest.mark.anyio


class SlowReporter:
    def __init__(self) -> None:
        self.events: list[Event] = []

    async def handle(self, event: Event) -> None:
        await anyio.sleep(0.001)
        self.events.append(event)

    def flush(self) -> None:
        pass

    def close(self) -> None:
        pass


async def test_a_slow_reporter_gets_every_event_in_order(tmp_path: Path) -> None:
    plan = plan_for(tmp_path, [f"l{i}" for i in range(6)])

    async def chatty(request: InstallRequest, log: BatchSink, attempt: int) -> None:
        for i in range(300):
            await log(f"{request.target.id} line {i}")
        (request.dest / "m.py").write_text("")

    executor = FakeExecutor({f"l{i}": chatty for i in range(6)})
    reporter = SlowReporter()
    async with event_pipe(reporter) as emit:
        outcome = await run_targets(
            plan.targets,
            executor_for=lambda _t: executor,
            emit=emit,
            jobs=3,
            context=BuildContext(workspace=tmp_path),
            interrupt=Interrupt(),
        )
    assert {r.status for r in outcome.results} == {"built"}
    assert isinstance(reporter.events[-1], RunFinished)
    assert sum(isinstance(e, TargetFinished) for e in reporter.events) == 6
    for target in plan.targets:
        lines = [
            line
            for e in reporter.events
            if isinstance(e, LogLines) and e.target == target.id
            for line in e.lines
        ]
        numbered = [line for line in lines if " line " in line]
        assert numbered == [f"{target.id} line {i}" for i in range(300)]
