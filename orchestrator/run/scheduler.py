"""The build's fan-out: the targets of a build run over the run skeleton's fan-out
(``runskeleton.fan_targets``: ``--jobs`` at a time, fail-fast or keep-going, the rows of targets
that did not finish), longest expected first, found up to date without a turn, a layer that
cannot be read failed at once. Each build cleans up in a shielded finally when cancelled.

The order is longest-processing-time first: each target's expected duration is its measured one
(the previous ``report.json``, or ``--durations``), else ``ESTIMATE_UNIT_S`` times its executor's
cost hint (native 1; a container 2, 6 for a foreign arch under emulation). The slots of each
resource (``--jobs``, each engine's capacity) are taken in that order, so each pool of them
also works longest first, and a run's makespan approaches max(total / capacity, longest)
(docs/scaling.md)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import TYPE_CHECKING

from ..building.rows import result_for, up_to_date_row
from ..core.errors import EXIT_USAGE
from ..core.events import GOOD, Emit, TargetFinished, TargetResult
from ..core.fanout import Interrupt
from ..plan.targets import Target
from .skeleton import Run, RunOutcome, Turn, fan_targets

if TYPE_CHECKING:  # the stage that builds a target is imported when one builds (``run_targets``)
    from ..building.context import BuildContext
    from ..building.executors import Executor
    from ..building.stamp import Stamp

__all__ = ["ESTIMATE_UNIT_S", "AfterBuild", "RunOutcome", "broken_layer", "expected_durations", "run_targets"]

ESTIMATE_UNIT_S = 30.0  # seconds of one unit of an executor's cost hint, for a target never measured

# Work on a target's good zip in the target's own task, as soon as it is ready (publishing).
AfterBuild = Callable[[Target, TargetResult], Awaitable[TargetResult]]


def expected_durations(
    targets: Sequence[Target], cost: Callable[[Target], float], measured: Mapping[str, float]
) -> dict[str, float]:
    """Each target's expected duration in seconds: measured, else estimated from its cost hint."""
    return {t.id: measured.get(t.id) or ESTIMATE_UNIT_S * cost(t) for t in targets}


def _longest_first(
    targets: Sequence[Target], executor_for: Callable[[Target], Executor], measured: Mapping[str, float]
) -> list[Target]:
    """Start the long targets first (containers, arm64 under emulation) so they do not end last."""
    expected = expected_durations(targets, lambda t: executor_for(t).cost(t), measured)
    return sorted(targets, key=lambda t: -expected[t.id])


async def run_targets(
    targets: Sequence[Target],
    *,
    executor_for: Callable[[Target], Executor],
    emit: Emit,
    jobs: int,
    context: BuildContext,
    interrupt: Interrupt,
    keep_going: bool = False,
    after: AfterBuild | None = None,
    fresh: Mapping[str, Stamp] | None = None,
    durations: Mapping[str, float] | None = None,
) -> RunOutcome:
    """Build the targets, ``jobs`` at a time. ``after`` runs on each good result in the same
    task, outside the build's turn: the next build starts while this target's zip is published.
    Targets in ``fresh`` (found up to date before the run decided anything) are reported from
    their stamps, without an executor or a turn. ``durations``: measured, by target id (the order)."""
    fresh = fresh or {}
    # a layer whose project cannot be read fails its targets at once, and stops no other layer
    broken = {t.id: broken_layer(t) for t in targets if t.problem}
    ready = [t for t in targets if t.id in fresh]
    building = [t for t in targets if not t.problem and t.id not in fresh]
    order = ready + _longest_first(building, executor_for, durations or {})

    async def build(target: Target, turn: Turn) -> TargetResult:
        if target.id in fresh:
            result = up_to_date_row(target, fresh[target.id])
            await emit(TargetFinished(result))
        else:  # building one target is the next stage: a run with nothing to build never imports it
            from ..building.target import build_target

            result = await turn(lambda: build_target(target, executor_for(target), emit, context))
        if after is not None and result.status in GOOD:
            result = await after(target, result)
        return result

    run = Run(emit, interrupt)
    return await fan_targets(
        targets, build, run=run, jobs=jobs, keep_going=keep_going, order=order, done=broken
    )


def broken_layer(target: Target) -> TargetResult:
    """The row of a target whose layer project cannot be read: its problem, exit code 2."""
    return result_for(target, status="failed", error=target.problem, exit_code=EXIT_USAGE)
