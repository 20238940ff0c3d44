"""One target from start to result: attempts at it (``pipeline.Attempt``), retried after a
transient failure with backoff, and the report row (``TargetResult``) with its log, phases,
warnings and, for a failure, the cause's hint and the line of the project file it is about."""

from __future__ import annotations

import time
from collections import deque
from pathlib import Path
from typing import Any

from ..core.events import (
    Emit,
    Phase,
    PhaseStarted,
    Status,
    TargetFinished,
    TargetResult,
    TargetStarted,
    TargetWarning,
)
from ..core.outputs import LOG_NAME
from ..core.retry import attempts
from ..package.sizes import LayerTooLarge
from ..plan.targets import Target
from .context import BuildContext
from .executors import Executor
from .failures import TAIL_LINES, diagnose, find_requirement_line
from .pipeline import Attempt, Built, Failed, Outcome, UpToDate
from .rows import result_for
from .targetlog import PhaseClock, TargetLog

__all__ = ["build_target"]


async def build_target(target: Target, executor: Executor, emit: Emit, ctx: BuildContext) -> TargetResult:
    """Build one target; never raises for a failure (the result says it), only when cancelled.
    Transient failures are retried up to ``ctx.retries`` times with backoff; ``ctx.timeout_s``
    bounds each attempt."""
    started = time.monotonic()
    started_at = time.time()
    await emit(TargetStarted(target.id, target.builder))
    clock = PhaseClock()
    tail: deque[str] = deque(maxlen=TAIL_LINES)  # the whole log is in build.log, never in memory
    log = TargetLog(target.id, target.out_dir / LOG_NAME, tail, ctx.masker, emit)
    warnings: list[str] = []

    async def phase(name: Phase) -> None:
        clock.enter(name)
        await emit(PhaseStarted(target.id, name))

    async def warn(message: str) -> None:
        warnings.append(message)
        log.record(f"warning: {message}")
        await emit(TargetWarning(target.id, message))

    attempt = Attempt(target, executor, executor, ctx, log, phase, warn)  # it installs and builds wheels

    async def run_once() -> Outcome:
        warnings.clear()
        return await attempt.run()

    async def before_retry(number: int, delay: float, outcome: Outcome) -> None:
        assert isinstance(outcome, Failed)
        await log(
            f"layerctl: attempt {number} failed with a transient error ({outcome.message}); "
            f"retry {number}/{ctx.retries} in {delay:g}s"
        )
        clock.close()  # the wait is no phase's time (the timeline shows it as a gap)

    keep_log = True
    try:
        outcome, tries = await attempts(
            run_once, retries=ctx.retries, transient=_transient, before_retry=before_retry
        )
        keep_log = not isinstance(outcome, UpToDate) or outcome.source is not None
    finally:
        # an up-to-date target keeps the build.log of the build that made its zip (a cached
        # one: a log saying where its zip came from)
        log.close(keep=keep_log)
    status: Status
    if isinstance(outcome, Built):
        status, fields = "built", outcome.made.model_dump()
    elif isinstance(outcome, UpToDate) and outcome.source is not None:
        status, fields = "cached", {**outcome.stamp.result_at(target.out_dir), "cache": outcome.source}
    elif isinstance(outcome, UpToDate):
        status, fields = "up-to-date", outcome.stamp.result_at(target.out_dir)
    else:
        status, fields = "failed", _failure_fields(target, outcome, tail, ctx.workspace)
    result = result_for(
        target,
        status=status,
        started_at=round(started_at, 3),
        duration_s=round(time.monotonic() - started, 3),
        phases_s=clock.close(),
        attempts=tries,
        tool_versions=attempt.tool_versions,
        warnings=warnings,
        log=str(log.path),
        **fields,
    )
    await emit(TargetFinished(result))
    return result


def _transient(outcome: Outcome) -> bool:
    if not isinstance(outcome, Failed):
        return False
    return outcome.cause.transient or diagnose(outcome.output).transient


def _failure_fields(target: Target, failed: Failed, tail: deque[str], workspace: Path) -> dict[str, Any]:
    """The error, what to do about it (the cause's own hint, else what the tools' output says)
    and, when the failure is about one dependency, where the layer declares it."""
    diagnosis = diagnose(failed.output)
    package = getattr(failed.cause, "package", None) or diagnosis.package
    fields: dict[str, Any] = {
        "error": failed.message,
        "exit_code": failed.cause.exit_code,
        "hint": failed.cause.hint or diagnosis.hint,
        "log_tail": list(tail),
    }
    if isinstance(failed.cause, LayerTooLarge):
        fields.update(unzipped_size=failed.cause.unzipped_size, largest=failed.cause.largest)
    if package:
        project = target.layer.root / "pyproject.toml"
        line = find_requirement_line(project, package)
        if line is not None:
            fields.update(error_file=_relative(project, workspace), error_line=line)
    return fields


def _relative(path: Path, root: Path) -> str:
    try:
        return str(path.relative_to(root))
    except ValueError:
        return str(path)
