"""The GitHub workflow of docs/ci.md, run as written (tests/support/ci_workflow.py: its jobs' and
the composite action's ``run:`` steps with bash, the ``uses:`` steps simulated — see there what
each stands for): a push to main plans 3 shards, builds each in its own fresh copy of the example
on its own "runner", sharing an S3 build cache (moto's server on loopback), then the publish job,
on a fourth copy, merges the shards' reports and publishes all 12 layers from the cache, building
nothing. A pull request afterwards restores every target. Compared with one machine building the
example (``built_example``): the same targets, byte-identical zips."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest

from orchestrator.core.tools import uv_bin
from orchestrator.package.zip import sha256_file
from tests.support.aws import AwsProxy, moto_server
from tests.support.ci_workflow import WorkflowRun, workflow_of
from tests.support.fixtures import copy_example

pytestmark = pytest.mark.integration

SECRET = "ci-cache-secret-3b9d7e21-layerctl-test"


@pytest.fixture(scope="module")
def moto() -> Iterator[tuple[str, AwsProxy]]:
    with moto_server() as server:
        yield server


def base_env(tmp: Path) -> dict[str, str]:
    """The runner's environment: none of this machine's AWS, GitHub or layerctl variables, not
    this test's venv on PATH (the action puts layerctl there), uv's cache shared by the runners."""
    uv_cache = subprocess.run([uv_bin(), "cache", "dir"], capture_output=True, text=True, check=True)
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("AWS_", "GITHUB_", "LAYERCTL_", "CI_", "RUNNER_"))
    }
    venv = str(Path(sys.executable).parent)
    env["PATH"] = ":".join(p for p in env.get("PATH", "").split(":") if p and p != venv)
    return {**env, "UV_CACHE_DIR": uv_cache.stdout.strip(), "NO_COLOR": "1"}


def aws_env(proxy: AwsProxy) -> dict[str, str]:
    return {
        "AWS_ENDPOINT_URL": proxy.url,
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_EC2_METADATA_DISABLED": "true",
        "AWS_CONFIG_FILE": os.devnull,
        "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
    }


def simulate(tmp: Path, event: str, proxy: AwsProxy) -> WorkflowRun:
    run = WorkflowRun(
        workflow_of(),
        tmp,
        event,
        base_env(tmp),
        {"LAYERCTL_CACHE_SECRET": SECRET},
        aws_env(proxy),
        lambda dest: copy_example(dest, uv_bin()),
    )
    run.run()
    return run


def report(root: Path, rel: str = "build/layerctl/report.json") -> dict[str, Any]:
    return dict(json.loads((root / rel).read_text()))


def zips(root: Path) -> dict[str, str]:
    return {
        str(p.relative_to(root)): sha256_file(p)
        for p in sorted(root.glob("layers/*/build/lambda/layer/*/layer.zip"))
    }


def make_bucket(moto_url: str) -> None:
    cache = workflow_of()["env"]["CACHE_URL"]
    assert cache.startswith("s3://")
    boto3.client(
        "s3", region_name="eu-west-1", endpoint_url=moto_url, aws_access_key_id="t", aws_secret_access_key="t"
    ).create_bucket(
        Bucket=cache[5:].split("/")[0], CreateBucketConfiguration={"LocationConstraint": "eu-west-1"}
    )


def test_the_documented_workflow_builds_in_shards_and_publishes_from_the_cache(
    tmp_path: Path, moto: tuple[str, AwsProxy], built_example: Any
) -> None:
    moto_url, proxy = moto
    make_bucket(moto_url)
    single, built = built_example
    assert built.returncode == 0, built.stdout + built.stderr
    single_ids = {row["id"] for row in report(single)["targets"]}
    assert len(single_ids) == 12

    first = simulate(tmp_path / "run-1", "push", proxy)
    assert set(first.jobs) == {"plan", "build", "publish"}
    # plan: 3 shards, one architecture each, on runners of it
    builds = first.jobs["build"]
    assert len(builds) == 3
    shards = [report(job.workspace) for job in builds]
    assert [r["shard"] for r in shards] == ["1/3", "2/3", "3/3"]
    for job, part in zip(builds, shards, strict=True):
        arches = {row["arch"] for row in part["targets"]}
        assert job.runs_on == {"x86_64": "ubuntu-24.04", "arm64": "ubuntu-24.04-arm"}[arches.pop()]
        assert not arches
        assert {row["status"] for row in part["targets"]} == {"built"}
    assert sorted(p.name for p in first.artifacts.iterdir()) == [
        "layerctl-report-1-of-3", "layerctl-report-2-of-3", "layerctl-report-3-of-3", "layerctl-report-merged",
    ]  # fmt: skip
    built_ids = [row["id"] for part in shards for row in part["targets"]]
    assert sorted(built_ids) == sorted(single_ids)
    # every shard's zips are the single machine's, byte for byte
    shard_zips = {k: v for job in builds for k, v in zips(job.workspace).items()}
    assert shard_zips == zips(single)

    (publish,) = first.jobs["publish"]
    merged = report(publish.workspace, "merged-report/report.json")
    assert {row["id"] for row in merged["targets"]} == single_ids
    assert [p["label"] for p in merged["parts"]] == ["1/3", "2/3", "3/3"]
    assert merged["exit_code"] == 0 and merged["counts"] == {"built": 12}
    summary = publish.summary.read_text()  # the merged table, a row per shard, then the publish run's
    assert "| part | targets | time | exit code |" in summary
    assert all(f"| {k}/3 | " in summary for k in (1, 2, 3)), summary
    # the publish job builds nothing: every target restored from the cache, then published
    published = report(publish.workspace)
    assert {row["status"] for row in published["targets"]} == {"cached"}
    assert [p["status"] for row in published["targets"] for p in row["publish"]] == ["published"] * 12
    assert zips(publish.workspace) == zips(single)
    lam = boto3.client(
        "lambda",
        region_name="eu-west-1",
        endpoint_url=moto_url,
        aws_access_key_id="t",
        aws_secret_access_key="t",
    )
    names = [layer["LayerName"] for layer in lam.list_layers()["Layers"]]
    assert len(names) == 12
    assert all(len(lam.list_layer_versions(LayerName=n)["LayerVersions"]) == 1 for n in names)
    arns = json.loads(publish.ctx["steps"]["publish"]["outputs"]["layer-arns"])
    assert set(arns) == single_ids
    assert first.roles[:3] == ["arn:aws:iam::123456789012:role/layer-cache-write"] * 3

    # a pull request afterwards: fresh runners, the cache read only, every target restored
    proxy.reset()
    second = simulate(tmp_path / "run-2", "pull_request", proxy)
    assert set(second.jobs) == {"plan", "build"}  # no publish job on a pull request
    again = [report(job.workspace) for job in second.jobs["build"]]
    assert [r["shard"] for r in again] == ["1/3", "2/3", "3/3"]
    assert {row["status"] for part in again for row in part["targets"]} == {"cached"}
    assert sum(len(part["targets"]) for part in again) == 12
    assert proxy.ops["PutObject"] == 0 and proxy.ops["PublishLayerVersion"] == 0
    assert second.roles == ["arn:aws:iam::123456789012:role/layer-cache-read"] * 3
    # the secret reached layerctl through the environment only
    for line in first.log + second.log:
        assert SECRET not in line
    for path in tmp_path.rglob("*"):
        if path.is_file() and not path.is_symlink():
            assert SECRET.encode() not in path.read_bytes(), path
