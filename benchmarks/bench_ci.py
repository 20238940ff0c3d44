"""CI benchmark: the GitHub workflow of docs/ci.md on the example monorepo (12 targets), simulated
on this machine as tests/integration/test_ci_workflow.py runs it (tests/support/ci_workflow.py:
every job on a fresh copy, its ``run:`` steps with bash, an S3 build cache on a moto server on
loopback), twice, both a push to main:

  first   plan, 3 build shards (one after another here; in CI they run at once), publish: every
          target built by its shard and stored, the publish job restoring and publishing all 12
  second  the same on fresh copies: every target restored from the cache (`cached`), publish
          finding every layer version unchanged

Prints each run's wall time, the shards' part of it and the ratio first / second. uv's cache is
warm and shared by the runners (as a CI cache of it would be); checkouts lock the uv layer.

Usage: python benchmarks/bench_ci.py
"""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from orchestrator.core.tools import uv_bin  # noqa: E402
from tests.integration.test_ci_workflow import SECRET, aws_env, base_env, make_bucket  # noqa: E402
from tests.support.aws import moto_server  # noqa: E402
from tests.support.ci_workflow import WorkflowRun, workflow_of  # noqa: E402
from tests.support.fixtures import copy_example  # noqa: E402


def simulate(base: Path, env: dict[str, str], aws: dict[str, str]) -> tuple[float, WorkflowRun]:
    run = WorkflowRun(
        workflow_of(), base, "push", env, {"LAYERCTL_CACHE_SECRET": SECRET}, aws,
        lambda dest: copy_example(dest, uv_bin()),
    )  # fmt: skip
    started = time.monotonic()
    run.run()
    return time.monotonic() - started, run


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp, moto_server() as (moto, proxy):
        make_bucket(moto)
        env, aws = base_env(Path(tmp)), aws_env(proxy)
        first, one = simulate(Path(tmp) / "run-1", env, aws)
        second, two = simulate(Path(tmp) / "run-2", env, aws)
    print("docs/ci.md workflow, example monorepo (12 targets), 3 shards run one after another")
    for label, wall, run in (("first ", first, one), ("second", second, two)):
        jobs = ", ".join(f"{name} x{len(jobs)}" for name, jobs in run.jobs.items())
        print(f"{label}  {wall:6.1f} s  ({jobs})")
    print(f"first / second = {first / second:.2f}")


if __name__ == "__main__":
    main()
