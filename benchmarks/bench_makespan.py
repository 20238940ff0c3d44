"""Makespan benchmark: a simulation of the run's order (``scheduler.expected_durations``, longest
first) over resource pools with recorded durations, no build.

A target takes the first free slot of its pool in the run's order (the fan-out's turns) and
holds it for its recorded duration. Pools: one per engine, each target to the engine of its
architecture (``--engines``: x86_64 and arm64 engines of ``--capacity`` slots each), or one
pool of ``--capacity`` slots (``--engines 1``: `--jobs`). The lower bound of a pool is
max(its total / its capacity, its longest target); of the run, the largest pool's.

Durations: ``--report PATH`` (a report.json: its built rows), else a seeded matrix shaped like
this machine's recorded figures (docs/benchmarks.md): native x86_64 targets 2-12 s, container
x86_64 3-25 s, container arm64 under emulation 4.5-6x its x86_64 twin; one in eight layers
heavy (numpy-sized). Prints, for the order with durations (the previous report's) and without
(the cost hints' estimate, ties in plan order): the makespan, its ratio to the lower bound,
and the ratio of the two.

Usage: python benchmarks/bench_makespan.py [--layers N] [--capacity N] [--engines 1|2] [--report PATH]
"""

from __future__ import annotations

import argparse
import heapq
import json
import random
import sys
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from orchestrator.run.scheduler import expected_durations  # noqa: E402


@dataclass(frozen=True)
class Job:
    id: str
    arch: str
    builder: str
    seconds: float  # its recorded duration

    def cost(self) -> float:  # the container executor's and native's hints (executors/)
        if self.builder == "native":
            return 1.0
        return 2.0 if self.arch == "x86_64" else 6.0


def generated(layers: int, seed: int = 20) -> list[Job]:
    rng = random.Random(seed)
    jobs = []
    for n in range(layers):
        heavy = rng.random() < 0.125
        builder = "container" if rng.random() < 0.5 else "native"
        for python in ("3.11", "3.12", "3.13"):
            base = rng.uniform(2, 12) if builder == "native" else rng.uniform(3, 25)
            base *= 4 if heavy else 1
            jobs.append(Job(f"l{n:03}:py{python}-x86_64", "x86_64", builder, round(base, 2)))
            arm = base * (rng.uniform(4.5, 6) if builder == "container" else rng.uniform(1, 1.3))
            jobs.append(Job(f"l{n:03}:py{python}-arm64", "arm64", builder, round(arm, 2)))
    return jobs


def from_report(path: Path) -> list[Job]:
    data = json.loads(path.read_text())
    rows = [r for r in data["targets"] if r["status"] == "built" and r["duration_s"] > 0]
    return [Job(r["id"], r["arch"], r["builder"], float(r["duration_s"])) for r in rows]


def simulate(order: Sequence[Job], pools: Mapping[str, int], pool_of: Callable[[Job], str]) -> float:
    """List scheduling: each job in ``order`` takes its pool's earliest free slot."""
    free = {name: [0.0] * capacity for name, capacity in pools.items()}
    end = 0.0
    for job in order:
        slots = free[pool_of(job)]
        start = heapq.heappop(slots)
        heapq.heappush(slots, start + job.seconds)
        end = max(end, start + job.seconds)
    return end


def lower_bound(jobs: Sequence[Job], pools: Mapping[str, int], pool_of: Callable[[Job], str]) -> float:
    bound = 0.0
    for name, capacity in pools.items():
        mine = [j.seconds for j in jobs if pool_of(j) == name]
        if mine:
            bound = max(bound, sum(mine) / capacity, max(mine))
    return bound


def run_order(jobs: Sequence[Job], measured: Mapping[str, float]) -> list[Job]:
    """The scheduler's order: longest expected first (a stable sort: ties keep plan order)."""
    expected = expected_durations(cast(Sequence[Any], jobs), lambda j: cast(Job, j).cost(), measured)
    return sorted(jobs, key=lambda j: -expected[j.id])


SCENARIOS = (
    (24, 4, 2),
    (8, 4, 2),
    (12, 6, 2),
    (4, 2, 2),
    (8, 4, 1),
    (100, 8, 2),
)  # layers, capacity, engines


def scenario(jobs: Sequence[Job], capacity: int, engines: int) -> tuple[str, float, float, float]:
    """The pools, the lower bound and the makespans with and without durations."""
    pools = {"x86_64": capacity, "arm64": capacity} if engines == 2 else {"jobs": capacity}

    def pool_of(job: Job) -> str:
        return job.arch if engines == 2 else "jobs"

    bound = lower_bound(jobs, pools, pool_of)
    with_durations = simulate(run_order(jobs, {j.id: j.seconds for j in jobs}), pools, pool_of)
    without = simulate(run_order(jobs, {}), pools, pool_of)
    shown = " + ".join(f"{c} {n}" for n, c in pools.items())
    return shown, bound, with_durations, without


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--layers", type=int, help="one generated matrix of N layers (default: each scenario)"
    )
    parser.add_argument("--capacity", type=int, default=4, help="slots per pool")
    parser.add_argument("--engines", type=int, choices=(1, 2), default=2)
    parser.add_argument("--report", type=Path)
    args = parser.parse_args()
    runs: list[tuple[list[Job], int, int]]
    if args.report or args.layers:
        runs = [
            (from_report(args.report) if args.report else generated(args.layers), args.capacity, args.engines)
        ]
    else:
        runs = [(generated(layers), capacity, engines) for layers, capacity, engines in SCENARIOS]
    print("| targets | work | slots | lower bound | with durations | without | without / with |")
    print("|---:|---:|---|---:|---:|---:|---:|")
    for jobs, capacity, engines in runs:
        pools, bound, with_d, without = scenario(jobs, capacity, engines)
        total = sum(j.seconds for j in jobs)
        print(
            f"| {len(jobs)} | {total:,.0f} s | {pools} | {bound:,.0f} s | {with_d:,.0f} s ({with_d / bound:.3f}x) "
            f"| {without:,.0f} s ({without / bound:.3f}x) | {without / with_d:.3f} |"
        )


if __name__ == "__main__":
    main()
