"""`build-all`, `publish` and `verify` run on one skeleton: Ctrl-C while a target's work is
going on (a real SIGINT to this process) ends each of them through the same steps: exit 130,
and for the commands that write a report, report.json saying interrupted with the target's
row cancelled; `verify`, which writes no report, one line and no rows, as before. The real
command line in this process; the work that would reach an engine or AWS is a stand-in that
presses Ctrl-C and then waits to be cancelled."""

from __future__ import annotations

import json
import os
import signal
from collections.abc import AsyncIterator, Iterable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import anyio
import pytest

from orchestrator.building.executors import InstallRequest
from orchestrator.core.events import Emit, TargetResult
from orchestrator.core.process import BatchSink
from orchestrator.core.runtimes import Arch
from orchestrator.plan.targets import Builder, Plan, Target
from tests.support.cli import invoke

from .conftest import FakeExecutor, plan_for, run

ID = "a:py3.12-x86_64"


@pytest.fixture(autouse=True)
def _sigint_restored() -> Iterable[None]:
    before = signal.getsignal(signal.SIGINT)
    yield
    signal.signal(signal.SIGINT, before)


async def ctrl_c_then_wait() -> None:
    """Ctrl-C pressed while this target's work goes on; the run must cancel what follows."""
    os.kill(os.getpid(), signal.SIGINT)
    with anyio.fail_after(30):  # never reached when the signal cancels the run
        await anyio.sleep_forever()


def built(root: Path) -> Plan:
    """Layer ``a`` with a good build (its zip and stamp), as a run before left it."""
    plan = plan_for(root, ["a"])
    outcome = anyio.run(lambda: run(plan, FakeExecutor(fingerprint_value="fake")))
    assert [r.status for r in outcome.results] == ["built"]
    return plan


def interrupted_report(root: Path) -> dict[str, Any]:
    written: dict[str, Any] = json.loads((root / "build/layerctl/report.json").read_text())
    assert written["interrupted"] is True and written["exit_code"] == 130
    assert [(row["id"], row["status"]) for row in written["targets"]] == [(ID, "cancelled")]
    return written


def test_ctrl_c_during_build_all(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    plan_for(tmp_path, ["a"])

    async def install(request: InstallRequest, log: BatchSink, attempt: int) -> None:
        await ctrl_c_then_wait()

    executor = FakeExecutor({"a": install}, fingerprint_value="fake")

    @asynccontextmanager
    async def executors(builders: Iterable[Builder], setup: object) -> AsyncIterator[dict[Builder, Any]]:
        yield {builder: executor for builder in builders}

    monkeypatch.setattr("orchestrator.building.executors.open_executors", executors)  # imported when used
    result = invoke(["-C", str(tmp_path), "build-all", "--log-format", "plain"])

    assert result.exit_code == 130, result.stdout + result.stderr
    assert executor.calls == {ID: 1}
    interrupted_report(tmp_path)
    assert "report: " in result.stdout and "Traceback" not in result.stdout + result.stderr


def test_ctrl_c_during_publish(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    built(tmp_path)
    reached: list[str] = []

    class Publisher:
        """Names, regions and credentials accepted; publishing is where Ctrl-C is pressed."""

        async def after_build(self, target: Target, result: TargetResult, emit: Emit) -> TargetResult:
            reached.append(target.id)
            await ctrl_c_then_wait()
            return result

    async def opened(plan: Plan) -> Publisher:
        return Publisher()

    monkeypatch.setattr("orchestrator.run.publish.Publisher.open", opened)
    result = invoke(["-C", str(tmp_path), "publish", "--log-format", "plain"])

    assert result.exit_code == 130, result.stdout + result.stderr
    assert reached == [ID]
    interrupted_report(tmp_path)
    assert "report: " in result.stdout and "Traceback" not in result.stdout + result.stderr


def test_ctrl_c_during_verify(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    plan = built(tmp_path)
    ran: list[str] = []

    class Engine:
        def __init__(self, **options: object) -> None:
            pass

        async def __aenter__(self) -> Engine:
            return self

        async def __aexit__(self, *exc: object) -> None:
            return None

        async def run(self, config: dict[str, Any], arch: Arch, label: str, sink: Any) -> int:
            ran.append(label)
            await ctrl_c_then_wait()
            return 0

    class Images:
        def __init__(self, engine: Engine, **options: object) -> None:
            self.engine = engine

        async def ensure(self, image: str, arch: Arch) -> None:
            return None

        async def runnable(self, image: str, arch: Arch, python: str) -> str:
            return "pip 24.0"

    async def arches(engine: Engine, settings: object) -> tuple[frozenset[Arch], int]:
        return frozenset({Arch.X86_64, Arch.ARM64}), 2

    # verify's engines come from the run's engine pool (building/executors/pool.py)
    monkeypatch.setattr("orchestrator.building.executors.pool.DockerEngine", Engine)
    monkeypatch.setattr("orchestrator.building.executors.pool.Images", Images)
    monkeypatch.setattr("orchestrator.building.executors.pool.engine_arches", arches)
    result = invoke(["-C", str(tmp_path), "verify"])

    assert result.exit_code == 130, result.stdout + result.stderr
    assert ran == [f"verify-{plan.targets[0].id}"]
    assert result.stderr.strip().splitlines()[-1] == "layerctl: interrupted"
    assert result.stdout == ""  # no row
    assert not (tmp_path / "build/layerctl/report.json").exists()  # verify writes no report
    assert "Traceback" not in result.stdout + result.stderr


@pytest.mark.parametrize("log_format", ["plain", "github"])
def test_publish_says_publishing_not_building(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, log_format: str
) -> None:
    built(tmp_path)

    class Publisher:
        async def after_build(self, target: Target, result: TargetResult, emit: Emit) -> TargetResult:
            return result

    async def opened(plan: Plan) -> Publisher:
        return Publisher()

    monkeypatch.setattr("orchestrator.run.publish.Publisher.open", opened)
    result = invoke(
        ["-C", str(tmp_path), "publish", "--log-format", log_format], env={"GITHUB_ACTIONS": None}
    )
    assert result.exit_code == 0, result.stdout + result.stderr
    assert "layerctl: publishing 1 targets, " in result.stdout
    assert "building" not in result.stdout
