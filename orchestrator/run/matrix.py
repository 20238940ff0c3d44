"""``layerctl matrix`` and ``--shard K/N``: a plan's selection split into shards (``shards.py``)
and shown as what a CI fans out over, or narrowed to one shard. Both read the same inputs (the
selection, ``--durations``) and call the same ``split``."""

from __future__ import annotations

import dataclasses
import json
import os
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..core.shardspec import parse_spec
from ..plan.shards import Shard, Unit, auto_count, costs_of, split

if TYPE_CHECKING:
    from ..core.run_settings import RunFlags
    from ..plan.targets import Plan

__all__ = ["durations_of", "matrix_rows", "plan_shards", "shard_plan", "show_matrix"]


def durations_of(path: str | None) -> dict[str, float]:
    """The measured durations of a report's targets that built (others keep their estimate)."""
    if not path:
        return {}
    from ..report.document import load_report

    report = load_report(Path(path))
    return {row.id: row.duration_s for row in report.targets if row.status == "built" and row.duration_s > 0}


def _units(plan: Plan) -> list[Unit]:
    return [Unit(t.id, t.arch.value, t.settings.builder) for t in plan.targets]


def plan_shards(plan: Plan, count: str | int, durations: Mapping[str, float]) -> list[Shard]:
    """The shards of the plan's selection: ``count`` shards, or ``auto``."""
    units = _units(plan)
    costs = costs_of(units, durations)
    total = auto_count(units, costs) if count == "auto" else int(count)
    return split(units, costs, total)


def shard_plan(
    plan: Plan, flags: RunFlags, say: Callable[[str], None], environ: Mapping[str, str] | None = None
) -> Plan:
    """The plan narrowed to the shard ``--shard`` names: exactly the matrix's shard of that index."""
    assert flags.shard is not None
    spec = parse_spec(flags.shard, os.environ if environ is None else environ)
    if not plan.targets:
        return dataclasses.replace(plan, shard=str(spec))
    shards = plan_shards(plan, spec.total, durations_of(flags.durations))
    chosen = set(shards[spec.index - 1].ids) if spec.index <= len(shards) else set()
    if not chosen:  # more shards than targets (a fixed `parallel:`): nothing to do is a success
        say(
            f"layerctl: shard {spec} holds no targets ({len(plan.targets)} targets in {spec.total} shards): nothing to do"
        )
        import typer

        raise typer.Exit(0)
    return dataclasses.replace(
        plan, targets=tuple(t for t in plan.targets if t.id in chosen), shard=str(spec)
    )


def matrix_rows(plan: Plan, flags: RunFlags) -> list[dict[str, Any]]:
    """One row per shard that holds targets, every shard of a single architecture."""
    durations = durations_of(flags.durations)
    count: str | int = flags.shards
    if count != "auto":
        arches = len({t.arch for t in plan.targets})
        # a shard holds one architecture, and at least one target: the matrix's N is the number
        # of its rows, so its parts' reports merge as a whole (``report --merge``)
        count = max(min(int(count), len(plan.targets)), arches, 1)
    runners = {"x86_64": plan.options.runner_x86_64, "arm64": plan.options.runner_arm64}
    return [
        {
            "shard": shard.spec,
            "arch": shard.arch,
            "runs-on": runners[shard.arch or "x86_64"],
            "expected-s": round(shard.cost, 1),
            "targets": list(shard.ids),
        }
        for shard in plan_shards(plan, count, durations)
        if shard.ids
    ]


def show_matrix(plan: Plan, flags: RunFlags, echo: Callable[[str], None]) -> None:
    """Print the matrix in the chosen format (see docs/guide.md, "Fanning out in CI")."""
    rows = matrix_rows(plan, flags)
    out: object
    if flags.matrix_format == "github":
        out = {"include": rows}
    elif flags.matrix_format == "gitlab":
        out = {
            "parallel": {
                "matrix": [
                    {"LAYERCTL_SHARD": row["shard"], "ARCH": row["arch"], "RUNNER": row["runs-on"]}
                    for row in rows
                ]
            }
        }
    else:
        out = rows
    echo(
        json.dumps(out, separators=(",", ":"))
        if flags.matrix_format == "github"
        else json.dumps(out, indent=2)
    )
