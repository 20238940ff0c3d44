"""Publish benchmark on the example monorepo (3 layers x py3.11, py3.12 x x86_64, arm64) into
two regions of a moto server on loopback (S3 bucket per region, uploads and layer versions).

Prints the wall time of, on the same trees, each from an empty moto (every target is uploaded
and published) and with --force (every target is built):
  A. `layerctl build-all --force --publish`  (each target published as soon as its zip is ready)
  B. `layerctl build-all --force` then `layerctl publish`  (two phases)
the median of N interleaved runs, and A / B (target: <= 1.0).

Usage: python benchmarks/bench_publish.py [--repeat N]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

import boto3

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from orchestrator.core.tools import uv_bin  # noqa: E402
from tests.support.aws import moto_server  # noqa: E402
from tests.support.fixtures import copy_example  # noqa: E402

REGIONS = ("eu-west-1", "us-east-2")


def layerctl(root: Path, env: dict[str, str], *args: str) -> float:
    start = time.perf_counter()
    subprocess.run(
        [sys.executable, "-m", "orchestrator", "-C", str(root), *args],
        check=True, stdout=subprocess.DEVNULL, env=env,
    )  # fmt: skip
    return time.perf_counter() - start


def fresh(moto: str) -> None:
    """An empty moto with a bucket per region."""
    urllib.request.urlopen(urllib.request.Request(f"{moto}/moto-api/reset", method="POST")).read()
    for region in REGIONS:
        s3 = boto3.client(
            "s3", region_name=region, endpoint_url=moto, aws_access_key_id="x", aws_secret_access_key="x"
        )
        s3.create_bucket(Bucket=f"bench-{region}", CreateBucketConfiguration={"LocationConstraint": region})


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--jobs", type=int, default=4)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp, moto_server() as (moto, _proxy):
        root = copy_example(Path(tmp) / "monorepo", uv_bin())
        pyproject = root / "pyproject.toml"
        pyproject.write_text(
            pyproject.read_text()
            + f'\n[tool.layerctl.publish]\nregions = {list(REGIONS)!r}\nbucket = "bench-{{region}}"\n'.replace(
                "'", '"'
            )
        )
        env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "GITHUB_"))}
        env.update(
            AWS_ENDPOINT_URL=moto, AWS_ACCESS_KEY_ID="x", AWS_SECRET_ACCESS_KEY="x", AWS_REGION=REGIONS[0],
            AWS_EC2_METADATA_DISABLED="true", AWS_CONFIG_FILE=os.devnull, AWS_SHARED_CREDENTIALS_FILE=os.devnull,
        )  # fmt: skip
        jobs = ("--jobs", str(args.jobs))
        layerctl(root, env, "build-all", *jobs)  # the uv cache warm, the decisions made once
        pipeline, phases, builds, publishes = [], [], [], []
        for _ in range(args.repeat):
            fresh(moto)
            pipeline.append(layerctl(root, env, "build-all", "--force", "--publish", *jobs))
            fresh(moto)
            build = layerctl(root, env, "build-all", "--force", *jobs)
            publish = layerctl(root, env, "publish", *jobs)
            builds.append(build)
            publishes.append(publish)
            phases.append(build + publish)
        a, b = statistics.median(pipeline), statistics.median(phases)
        print(f"12 targets x {len(REGIONS)} regions, --jobs {args.jobs}, median of {args.repeat}")
        print(f"A  build-all --force --publish            {a:6.1f} s")
        print(
            f"B  build-all --force, then publish         {b:6.1f} s"
            f"  ({statistics.median(builds):.1f} s + {statistics.median(publishes):.1f} s)"
        )
        print(f"A / B = {a / b:.2f}")


if __name__ == "__main__":
    main()
