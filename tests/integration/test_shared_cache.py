"""Two runners sharing a build cache on S3 (moto's server on loopback, boto3 over HTTP): two
fresh copies of the example monorepo in different directories, each with its own outputs. The
first builds every target and stores it; the second, with other run settings (verify-image,
jobs, retries, the log format), restores every target (status cached) with byte-identical
zips. A third fresh copy publishes straight from the cache: `publish` restores the last good
builds and publishes them, building nothing. The secret never reaches a file or the output."""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import boto3
import pytest

from orchestrator.core.tools import uv_bin
from orchestrator.package.zip import sha256_file
from tests.support.aws import AwsProxy, aws_env, moto_server
from tests.support.fixtures import copy_example

from .conftest import layerctl, report

pytestmark = pytest.mark.integration

SECRET = "cache-secret-5f0c2b8e-layerctl-test"
CACHE = "s3://layerctl-cache/ci/layers"


@pytest.fixture(scope="module")
def moto() -> Iterator[tuple[str, AwsProxy]]:
    with moto_server() as server:
        yield server


def _env(proxy: AwsProxy) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "GITHUB_", "LAYERCTL_"))}
    return {**aws_env(env, proxy.url), "LAYERCTL_CACHE_SECRET": SECRET}


def _zips(root: Path) -> dict[str, str]:
    return {
        str(p.relative_to(root)): sha256_file(p)
        for p in sorted(root.glob("layers/*/build/lambda/layer/*/layer.zip"))
    }


def _no_secret(root: Path, *outputs: subprocess.CompletedProcess[str]) -> None:
    for result in outputs:
        assert SECRET not in result.stdout + result.stderr
    for path in root.rglob("*"):
        if path.is_file() and not path.is_symlink():
            assert SECRET.encode() not in path.read_bytes(), path


def test_a_second_runner_restores_every_target_from_the_cache(
    tmp_path: Path, moto: tuple[str, AwsProxy]
) -> None:
    moto_url, proxy = moto
    boto3.client(
        "s3", region_name="eu-west-1", endpoint_url=moto_url, aws_access_key_id="t", aws_secret_access_key="t"
    ).create_bucket(Bucket="layerctl-cache", CreateBucketConfiguration={"LocationConstraint": "eu-west-1"})
    env = _env(proxy)
    one = copy_example(tmp_path / "runner-1" / "monorepo", uv_bin())
    first = layerctl("-C", str(one), "build-all", "--jobs", "4", "--cache-url", CACHE, env=env)
    assert first.returncode == 0, first.stdout + first.stderr
    rows = report(one)["targets"]
    assert len(rows) == 12 and {r["status"] for r in rows} == {"built"}
    assert all(not r["warnings"] for r in rows), [r["warnings"] for r in rows]
    # each target's zip, then its record; and the run's measured durations, for the next runner's order
    assert proxy.ops["PutObject"] == 2 * len(rows) + 1
    s3 = boto3.client(
        "s3", region_name="eu-west-1", endpoint_url=moto_url, aws_access_key_id="t", aws_secret_access_key="t"
    )
    listed = s3.list_objects_v2(Bucket="layerctl-cache", Prefix="ci/layers/durations/")["Contents"]
    assert len(listed) == 1 and listed[0]["Key"].endswith(".json")
    measured = json.loads(s3.get_object(Bucket="layerctl-cache", Key=listed[0]["Key"])["Body"].read())
    assert set(measured["durations"]) == {r["id"] for r in rows} and measured["signature"]

    two = copy_example(tmp_path / "runner-2" / "monorepo", uv_bin())
    pyproject = two / "pyproject.toml"
    pyproject.write_text(pyproject.read_text() + 'verify-image = "example.org/verify:{python}-{arch}"\n')
    proxy.reset()
    second = layerctl(
        "-C", str(two), "build-all", "--jobs", "2", "--retries", "1", "--timeout", "600",
        "--log-format", "plain", "--cache-url", CACHE, env=env,
    )  # fmt: skip
    assert second.returncode == 0, second.stdout + second.stderr
    rows = report(two)["targets"]
    assert {r["status"] for r in rows} == {"cached"}, [(r["id"], r["status"], r["warnings"]) for r in rows]
    assert {r["cache"] for r in rows} == {CACHE}
    assert report(two)["counts"] == {"cached": 12} and report(two)["schema"] == "layerctl-report/3"
    assert "cached (restored from s3://layerctl-cache/ci/layers)" in second.stdout
    assert proxy.ops["PutObject"] == 0  # nothing built, nothing stored
    assert _zips(two) == _zips(one) and len(_zips(two)) == 12
    # restored like a build: the next run finds every target up to date, offline
    again = layerctl("-C", str(two), "build-all", "--log-format", "plain", env=env)
    assert again.returncode == 0 and {r["status"] for r in report(two)["targets"]} == {"up-to-date"}

    # a fresh checkout publishes straight from the cache
    three = copy_example(tmp_path / "runner-3" / "monorepo", uv_bin())
    pyproject = three / "pyproject.toml"
    pyproject.write_text(
        pyproject.read_text() + f'cache-url = "{CACHE}"\n\n[tool.layerctl.publish]\nregions = ["eu-west-1"]\n'
    )
    published = layerctl("-C", str(three), "publish", "--only", "web:*", "--log-format", "plain", env=env)
    assert published.returncode == 0, published.stdout + published.stderr
    rows = report(three)["targets"]
    assert {r["status"] for r in rows} == {"cached"} and len(rows) == 4
    assert {p["status"] for r in rows for p in r["publish"]} == {"published"}
    assert {k: v for k, v in _zips(three).items()} == {k: v for k, v in _zips(one).items() if "/web/" in k}
    _no_secret(tmp_path, first, second, again, published)
