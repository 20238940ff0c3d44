"""Native build benchmark on the example monorepo (3 layers x py3.11, py3.12 x x86_64, arm64).

Prints, in one run on the same trees:
  1. the zip stage of the whole matrix: layerctl vs `zip -r -9` vs Python's zipfile defaults
     (time and size ratios; target: >= 3x faster than zip -9, <= 3% larger);
  2. `layerctl build-all --jobs 1` vs `--jobs 4` wall time (ratio), uv cache warm, --force;
  3. the cost of exact runtime wheel tags: a py3.11 (Amazon Linux 2) target whose greenlet has
     only manylinux_2_24 wheels (uv at 2_17 finds none, so uv resolves at 2_28 into a pylock.toml
     and layerctl chooses among the runtime's tags: three uv calls) vs the same target on py3.12
     (one uv call), uv cache warm, --force, the median of N interleaved runs.

Usage: python benchmarks/bench_native.py [--repeat N] [--exact-tags-only]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import anyio
import anyio.to_thread

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from orchestrator.core.tools import uv_bin  # noqa: E402
from orchestrator.package.zip import collect, exclude_patterns, write_zip  # noqa: E402
from orchestrator.run.skeleton import default_jobs  # noqa: E402
from tests.support.fixtures import copy_example  # noqa: E402


def layerctl(*args: str) -> float:
    start = time.perf_counter()
    subprocess.run([sys.executable, "-m", "orchestrator", *args], check=True, stdout=subprocess.DEVNULL)
    return time.perf_counter() - start


def best(fn: Callable[[], None], repeat: int) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def sizes(paths: list[Path]) -> int:
    return sum(p.stat().st_size for p in paths)


def exact_tags(work: Path, repeat: int) -> None:
    root = work / "exact"
    (root / "layers/db").mkdir(parents=True)
    (root / "pyproject.toml").write_text(
        '[tool.layerctl]\npython = ["3.11", "3.12"]\narch = ["x86_64"]\nbuilder = "native"\n'
    )
    (root / "layers/db/pyproject.toml").write_text(
        '[project]\nname = "db"\nversion = "1"\ndependencies = ["sqlalchemy==2.0.36", "greenlet==3.5.6"]\n'
    )
    layerctl("-C", str(root), "build-all")  # warm the uv cache
    runs: dict[str, list[tuple[float, float, float]]] = {"3.11": [], "3.12": []}
    for _ in range(repeat):
        for python in runs:  # interleaved, so drift on a shared machine hits both alike
            wall = layerctl("-C", str(root), "build-all", "--force", "--only", f"db:py{python}-x86_64")
            row = json.loads((root / "build/layerctl/report.json").read_text())["targets"][0]
            assert row["status"] == "built", row
            runs[python].append((row["phases_s"]["installing"], row["duration_s"], wall))
    print(f"\nexact runtime wheel tags: sqlalchemy 2.0.36 + greenlet 3.5.6, x86_64 (median of {repeat})")
    print(f"  {'target':<24} {'install':>8} {'target':>8} {'build-all':>10}")
    medians = {py: [statistics.median(r[i] for r in rows) for i in range(3)] for py, rows in runs.items()}
    for python, label in (("3.11", "py3.11 (exact tags)"), ("3.12", "py3.12 (one uv call)")):
        install, target, wall = medians[python]
        print(f"  {label:<24} {install:>7.2f}s {target:>7.2f}s {wall:>9.2f}s")
    ratios = [medians["3.11"][i] / medians["3.12"][i] for i in range(3)]
    print(
        f"  RATIO py3.11 / py3.12: install {ratios[0]:.2f}x, target {ratios[1]:.2f}x, "
        f"build-all wall {ratios[2]:.2f}x"
    )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--exact-tags-only", action="store_true", help="only figure 3")
    args = parser.parse_args()
    if args.exact_tags_only:
        work = Path(tempfile.mkdtemp(prefix="layerctl-bench-"))
        try:
            exact_tags(work, args.repeat)
        finally:
            shutil.rmtree(work, ignore_errors=True)
        return
    if shutil.which("zip") is None:
        sys.exit("needs the zip command (apt-get install zip)")
    work = Path(tempfile.mkdtemp(prefix="layerctl-bench-"))
    try:
        root = copy_example(work / "monorepo", uv_bin())
        layerctl("-C", str(root), "build-all", "--jobs", "4")  # warm the uv cache, make the trees
        trees = sorted(root.glob("layers/*/build/lambda/layer/*/artifacts"))
        out = work / "zips"
        out.mkdir()
        n_files = sum(1 for t in trees for p in t.rglob("*") if p.is_file())
        n_bytes = sum(p.stat().st_size for t in trees for p in t.rglob("*") if p.is_file())
        print(f"trees: {len(trees)} targets, {n_files} files, {n_bytes / 1e6:.1f} MB unzipped")

        def zip_cli() -> None:
            for i, tree in enumerate(trees):
                dest = out / f"cli-{i}.zip"
                dest.unlink(missing_ok=True)
                subprocess.run(["zip", "-r", "-9", "-q", "-X", str(dest), "python"], cwd=tree, check=True)

        def zipfile_defaults() -> None:
            for i, tree in enumerate(trees):
                shutil.make_archive(str(out / f"stdlib-{i}"), "zip", root_dir=tree, base_dir="python")

        patterns = exclude_patterns(
            [], runtime_provided=False, keep_bytecode=True
        )  # same files as the others

        def ours_one(i: int) -> None:
            write_zip(collect(trees[i] / "python", patterns), out / f"ours-{i}.zip")

        def ours_serial() -> None:
            for i in range(len(trees)):
                ours_one(i)

        jobs = default_jobs()

        def ours_matrix() -> None:
            async def run() -> None:
                limiter = anyio.CapacityLimiter(jobs)

                async def one(i: int) -> None:
                    await anyio.to_thread.run_sync(ours_one, i, limiter=limiter)

                async with anyio.create_task_group() as tg:
                    for i in range(len(trees)):
                        tg.start_soon(one, i)

            anyio.run(run)

        t_cli = best(zip_cli, args.repeat)
        s_cli = sizes(sorted(out.glob("cli-*.zip")))
        t_std = best(zipfile_defaults, args.repeat)
        s_std = sizes(sorted(out.glob("stdlib-*.zip")))
        t_serial = best(ours_serial, args.repeat)
        t_matrix = best(ours_matrix, args.repeat)
        s_ours = sizes(sorted(out.glob("ours-*.zip")))

        print(f"\nzip stage of the whole matrix (best of {args.repeat})")
        print(f"  {'method':<38} {'time':>8} {'size':>10} {'time vs ours':>13} {'size vs zip -9':>15}")
        rows = [
            ("zip -r -9 (CLI)", t_cli, s_cli),
            ("python zipfile defaults (make_archive)", t_std, s_std),
            ("layerctl, one thread", t_serial, s_ours),
            (f"layerctl, matrix ({jobs} threads)", t_matrix, s_ours),
        ]
        for name, t, s in rows:
            print(f"  {name:<38} {t:>7.2f}s {s / 1e6:>8.2f}MB {t / t_matrix:>12.2f}x {s / s_cli - 1:>+14.1%}")
        print(
            f"  RATIO speed: layerctl zip stage is {t_cli / t_matrix:.2f}x faster than zip -r -9 "
            f"(one thread: {t_cli / t_serial:.2f}x); target >= 3x"
        )
        print(f"  RATIO size: layerctl zips are {s_ours / s_cli - 1:+.2%} vs zip -r -9; target <= +3%")
        print(f"  RATIO vs zipfile defaults: {t_std / t_matrix:.2f}x faster, size {s_ours / s_std - 1:+.2%}")

        print(f"\nbuild-all on the example, uv cache warm, --force (best of {args.repeat})")
        walls = {}
        for jobs_n in (1, 4):
            runs = [
                layerctl("-C", str(root), "build-all", "--force", "--jobs", str(jobs_n))
                for _ in range(args.repeat)
            ]
            walls[jobs_n] = min(runs)
            print(f"  --jobs {jobs_n}: {walls[jobs_n]:.2f}s (median {statistics.median(runs):.2f}s)")
        print(f"  RATIO --jobs 1 / --jobs 4: {walls[1] / walls[4]:.2f}x (on {os.cpu_count()} CPUs)")
        exact_tags(work, args.repeat)
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
