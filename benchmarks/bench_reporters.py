"""Reporter overhead: 200,000 log lines from one target through each reporter.

A target's build command prints N lines (100 characters each, like a verbose compiler). Each
run uses layerctl's real path: the process's output read as it comes (process.run_streaming),
the build's log sink (secret masking, the failure tail, build.log) and the event pipe to a
reporter (eventpipe.event_pipe). Printed:
  - the baseline: the same lines through the same path into build.log only (a reporter that
    drops every event), and, for scale, the bare command redirected to a file by the OS;
  - each reporter's time and its RATIO to the baseline and to the bare file (target < 1.10);
  - memory: the peak traced allocation with N/10 and N lines (flat: only the tail is kept).
Usage: python benchmarks/bench_reporters.py [--lines N] [--repeat K]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
import tracemalloc
from collections import deque
from collections.abc import Callable
from pathlib import Path
from typing import TextIO

import anyio

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from orchestrator.building.failures import TAIL_LINES  # noqa: E402
from orchestrator.building.targetlog import TargetLog  # noqa: E402
from orchestrator.core.events import (  # noqa: E402
    Event,
    RunFinished,
    RunStarted,
    TargetFinished,
    TargetResult,
    TargetStarted,
)
from orchestrator.core.process import run_streaming  # noqa: E402
from orchestrator.core.secrets import Masker  # noqa: E402
from orchestrator.report.eventpipe import event_pipe  # noqa: E402
from orchestrator.report.reporters import Reporter  # noqa: E402
from orchestrator.report.reporters.github import GitHubReporter  # noqa: E402
from orchestrator.report.reporters.jsonl import JsonReporter  # noqa: E402
from orchestrator.report.reporters.live import LiveReporter  # noqa: E402
from orchestrator.report.reporters.plain import PlainReporter  # noqa: E402

TARGET = "bench:py3.12-arm64"


def producer(lines: int) -> list[str]:
    code = (
        "import sys\nw = sys.stdout.write\n"
        f"for i in range({lines}):\n"
        "    w(f'gcc -O2 -fPIC -c src/module_{i:07d}.c -o build/module_{i:07d}.o -I/usr/include/python3 ok\\n')\n"
    )
    return [sys.executable, "-c", code]


class Drop:
    """The baseline's reporter: takes every event and shows nothing."""

    async def handle(self, event: Event) -> None:
        return None

    def flush(self) -> None:
        return None

    def close(self) -> None:
        return None


async def stream_target(argv: list[str], reporter: Reporter, log_path: Path) -> None:
    """One target's output through the build's own log sink and the event pipe (as build.py does)."""
    mask = Masker(["s3cret-token"])  # a run with an index password masks every line
    tail: deque[str] = deque(maxlen=TAIL_LINES)
    async with event_pipe(reporter) as emit:
        await emit(RunStarted((TARGET,), 1))
        await emit(TargetStarted(TARGET, "container"))
        log = TargetLog(TARGET, log_path, tail, mask, emit)
        log.open()  # build.log written as a building target writes it
        try:
            await run_streaming(argv, log)
        finally:
            log.close(keep=True)
        result = TargetResult(
            id=TARGET, layer="bench", python="3.12", arch="arm64", tool="uv", builder="container",
            status="built", log=str(log_path),
        )  # fmt: skip
        await emit(TargetFinished(result))
        await emit(RunFinished((result,), 0.0))
    reporter.close()


def timed(make: Callable[[TextIO], Reporter], argv: list[str], work: Path, repeat: int) -> float:
    best = float("inf")
    for _ in range(repeat):
        with open(os.devnull, "w") as sink:
            reporter = make(sink)
            start = time.perf_counter()
            anyio.run(stream_target, argv, reporter, work / "build.log")
            best = min(best, time.perf_counter() - start)
    return best


def bare(argv: list[str], work: Path, repeat: int) -> float:
    best = float("inf")
    for _ in range(repeat):
        with open(work / "bare.log", "w") as out:
            start = time.perf_counter()
            subprocess.run(argv, stdout=out, check=True)
            best = min(best, time.perf_counter() - start)
    return best


def peak_memory(argv: list[str], work: Path) -> float:
    with open(os.devnull, "w") as sink:
        tracemalloc.start()
        anyio.run(stream_target, argv, PlainReporter(sink), work / "m.log")
        _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return peak / 1e6


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--lines", type=int, default=200_000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    argv = producer(args.lines)
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        print(f"{args.lines:,} log lines from one target (best of {args.repeat})")
        os_file = bare(argv, work, args.repeat)
        print(f"  for scale: the bare command > file (no layerctl): {os_file:.2f}s")
        base = timed(lambda out: Drop(), argv, work, args.repeat)
        print(f"  baseline: through layerctl's log path into build.log only: {base:.2f}s")
        reporters: dict[str, Callable[[TextIO], Reporter]] = {
            "plain (prefixed lines)": lambda out: PlainReporter(out),
            "live (rich, 6 redraws/s)": lambda out: LiveReporter(out),
            "github (groups at the end)": lambda out: GitHubReporter(out),
            "json (one event per line)": lambda out: JsonReporter(out),
        }
        for name, make in reporters.items():
            took = timed(make, argv, work, args.repeat)
            print(
                f"  {name:<28} {took:.2f}s  RATIO to baseline: {took / base:.3f}, "
                f"to the bare file: {took / os_file:.3f} (target < 1.10)"
            )
        small = peak_memory(producer(args.lines // 10), work)
        large = peak_memory(argv, work)
        print(
            f"  memory (tracemalloc peak): {args.lines // 10:,} lines {small:.2f} MB, "
            f"{args.lines:,} lines {large:.2f} MB (ratio {large / small:.2f}: flat, only the tail is kept)"
        )


if __name__ == "__main__":
    main()
