"""Hybrid against container builds (needs the engine and the test bed's stand-in images).

One layer with one C sdist (tests/fixtures/fastsum) among four pure wheels, for py3.11 and
py3.13 x both architectures by default (4 targets). Prints, in one run, the wall time of:
  1. `--builder container`, cold (an empty cache-dir: pip's cache, built wheels);
  2. `auto` (which picks hybrid), cold (another empty cache-dir);
  3. `auto` warm: `--force` with the built wheels kept (no build container starts);
  4. a second layer with the same sdist added, warm: only it builds, compiling nothing;
and the ratios to the container's cold time (the issue's targets: cold <= 0.7, warm <= 0.1).
Usage: python benchmarks/bench_hybrid.py [--python 3.11,3.13] [--arch x86_64,arm64]
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.support.fixtures import make_sdist  # noqa: E402

IMAGE = "layerctl-testbed/build-python{python}:{arch}"  # the test bed's stand-ins
WHEELS = ["six==1.16.0", "idna==3.7", "attrs==23.2.0", "certifi==2024.2.2"]


def layerctl(root: Path, *args: str) -> float:
    start = time.perf_counter()
    result = subprocess.run(
        [sys.executable, "-m", "orchestrator", "-C", str(root), *args, "--log-format", "plain"],
        capture_output=True,
        text=True,
        check=False,
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


def workspace(root: Path, cache: Path, pythons: list[str], arches: list[str], sdist: Path) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    (root / "pyproject.toml").write_text(
        f"[tool.layerctl]\npython = {json.dumps(pythons)}\narch = {json.dumps(arches)}\n"
        f'image = "{IMAGE}"\ncache-dir = "{cache}"\njobs = {2 * len(pythons) * len(arches)}\n'
    )
    vendored = root / "layers" / "c" / "vendor" / sdist.name  # inside c: its container build sees it
    vendored.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(sdist, vendored)
    add_layer(root, "c", vendored)
    return root


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--python", default="3.11,3.13")
    parser.add_argument("--arch", default="x86_64,arm64")
    args = parser.parse_args()
    pythons, arches = args.python.split(","), args.arch.split(",")
    base = Path(tempfile.mkdtemp(prefix="bench-hybrid-"))
    try:
        sdist = make_sdist("fastsum", base / "sdist")
        box = workspace(base / "container", base / "cache-container", pythons, arches, sdist)
        hyb = workspace(base / "hybrid", base / "cache-hybrid", pythons, arches, sdist)
        container = layerctl(box, "build-all", "--builder", "container")
        cold = layerctl(hyb, "build-all")
        warm = layerctl(hyb, "build-all", "--force")
        add_layer(hyb, "d", hyb / "layers" / "c" / "vendor" / sdist.name)
        second = layerctl(hyb, "build-all")  # c is up to date; d reuses every built wheel
        targets = len(pythons) * len(arches)
        print(f"one layer, 1 C sdist + {len(WHEELS)} wheels, {targets} targets ({args.python} x {args.arch})")
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
    finally:
        shutil.rmtree(base, ignore_errors=True)


if __name__ == "__main__":
    main()
