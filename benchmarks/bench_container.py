"""Container build benchmark (needs the engine and stand-in images: tests/testbed.sh).

Prints, in one run:
  1. a container matrix (3 small/medium layers, one of them an sdist-only C extension, x py3.11 x
     x86_64, arm64 = 6 targets, the scale of the issue's figures) with --jobs 1 vs --jobs N;
  2. the same matrix vs the machine's ceiling: the same `docker run ... pip install` commands
     launched all at once by `xargs -P` (ratio; target <= 1.1);
  3. native vs container for the same wheel-only target (ratio).

Every layerctl run uses --force (nothing cached as "up to date"); pip's download cache is warm
for both layerctl and the xargs ceiling (one warm-up run first); each figure is the median of
--repeat interleaved runs.
Usage: python benchmarks/bench_container.py [--jobs N] [--repeat K]
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from orchestrator.core.runtimes import Arch  # noqa: E402
from tests.support.fixtures import make_sdist  # noqa: E402

IMAGE = "layerctl-testbed/build-python{python}:{arch}"  # the test bed's stand-ins


def layerctl(root: Path, *args: str) -> float:
    start = time.perf_counter()
    subprocess.run(
        [sys.executable, "-m", "orchestrator", "-C", str(root), *args],
        check=True, stdout=subprocess.DEVNULL,
    )  # fmt: skip
    return time.perf_counter() - start


def workspace(root: Path, cache: Path) -> None:
    root.mkdir(parents=True)
    (root / "layerctl.toml").write_text(
        f'python = ["3.11"]\narch = ["x86_64", "arm64"]\ncache-dir = "{cache}"\nimage = "{IMAGE}"\n'
    )
    small = root / "layers/small"
    small.mkdir(parents=True)
    (small / "pyproject.toml").write_text(
        '[project]\nname = "small"\nversion = "1"\ndependencies = ["six==1.16.0", "PyYAML==6.0.2", "idna==3.10"]\n'
    )
    medium = root / "layers/medium"
    medium.mkdir(parents=True)
    (medium / "pyproject.toml").write_text(
        '[project]\nname = "medium"\nversion = "1"\ndependencies = ["requests==2.32.3", "attrs==24.2.0", '
        '"python-dateutil==2.9.0.post0", "charset-normalizer==3.4.0"]\n'
    )
    cext = root / "layers/cext"
    sdist = make_sdist("fastsum", cext / "vendor")
    (cext / "pyproject.toml").write_text(
        f'[project]\nname = "cext"\nversion = "1"\ndependencies = ["fastsum @ {sdist.as_uri()}"]\n'
    )


def xargs_ceiling(root: Path, jobs: int, cache: Path, index_url: str | None = None) -> float:
    """The same pip installs in the same images, all launched at once: what the machine can do.
    With ``index_url`` (an index on the host's loopback) pip asks it, the container on the
    host's network to reach it."""
    reach = f"--network host -e PIP_INDEX_URL={index_url}" if index_url else ""
    commands = []
    for req in sorted(root.glob("layers/*/build/lambda/layer/*/requirements.txt")):
        layer_root = req.parents[4]
        python, arch = req.parent.name.removeprefix("py").split("-")
        out = Path(tempfile.mkdtemp(prefix="ceiling-", dir=root))
        commands.append(" ".join([
            "docker run --rm", reach, f"--platform {Arch(arch).docker_platform}",
            f"-v {layer_root}:{layer_root}:ro", f"-v {req}:/r.txt:ro", f"-v {out}:/out",
            f"-v {cache}/pip-{arch}:/cache", "-e PIP_CACHE_DIR=/cache", "-e PIP_DISABLE_PIP_VERSION_CHECK=1",
            "-e PIP_ROOT_USER_ACTION=ignore",
            IMAGE.format(python=python, arch=arch),
            f"python{python} -m pip install -q --no-compile --prefer-binary --target /out/python -r /r.txt",
        ]))  # fmt: skip
    start = time.perf_counter()
    subprocess.run(
        ["xargs", "-P", str(jobs), "-I", "{}", "sh", "-c", "{}"],
        input="\n".join(commands), text=True, check=True, stdout=subprocess.DEVNULL,
    )  # fmt: skip
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--jobs", type=int, default=6)  # all 6 at once, like the ceiling
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="layerctl-bench-c-"))
    cache = work / "cache"
    try:
        root = work / "ws"
        workspace(root, cache)
        layerctl(root, "build-all", "--builder", "container", "--jobs", str(args.jobs))  # warm caches
        targets = [r["id"] for r in json.loads((root / "build/layerctl/report.json").read_text())["targets"]]
        print(f"container matrix: {len(targets)} targets ({', '.join(targets)})")

        # Interleaved and repeated: on a small machine running QEMU, one sample of each is noise.
        serials: list[float] = []
        parallels: list[float] = []
        ceilings: list[float] = []
        for _ in range(args.repeat):
            serials.append(layerctl(root, "build-all", "--builder", "container", "--force", "--jobs", "1"))
            parallels.append(
                layerctl(root, "build-all", "--builder", "container", "--force", "--jobs", str(args.jobs))
            )
            ceilings.append(xargs_ceiling(root, args.jobs, cache))
        serial, parallel, ceiling = (statistics.median(x) for x in (serials, parallels, ceilings))

        def runs(xs: list[float]) -> str:
            return ", ".join(f"{x:.1f}" for x in xs)

        print(f"  layerctl --jobs 1: {serial:.1f}s (median of {runs(serials)})")
        print(f"  layerctl --jobs {args.jobs}: {parallel:.1f}s (median of {runs(parallels)})")
        print(f"  RATIO --jobs 1 / --jobs {args.jobs}: {serial / parallel:.2f}x")
        print(
            f"  xargs -P {args.jobs} ceiling (same docker run + pip install): {ceiling:.1f}s "
            f"(median of {runs(ceilings)})"
        )
        print(f"  RATIO layerctl --jobs {args.jobs} / ceiling: {parallel / ceiling:.2f} (target <= 1.1)")

        print("wheel-only target small:py3.11-x86_64, native vs container")
        native = layerctl(root, "build", "small", "--arch", "x86_64", "--builder", "native", "--force")
        container = layerctl(root, "build", "small", "--arch", "x86_64", "--builder", "container", "--force")
        print(f"  native: {native:.2f}s  container: {container:.2f}s")
        print(f"  RATIO container / native: {container / native:.2f}x")
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
