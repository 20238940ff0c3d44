"""Scale benchmark: a generated workspace of 500 pip layers x 5 Pythons x 2 arches (5,000 targets),
no network.

Prints:
  1. `layerctl matrix --shards 20` on it (the CLI in a subprocess): wall time and peak RSS.
     Target: under 2 s;
  2. planning (discovery, make_plan) and scheduling the 5,000 targets through the real scheduler
     (`scheduler.run_targets`), pipeline and event pipe with a no-op executor (installs nothing; a
     pip layer's pins are its declared line, as the in-process tests' fake): wall time and peak
     RSS of that subprocess. Target: under 5 s and 200 MB;
  3. for the example monorepo and the 5,000 targets: the most expensive shard's cost against the
     ideal split (total / N), with durations from a report (the run of 2. for the 5,000; a
     generated one, seeded, for the example).

Usage: python benchmarks/bench_scale.py [--layers N] [--shards N] [--part plan]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

PYTHONS = ("3.10", "3.11", "3.12", "3.13", "3.14")


def generate(root: Path, layers: int) -> None:
    (root / "pyproject.toml").write_text(
        "[tool.layerctl]\n"
        f"python = {json.dumps(list(PYTHONS))}\n"
        'arch = ["x86_64", "arm64"]\nbuilder = "native"\n'
    )
    for i in range(layers):
        layer = root / "layers" / f"l{i:03d}"
        layer.mkdir(parents=True)
        (layer / "pyproject.toml").write_text(
            f'[project]\nname = "l{i:03d}"\nversion = "1"\ndependencies = ["six"]\n'
        )


def child(*args: str) -> tuple[float, float, str]:
    """Wall time, the child's own peak RSS (MB, from wait4) and its stdout."""
    started = time.perf_counter()
    with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
        proc = subprocess.Popen([sys.executable, *args], stdout=out, stderr=err, text=True)
        _, status, usage = os.wait4(proc.pid, 0)
        proc.returncode = os.waitstatus_to_exitcode(status)
        wall = time.perf_counter() - started
        out.seek(0), err.seek(0)
        if proc.returncode != 0:
            raise SystemExit(f"{args}: exit {proc.returncode}\n{err.read()[-2000:]}")
        return wall, usage.ru_maxrss / 1024, out.read()


def plan_and_schedule(root: Path) -> None:
    """In this (child) process: plan, then schedule every target with a no-op executor."""
    from datetime import datetime, timezone

    import anyio

    from orchestrator import resolve
    from orchestrator.building.buildcache.caches import BuildCaches
    from orchestrator.building.context import BuildContext
    from orchestrator.building.places import prepare_outputs
    from orchestrator.cli.invocation import Invocation
    from orchestrator.core.fanout import Interrupt
    from orchestrator.report.document import write_report
    from orchestrator.report.eventpipe import event_pipe
    from orchestrator.report.reporters.plain import PlainReporter
    from orchestrator.run.scheduler import run_targets
    from tests.inprocess.conftest import FakeExecutor, FakePins

    async def nothing(request: object, log: object, attempt: int) -> None:
        return None

    resolve.pip.uv_pin = FakePins()
    started = time.perf_counter()
    plan = Invocation(root, "build-all", {}).plan()
    planned = time.perf_counter() - started
    prepare_outputs(plan)
    executor = FakeExecutor(fingerprint_value="noop")
    executor.behaviours = {t.layer.name: nothing for t in plan.targets}
    reporter = PlainReporter(open("/dev/null", "w"))  # noqa: SIM115

    async def main() -> None:
        async with event_pipe(reporter) as emit:
            context = BuildContext(workspace=root, caches=BuildCaches())
            outcome = await run_targets(plan.targets, executor_for=lambda _t: executor, emit=emit,
                                        jobs=8, context=context, interrupt=Interrupt(), keep_going=True)  # fmt: skip
        bad = [r for r in outcome.results if r.status != "built"]
        if bad:
            raise SystemExit(f"{len(bad)} targets did not build: {bad[0].id} {bad[0].error}")
        write_report(root / "report.json", results=outcome.results, started_at=datetime.now(timezone.utc),
                     duration_s=0.0, workspace=root, jobs=8, exit_code=0, interrupted=False)  # fmt: skip

    anyio.run(main)
    print(
        json.dumps(
            {"targets": len(plan.targets), "plan_s": planned, "total_s": time.perf_counter() - started}
        )
    )


def balance(root: Path, report: Path, shards: int) -> str:
    from orchestrator.cli.invocation import Invocation
    from orchestrator.plan.shards import Unit, costs_of
    from orchestrator.run.matrix import durations_of, plan_shards

    plan = Invocation(root, "matrix", {}).plan()
    durations = durations_of(str(report))
    split = plan_shards(plan, shards, durations)
    costs = costs_of([Unit(t.id, t.arch.value, t.settings.builder) for t in plan.targets], durations)
    ideal = sum(costs.values()) / shards
    worst = max(s.cost for s in split)
    return f"{len(plan.targets)} targets, {shards} shards: costliest {worst:.1f} s, ideal {ideal:.1f} s ({worst / ideal:.3f}x)"


def example_report(root: Path) -> Path:
    """A report of the example with seeded durations (its real builds need the index)."""
    from datetime import datetime, timezone

    from orchestrator.cli.invocation import Invocation
    from orchestrator.core.events import TargetResult
    from orchestrator.report.document import write_report

    rng = random.Random(7)
    rows = tuple(
        TargetResult(
            id=t.id,
            layer=t.layer.name,
            python=t.python,
            arch=t.arch.value,
            tool=t.layer.tool.value,
            builder="native",
            status="built",
            duration_s=rng.uniform(5, 60),
        )
        for t in Invocation(root, "matrix", {}).plan().targets
    )
    path = Path(tempfile.mkdtemp()) / "report.json"
    write_report(path, results=rows, started_at=datetime.now(timezone.utc), duration_s=1.0, workspace=root,
                 jobs=1, exit_code=0, interrupted=False)  # fmt: skip
    return path


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--layers", type=int, default=500)
    parser.add_argument("--shards", type=int, default=20)
    parser.add_argument("--part", choices=["plan"], help=argparse.SUPPRESS)
    parser.add_argument("--root", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.part == "plan":
        return plan_and_schedule(args.root)
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        generate(root, args.layers)
        wall, rss, out = child("-m", "orchestrator", "-C", str(root), "matrix", "--shards", str(args.shards))
        rows = json.loads(out)["include"]
        print(f"matrix --shards {args.shards}: {wall:.2f} s, peak RSS {rss:.0f} MB, {len(rows)} shards")
        wall, rss, out = child(__file__, "--part", "plan", "--root", str(root))
        got = json.loads(out)
        print(f"plan + schedule {got['targets']} targets: {wall:.2f} s (plan {got['plan_s']:.2f} s, "
              f"in-process {got['total_s']:.2f} s), peak RSS {rss:.0f} MB")  # fmt: skip
        print("generated:", balance(root, root / "report.json", args.shards))
    example = ROOT / "examples" / "monorepo"
    for n in (2, 3, 4):
        print(f"example (shards={n}):", balance(example, example_report(example), n))


if __name__ == "__main__":
    main()
