"""Fail-fast, keep-going, retries, timeouts, cancellation, scoped environment errors and the stamp:
the real scheduler and pipeline, a fake executor."""

from __future__ import annotations

import time
from pathlib import Path

import anyio
import pytest

from orchestrator.building.executors import InstallRequest
from orchestrator.core import retry
from orchestrator.core.errors import BuildError, EnvironmentProblem
from orchestrator.core.fanout import Interrupt
from orchestrator.core.process import BatchSink
from orchestrator.package.zip import sha256_file
from orchestrator.run.builds import exit_code_for

from .conftest import FakeExecutor, by_id, never_finishes, plan_for, run

pytestmark = pytest.mark.anyio


async def fails(request: InstallRequest, log: BatchSink, attempt: int) -> None:
    await log("ERROR: nothing works")
    raise BuildError("install failed (exit 1)")


async def test_fail_fast_stops_queued_targets(tmp_path: Path) -> None:
    plan = plan_for(tmp_path, ["a", "b", "c"])
    outcome = await run(plan, FakeExecutor({"a": fails}), jobs=1)
    status = {i: r.status for i, r in by_id(outcome).items()}
    assert status == {"a:py3.12-x86_64": "failed", "b:py3.12-x86_64": "not-run", "c:py3.12-x86_64": "not-run"}
    assert by_id(outcome)["b:py3.12-x86_64"].error == "stopped after a failure"


async def test_fail_fast_cancels_running_targets(tmp_path: Path) -> None:
    plan = plan_for(tmp_path, ["a", "b"])

    async def fails_later(request: InstallRequest, log: BatchSink, attempt: int) -> None:
        await anyio.sleep(0.05)
        await fails(request, log, attempt)

    outcome = await run(plan, FakeExecutor({"a": fails_later, "b": never_finishes}), jobs=2)
    assert by_id(outcome)["b:py3.12-x86_64"].status == "cancelled"


async def test_a_cancelled_target_s_row_says_when_it_started_and_how_long_it_ran(tmp_path: Path) -> None:
    """A cancelled target's row said it never started (no start time, 0.0 s)."""
    plan = plan_for(tmp_path, ["a", "b", "c"])

    async def fails_later(request: InstallRequest, log: BatchSink, attempt: int) -> None:
        await anyio.sleep(0.2)
        await fails(request, log, attempt)

    before = time.time()
    outcome = await run(plan, FakeExecutor({"a": fails_later, "b": never_finishes}), jobs=2)
    cancelled, queued = by_id(outcome)["b:py3.12-x86_64"], by_id(outcome)["c:py3.12-x86_64"]
    assert cancelled.status == "cancelled" and cancelled.started_at is not None
    assert before <= cancelled.started_at <= time.time() and cancelled.duration_s >= 0.15
    assert queued.status == "not-run" and queued.started_at is None and queued.duration_s == 0.0


async def test_keep_going_builds_the_others(tmp_path: Path) -> None:
    plan = plan_for(tmp_path, ["a", "b", "c"])
    outcome = await run(plan, FakeExecutor({"b": fails}), jobs=1, keep_going=True)
    status = {i: r.status for i, r in by_id(outcome).items()}
    assert status == {"a:py3.12-x86_64": "built", "b:py3.12-x86_64": "failed", "c:py3.12-x86_64": "built"}
    failed = by_id(outcome)["b:py3.12-x86_64"]
    assert failed.error == "install failed (exit 1)" and "ERROR: nothing works" in failed.log_tail


async def test_transient_failures_are_retried_with_backoff(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    waits: list[int] = []

    def backoff(attempt: int) -> float:
        waits.append(attempt)
        return 0.0

    monkeypatch.setattr(retry, "backoff", backoff)
    plan = plan_for(tmp_path, ["a"])

    async def flaky(request: InstallRequest, log: BatchSink, attempt: int) -> None:
        if attempt < 3:
            await log("error: Failed to fetch: http://i/simple/six/ (503 Service Unavailable)")
            raise BuildError("uv pip install failed (exit 2)")
        (request.dest / "ok.py").write_text("")

    outcome = await run(plan, FakeExecutor({"a": flaky}), retries=2)
    row = by_id(outcome)["a:py3.12-x86_64"]
    assert row.status == "built" and row.attempts == 3 and waits == [1, 2]


async def test_a_permanent_failure_is_not_retried(tmp_path: Path) -> None:
    plan = plan_for(tmp_path, ["a"])
    executor = FakeExecutor({"a": fails})
    outcome = await run(plan, executor, retries=3)
    assert by_id(outcome)["a:py3.12-x86_64"].attempts == 1 and executor.calls == {"a:py3.12-x86_64": 1}


async def test_a_transient_cause_is_retried_by_its_class(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(retry, "backoff", lambda attempt: 0.0)
    plan = plan_for(tmp_path, ["a"])

    async def engine_hiccup(request: InstallRequest, log: BatchSink, attempt: int) -> None:
        raise BuildError("container failed: engine error 500", transient=True)

    outcome = await run(plan, FakeExecutor({"a": engine_hiccup}), retries=1)
    row = by_id(outcome)["a:py3.12-x86_64"]
    assert row.status == "failed" and row.attempts == 2


async def test_timeout_fails_the_attempt_with_its_hint(tmp_path: Path) -> None:
    plan = plan_for(tmp_path, ["a"])
    outcome = await run(plan, FakeExecutor({"a": never_finishes}), timeout_s=0.2)
    row = by_id(outcome)["a:py3.12-x86_64"]
    assert row.status == "failed" and row.error == "timed out after 0.2s (--timeout)"
    assert row.hint is not None and "--timeout" in row.hint


async def test_cancel_cleans_up_and_keeps_the_previous_zip(tmp_path: Path) -> None:
    plan = plan_for(tmp_path, ["a"])
    assert by_id(await run(plan, FakeExecutor()))["a:py3.12-x86_64"].status == "built"
    out = plan.targets[0].out_dir
    good = sha256_file(out / "layer.zip")
    interrupt = Interrupt()

    async def interrupted(request: InstallRequest, log: BatchSink, attempt: int) -> None:
        (request.dest / "half.py").write_text("")
        interrupt.fire()  # as SIGINT does
        await anyio.sleep_forever()

    outcome = await run(plan, FakeExecutor({"a": interrupted}), interrupt=interrupt, force=True)
    row = by_id(outcome)["a:py3.12-x86_64"]
    assert outcome.interrupted and row.status == "cancelled" and row.error == "interrupted"
    assert sha256_file(out / "layer.zip") == good
    assert not [p for p in out.iterdir() if p.name.startswith(".staging-")]


async def test_an_environment_problem_fails_only_the_targets_that_need_it(tmp_path: Path) -> None:
    plan = plan_for(tmp_path, ["a", "b", "c"])

    async def no_engine(request: InstallRequest, log: BatchSink, attempt: int) -> None:
        raise EnvironmentProblem("Docker engine not reachable", hint="start the engine")

    outcome = await run(plan, FakeExecutor({"a": no_engine, "c": no_engine}), keep_going=True)
    rows = by_id(outcome)
    assert rows["b:py3.12-x86_64"].status == "built"
    for target in ("a:py3.12-x86_64", "c:py3.12-x86_64"):
        assert rows[target].status == "failed" and rows[target].error == "Docker engine not reachable"
        assert rows[target].hint == "start the engine" and rows[target].exit_code == 3
    assert exit_code_for(outcome) == 3


async def test_an_environment_problem_honours_fail_fast(tmp_path: Path) -> None:
    plan = plan_for(tmp_path, ["a", "b"])

    async def no_engine(request: InstallRequest, log: BatchSink, attempt: int) -> None:
        raise EnvironmentProblem("Docker engine not reachable")

    outcome = await run(plan, FakeExecutor({"a": no_engine}), jobs=1)
    assert by_id(outcome)["b:py3.12-x86_64"].status == "not-run"
    assert exit_code_for(outcome) == 3


async def test_the_stamp_skips_unchanged_targets_and_notices_the_executor(tmp_path: Path) -> None:
    plan = plan_for(tmp_path, ["a"])
    executor = FakeExecutor()
    assert by_id(await run(plan, executor))["a:py3.12-x86_64"].status == "built"
    log = (plan.targets[0].out_dir / "build.log").read_text()
    again = by_id(await run(plan, executor))["a:py3.12-x86_64"]
    assert again.status == "up-to-date" and executor.calls == {"a:py3.12-x86_64": 1}
    assert again.sha256 == sha256_file(plan.targets[0].out_dir / "layer.zip")
    assert (plan.targets[0].out_dir / "build.log").read_text() == log  # kept, not emptied
    executor.fingerprint_value = "fake-2"  # a new tool version or image
    assert by_id(await run(plan, executor))["a:py3.12-x86_64"].status == "built"
    assert by_id(await run(plan, executor, force=True))["a:py3.12-x86_64"].status == "built"
