"""Hybrid against container builds (needs the engine and the test bed's stand-in images).

Three parts, all by default (`--part` runs one alone); every cold side starts from an empty
cache-dir (pip's cache, built wheels) and an empty uv cache of its own.
`sdist`: one layer with one C sdist (tests/fixtures/fastsum) among four pure wheels, for py3.11
and py3.13 x both architectures by default (4 targets). Prints the wall time of:
  1. `--builder container`, cold;
  2. `auto` (which picks hybrid), cold;
  3. `auto` warm: `--force` with the built wheels kept (no build container starts);
  4. a second layer with the same sdist added, warm: only it builds, compiling nothing;
and the ratios to the container's cold time (the issue's targets: cold <= 0.7, warm <= 0.1).
`ceiling`: the example's three layers (examples/monorepo made pip-managed: no lock files) plus
that sdist layer, the same Pythons and architectures (16 targets): `auto`, cold, against the
naive ceiling: the `docker run ... pip install` of each target (its set as the container builder
would install it: the sdist itself, compiled) launched all at once, with an empty pip cache
(benchmarks/bench_container.py's `xargs_ceiling`); target <= 0.35.
`wheels`: the example's layers only (wheel-only), py3.11 x the architectures (6 targets): `auto`
(native), cold, against the same kind of ceiling; target <= 0.1.
`--index` (parts `ceiling` and `wheels`): `machine` (default) measures both sides against the
machine's package index; `local` first fetches, untimed, every wheel the sides need (the pins an
untimed build made, for the targets' platforms and the stand-in images'; plus the sdist's build
requirements) and serves them from 127.0.0.1 as a simple index (benchmarks/local_index.py):
layerctl through its `index-url` setting (its build containers on the host's network), the
ceiling's pip through PIP_INDEX_URL on the host's network. Both sides stay cold in every other
way (empty uv, layerctl and pip caches); the index prints the requests each side made.
`machine,local` measures both in one run (the local index serves what the first one's pins need).
Usage: python benchmarks/bench_hybrid.py [--part sdist|ceiling|wheels] [--python 3.11,3.13]
       [--arch x86_64,arm64] [--index machine|local|machine,local]
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks.bench_container import xargs_ceiling  # noqa: E402
from benchmarks.local_index import LocalIndex, Want, gather, pins_of, serve  # noqa: E402
from orchestrator.core.runtimes import Arch  # noqa: E402
from tests.support.fixtures import make_sdist  # noqa: E402

IMAGE = "layerctl-testbed/build-python{python}:{arch}"  # the test bed's stand-ins
WHEELS = ["six==1.16.0", "idna==3.7", "attrs==23.2.0", "certifi==2024.2.2"]
EXAMPLE = ROOT / "examples" / "monorepo"
PARTS = ("sdist", "ceiling", "wheels")
INDEXES = ("machine", "local")
GLIBCS = (17, 28, 34, 36)  # the runtimes' uv platforms (2_17, 2_28 above AL2, AL2023) and the stand-ins'
# the fixture sdist's build requirements: pip's isolation in the ceiling's containers fetches
# setuptools, the hybrid builder's host environment also `wheel` (buildenv.py: older setuptools asks)
BUILD_REQUIRES = ["setuptools>=61", "wheel"]
REQUIREMENTS = "layers/*/build/lambda/layer/*/requirements.txt"  # beside each zip


def layerctl(root: Path, *args: str) -> float:
    """One run; uv's cache is the workspace's own (an empty one on its first run: cold)."""
    env = {**os.environ, "UV_CACHE_DIR": str(root.parent / f"uv-cache-{root.name}")}
    start = time.perf_counter()
    result = subprocess.run(
        [sys.executable, "-m", "orchestrator", "-C", str(root), *args, "--log-format", "plain"],
        capture_output=True,
        text=True,
        check=False,
        env=env,
    )
    if result.returncode != 0:
        sys.exit(f"layerctl {' '.join(args)} failed:\n{result.stdout[-3000:]}{result.stderr}")
    return time.perf_counter() - start


def add_layer(root: Path, name: str, sdist: Path) -> None:
    layer = root / "layers" / name
    layer.mkdir(parents=True, exist_ok=True)
    deps = [f"fastsum @ {sdist.as_uri()}", *WHEELS]
    (layer / "pyproject.toml").write_text(
        f'[project]\nname = "{name}"\nversion = "1"\ndependencies = {json.dumps(deps)}\n'
    )


def workspace(
    root: Path,
    cache: Path,
    pythons: list[str],
    arches: list[str],
    sdist: Path | None,
    jobs: int = 0,
    index_url: str | None = None,
) -> Path:
    assert not cache.exists(), f"{cache}: a cold side starts from an empty cache-dir"
    root.mkdir(parents=True, exist_ok=True)
    (root / "pyproject.toml").write_text(
        f'[tool.layerctl]\nlayers = ["layers/*/pyproject.toml"]\npython = {json.dumps(pythons)}\n'
        f'arch = {json.dumps(arches)}\nimage = "{IMAGE}"\ncache-dir = "{cache}"\n'
        f"jobs = {jobs or 2 * len(pythons) * len(arches)}\n"
        + (f'index-url = "{index_url}"\n' if index_url else "")
    )
    if sdist is None:
        return root
    vendored = root / "layers" / "c" / "vendor" / sdist.name  # inside c: its container build sees it
    vendored.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(sdist, vendored)
    add_layer(root, "c", vendored)
    return root


def pip_managed_example(root: Path) -> None:
    """The example monorepo with every layer a plain pip project (no uv or Poetry lock to make)."""
    shutil.copytree(EXAMPLE, root, ignore=shutil.ignore_patterns("build", "*.lock", ".venv"))
    dropped = re.compile(r"\[(tool\.uv|tool\.poetry|build-system|dependency-groups)\b")
    for pyproject in root.glob("layers/*/pyproject.toml"):
        sections = re.split(r"(?m)^(?=\[)", pyproject.read_text())
        pyproject.write_text("".join(s for s in sections if not dropped.match(s)))


def ceiling(root: Path, cache: Path, index_url: str | None = None) -> float:
    """The naive ceiling: each target's `docker run ... pip install`, all at once, pip cold."""
    assert not cache.exists(), f"{cache}: the ceiling starts from an empty pip cache"
    targets = len(list(root.glob(REQUIREMENTS)))
    return xargs_ceiling(root, targets, cache, index_url)


def sdist_part(base: Path, pythons: list[str], arches: list[str], sdist: Path) -> None:
    box = workspace(base / "container", base / "cache-container", pythons, arches, sdist)
    hyb = workspace(base / "hybrid", base / "cache-hybrid", pythons, arches, sdist)
    container = layerctl(box, "build-all", "--builder", "container")
    cold = layerctl(hyb, "build-all")
    warm = layerctl(hyb, "build-all", "--force")
    add_layer(hyb, "d", hyb / "layers" / "c" / "vendor" / sdist.name)
    second = layerctl(hyb, "build-all")  # c is up to date; d reuses every built wheel
    targets = len(pythons) * len(arches)
    print(f"one layer, 1 C sdist + {len(WHEELS)} wheels, {targets} targets ({pythons} x {arches})")
    print(f"  container, cold               {container:7.1f} s")
    print(
        f"  auto (hybrid), cold           {cold:7.1f} s   {cold / container:.2f}x container (target <= 0.7)"
    )
    print(
        f"  auto (hybrid), warm --force   {warm:7.1f} s   {warm / container:.2f}x container (target <= 0.1)"
    )
    print(
        f"  a second layer, same sdist    {second:7.1f} s   {second / container:.2f}x container (target <= 0.1)"
    )


def ceiling_part(
    base: Path,
    pythons: list[str],
    arches: list[str],
    sdist: Path | None,
    target: float,
    indexes: list[str],
) -> None:
    """`auto`, cold, on the example (plus the sdist layer when given) against the naive ceiling,
    once per index asked for: the machine's, then a local one serving what the first needed."""
    name = "example-sdist" if sdist else "example"
    count = (4 if sdist else 3) * len(pythons) * len(arches)
    what = "the example's 3 layers + the C sdist layer" if sdist else "the example's 3 layers (wheel-only)"
    print(f"{what}, pip-managed, {count} targets ({pythons} x {arches}), cold", flush=True)
    built: Path | None = None  # a workspace built against the machine's index: its pins
    for index in indexes:
        root = base / f"{name}-{index}"
        pip_managed_example(root)
        if index == "machine":
            workspace(root, base / f"cache-{name}-{index}", pythons, arches, sdist, jobs=count)
            measure(root, base / f"pip-cache-{name}-{index}", target, f"{index} index", None)
            built = root
            continue
        if built is None:  # untimed: pins made against the machine's index, then thrown away
            built = base / f"{name}-pins"
            pip_managed_example(built)
            workspace(built, base / f"cache-{name}-pins", pythons, arches, sdist, jobs=count)
            layerctl(built, "build-all")
        files = base / f"index-files-{name}"
        started = time.perf_counter()
        fetched = local_files(built, files, BUILD_REQUIRES if sdist else [])
        print(
            f"  local index: {len(list(files.glob('*.whl')))} wheels ({fetched / 2**20:.1f} MiB fetched "
            f"in {time.perf_counter() - started:.1f} s, untimed)",
            flush=True,
        )
        with serve(files) as server:
            workspace(
                root, base / f"cache-{name}-{index}", pythons, arches, sdist, jobs=count, index_url=server.url
            )
            measure(root, base / f"pip-cache-{name}-{index}", target, f"{index} index", server)


def local_files(built: Path, dest: Path, extra: list[str]) -> int:
    """The wheels each target's pins in ``built`` need (and ``extra``'s), on the platforms its
    runtime and its stand-in image accept."""
    wants = []
    for requirements in sorted(built.glob(REQUIREMENTS)):
        python, arch = requirements.parent.name.removeprefix("py").split("-")
        for glibc in GLIBCS:
            platform = f"{Arch(arch).machine}-manylinux_2_{glibc}"
            wants.append(Want(python, platform, pins_of(requirements)))
            if extra:
                wants.append(Want(python, platform, tuple(extra), pinned=False))
    return gather(wants, dest)


def measure(root: Path, pip_cache: Path, target: float, label: str, server: LocalIndex | None) -> None:
    """`auto` cold, then the ceiling cold, on ``root``; the index's request counts when local."""
    if server:
        server.side = "auto"
    # build containers (hybrid compiles) reach the loopback index as the ceiling's do
    auto = layerctl(root, "build-all", *(("--container-network", "host") if server else ()))
    print(f"  [{label}] auto, cold                                               {auto:7.1f} s", flush=True)
    if server:
        print(f"    local index, auto's requests: {server.summary('auto')}", flush=True)
        server.side = "ceiling"
    # requirements.txt beside each zip is the set as pinned, the sdist's own line included (the
    # hybrid executor installs from a copy naming the built wheel): what the container installs
    try:
        naive = ceiling(root, pip_cache, server.url if server else None)
    except subprocess.CalledProcessError:
        print(f"  [{label}] naive ceiling: a `docker run ... pip install` failed (see above): no figure")
        return
    print(f"  [{label}] naive ceiling (docker run ... pip install, all at once)  {naive:7.1f} s")
    if server:
        print(f"    local index, the ceiling's requests: {server.summary('ceiling')}")
    load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    print(
        f"  [{label}] RATIO auto / ceiling: {auto / naive:.2f}x (target <= {target}); load {load}", flush=True
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--part", choices=PARTS, action="append", help="one part alone (repeatable)")
    parser.add_argument("--python", default="3.11,3.13")
    parser.add_argument("--arch", default="x86_64,arm64")
    parser.add_argument(
        "--index", default="machine", help="machine, local or machine,local (ceiling, wheels)"
    )
    args = parser.parse_args()
    pythons, arches, indexes = args.python.split(","), args.arch.split(","), args.index.split(",")
    if not set(indexes) <= set(INDEXES):
        parser.error(f"--index: {args.index!r}: one or both of {', '.join(INDEXES)}")
    parts = args.part or PARTS
    base = Path(tempfile.mkdtemp(prefix="bench-hybrid-"))
    try:
        sdist = make_sdist("fastsum", base / "sdist")
        if "sdist" in parts:
            sdist_part(base, pythons, arches, sdist)
        if "ceiling" in parts:
            ceiling_part(base, pythons, arches, sdist, 0.35, indexes)
        if "wheels" in parts:
            ceiling_part(base, pythons[:1], arches, None, 0.1, indexes)  # py3.11 (the first) x the arches
    finally:
        shutil.rmtree(base, ignore_errors=True)


if __name__ == "__main__":
    main()
