"""No-op run benchmark: start-up, and a second `build-all` when nothing changed, with the package
index out of reach.

Prints, in one run:
  0. start-up: `layerctl --version` and `layerctl --help` (wall time, best and median of --repeat x 4
     runs, and the CPU time of the best run: on a busy machine the wall time is mostly waiting),
     and the import cost of a no-op `build-all` (`python -X importtime`: the sum of the top-level
     imports, and the largest ones). Targets: 0.15 s, 0.15 s and 0.2 s;
  1. the example monorepo's second `build-all` (3 layers x 2 Pythons x 2 arches = 12 targets);
  2. a generated workspace of 50 layers x 4 targets (uv, Poetry and pip layers mixed), built once
     first, then its second `build-all`;
each second run made twice: with the index (and every proxy variable) pointed at a loopback
server of this script that counts the requests it gets, and at a closed loopback port. Wall time
(best and median of --repeat runs, the CLI in a subprocess as a user runs it) and the requests
counted. Targets: under 0.5 s for the example, under 1 s for 50 x 4, zero network access.

Every layerctl process runs as an installed layerctl does: from bytecode (a pip install compiles
it; Python writes it on the first run). The runs get a bytecode cache of their own
(``PYTHONPYCACHEPREFIX`` in the benchmark's temporary directory, filled by the first build), so a
``PYTHONDONTWRITEBYTECODE=1`` in the caller's environment does not make each run compile
layerctl's source. The import figure is also printed as that environment would make it
(each run compiling the modules that have no bytecode beside their source).

Usage: python benchmarks/bench_noop.py [--repeat N] [--layers N] [--profile] [--startup-only]
"""

from __future__ import annotations

import argparse
import http.server
import os
import resource
import shutil
import socketserver
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from orchestrator.core.tools import uv_bin  # noqa: E402
from tests.support.fixtures import EXAMPLE, copy_example  # noqa: E402

CLOSED = "http://127.0.0.1:9"  # nothing listens on the discard port here
PROXY_VARIABLES = ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy", "all_proxy")


class Counter(socketserver.ThreadingMixIn, http.server.HTTPServer):
    """Answers every request 503 and counts it (a proxy CONNECT included)."""

    daemon_threads = True
    requests: list[str]


class _Handler(http.server.BaseHTTPRequestHandler):
    server: Counter

    def _answer(self) -> None:
        self.server.requests.append(f"{self.command} {self.path}")
        self.send_response(503)
        self.send_header("Content-Length", "0")
        self.end_headers()

    do_GET = do_HEAD = do_POST = do_CONNECT = _answer

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002 (the base class names it)
        pass


def offline_env(base: str) -> dict[str, str]:
    """The index and every proxy pointed at ``base``; nothing else reaches out unseen."""
    env = {k: v for k, v in os.environ.items() if k.upper() not in {"NO_PROXY"}}
    env["LAYERCTL_INDEX_URL"] = f"{base}/simple"
    for name in PROXY_VARIABLES:
        env[name] = base
    return env


def layerctl(root: Path, *args: str, env: dict[str, str] | None = None) -> tuple[float, int]:
    start = time.perf_counter()
    result = subprocess.run(
        [sys.executable, "-m", "orchestrator", "-C", str(root), "build-all", *args],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        check=False,
    )
    return time.perf_counter() - start, result.returncode


def timed(argv: list[str], cwd: Path, runs: int) -> tuple[float, float, float]:
    """Best and median wall time of ``runs`` runs of ``argv``, and the CPU time (user + system)
    of the least busy run."""
    walls, cpus = [], []
    for _ in range(runs):
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        start = time.perf_counter()
        subprocess.run(argv, cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=False)
        walls.append(time.perf_counter() - start)
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpus.append(after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime)
    return min(walls), statistics.median(walls), min(cpus)


def run_installed(pycache: Path) -> None:
    """This process's children run from bytecode kept in ``pycache``, as an installed layerctl."""
    os.environ.pop("PYTHONDONTWRITEBYTECODE", None)
    os.environ["PYTHONPYCACHEPREFIX"] = str(pycache)


def from_source() -> dict[str, str]:
    """The environment as the caller had it with ``PYTHONDONTWRITEBYTECODE=1``: a module without
    bytecode beside its source (layerctl's, in a checkout) is compiled by every run."""
    env = {k: v for k, v in offline_env(CLOSED).items() if k != "PYTHONPYCACHEPREFIX"}
    return {**env, "PYTHONDONTWRITEBYTECODE": "1"}


def import_times(root: Path, *args: str, env: dict[str, str] | None = None) -> list[tuple[int, int, str]]:
    """``python -X importtime -m orchestrator -C root *args``: (depth, cumulative us, module)."""
    result = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "orchestrator", "-C", str(root), *args],
        env=env or offline_env(CLOSED),
        capture_output=True,
        text=True,
        check=False,
    )
    rows = []
    for line in result.stderr.splitlines():
        parts = line.split("|")
        if line.startswith("import time:") and len(parts) == 3 and parts[1].strip().isdigit():
            name = parts[2].rstrip()
            rows.append(((len(name) - len(name.lstrip())) // 2, int(parts[1]), name.strip()))
    return rows


def startup(root: Path, runs: int) -> None:
    """The start-up figures: --version, --help, and what a no-op build-all imports."""
    base = [sys.executable, "-m", "orchestrator"]
    print("| start-up | best | median | CPU | target |")
    print("|---|---|---|---|---|")
    for label, argv, target in [
        ("`python -c pass` (the interpreter alone)", [sys.executable, "-c", "pass"], "-"),
        ("`layerctl --version`", [*base, "--version"], "0.15 s"),
        ("`layerctl --help`", [*base, "--help"], "0.15 s"),
    ]:
        best, median, cpu = timed(argv, root, runs)
        print(f"| {label} | {best:.3f} s | {median:.3f} s | {cpu:.3f} s | {target} |")
    least = _least_imports(root, runs)
    total = sum(micros for depth, micros, _ in least if depth == 0)
    print(
        f"\nimports of a no-op build-all (-X importtime, top level summed): {total / 1e6:.3f} s (target 0.2 s)"
    )
    compiling = sum(micros for depth, micros, _ in _least_imports(root, runs, from_source()) if depth == 0)
    print(
        f"  the same, each run compiling layerctl's source (PYTHONDONTWRITEBYTECODE=1): {compiling / 1e6:.3f} s"
    )
    print("largest imports (cumulative):")
    for _, micros, name in sorted(least, key=lambda r: -r[1])[:15]:
        print(f"  {micros / 1000:7.1f} ms {name}")
    print(flush=True)


def _least_imports(root: Path, runs: int, env: dict[str, str] | None = None) -> list[tuple[int, int, str]]:
    """A no-op build-all's imports: the least disturbed of a few runs."""
    least: list[tuple[int, int, str]] | None = None
    for _ in range(max(3, runs // 2)):
        rows = import_times(root, "build-all", env=env)
        if least is None or sum(m for d, m, _ in rows if d == 0) < sum(m for d, m, _ in least if d == 0):
            least = rows
    assert least is not None
    return least


def generate(dest: Path, layers: int, uv: str) -> Path:
    """``layers`` layers, a third each uv (one lock made here, copied), Poetry (the example's
    `data` layer under new names: its poetry.lock holds no URLs) and pip; 4 targets each."""
    (dest / "layers").mkdir(parents=True)
    (dest / "pyproject.toml").write_text(
        '[tool.layerctl]\nlayers = ["layers/*/pyproject.toml"]\npython = ["3.11", "3.12"]\n'
        'arch = ["x86_64", "arm64"]\nbuilder = "native"\n'
    )
    uv_source = dest / ".uv-source"
    uv_source.mkdir()
    (uv_source / "pyproject.toml").write_text(
        '[project]\nname = "uv-layer"\nversion = "1"\nrequires-python = ">=3.10"\n'
        'dependencies = ["attrs>=23", "six>=1.16"]\n[tool.uv]\npackage = false\n'
    )
    subprocess.run([uv, "lock", "--quiet", "--no-config"], cwd=uv_source, check=True)
    for i in range(layers):
        layer = dest / "layers" / f"l{i:02d}"
        kind = i % 3
        if kind == 0:
            shutil.copytree(uv_source, layer)
        elif kind == 1:
            shutil.copytree(EXAMPLE / "layers" / "data", layer, ignore=shutil.ignore_patterns("build"))
        else:
            layer.mkdir()
            (layer / "pyproject.toml").write_text(
                f'[project]\nname = "pip-{i}"\nversion = "1"\ndependencies = ["six", "attrs"]\n'
            )
    shutil.rmtree(uv_source)
    return dest


def measure(name: str, root: Path, repeat: int) -> dict[str, object]:
    server = Counter(("127.0.0.1", 0), _Handler)
    server.requests = []
    threading.Thread(target=server.serve_forever, daemon=True).start()
    counted = f"http://127.0.0.1:{server.server_address[1]}"
    try:
        times, codes = [], set()
        for _ in range(repeat):
            for base in (counted, CLOSED):
                seconds, code = layerctl(root, env=offline_env(base))
                times.append(seconds)
                codes.add(code)
    finally:
        server.shutdown()
    return {
        "name": name,
        "best": min(times),
        "median": statistics.median(times),
        "exit codes": sorted(codes),
        "requests": len(server.requests),
        "seen": server.requests[:5],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--layers", type=int, default=50)
    parser.add_argument("--profile", action="store_true", help="print -X importtime's largest imports")
    parser.add_argument("--startup-only", action="store_true", help="only the start-up figures")
    args = parser.parse_args()
    uv = uv_bin()
    rows = []
    with tempfile.TemporaryDirectory(prefix="bench-noop-") as tmp:
        run_installed(Path(tmp) / "pycache")
        example = copy_example(Path(tmp) / "example", uv)
        start = time.perf_counter()
        first, code = layerctl(example, "--jobs", "4")
        assert code == 0, "the example's first build failed"
        print(f"example: first build-all {first:.1f} s", flush=True)
        startup(example, args.repeat * 4)
        if args.startup_only:
            return
        rows.append(measure("example, 12 targets", example, args.repeat))

        big = generate(Path(tmp) / "generated", args.layers, uv)
        first, code = layerctl(big, "--jobs", "4")
        assert code == 0, "the generated workspace's first build failed"
        print(f"generated: {args.layers} layers x 4 targets, first build-all {first:.1f} s", flush=True)
        rows.append(measure(f"generated, {args.layers} x 4 = {args.layers * 4} targets", big, args.repeat))
        if args.profile:
            profile(big)
        print(f"(whole benchmark {time.perf_counter() - start:.0f} s)\n")

    print("| second build-all, index unreachable | best | median | exit | requests to the network |")
    print("|---|---|---|---|---|")
    for row in rows:
        print(
            f"| {row['name']} | {row['best']:.2f} s | {row['median']:.2f} s | {row['exit codes']} | "
            f"{row['requests']} |"
        )
    for row in rows:
        if row["requests"]:
            print(f"{row['name']}: requests seen: {row['seen']}")


def profile(root: Path) -> None:
    """Where a no-op run's time goes beyond its imports: cProfile's largest own times."""
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "cProfile",
            "-s",
            "tottime",
            "-m",
            "orchestrator",
            "-C",
            str(root),
            "build-all",
        ],
        env=offline_env(CLOSED),
        capture_output=True,
        text=True,
        check=False,
    )
    lines = result.stdout.splitlines()
    head = next((i for i, line in enumerate(lines) if "ncalls" in line), 0)
    print("no-op build-all of the generated workspace, cProfile (largest own time):")
    print("\n".join(lines[max(0, head - 3) : head + 25]))


if __name__ == "__main__":
    main()
