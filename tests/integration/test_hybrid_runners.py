"""Runners sharing a build cache (a directory ``cache-url``) share the wheels hybrid builds from
sdists: a second runner (a fresh copy of the workspace, its own empty cache-dir) whose layer
needs the same sdist compiles nothing; a wheel in the cache that does not verify costs a
compile, never the build. Records are signed (``LAYERCTL_CACHE_SECRET``)."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest

from tests.support.aws import aws_env, moto_server
from tests.support.fixtures import make_sdist

from .conftest import STAND_IN, layerctl, report

pytestmark = [pytest.mark.integration, pytest.mark.docker, pytest.mark.usefixtures("docker_engine")]

SECRET = "a-long-random-string-for-the-test"


def runner(root: Path, shared: Path, deps: list[str]) -> Path:
    """A workspace at ``root`` with its own cache-dir, the shared cache at ``shared``; layer c
    needs fastsum's sdist (copied, byte for byte, from the first runner's when it exists)."""
    (root / "layers/c").mkdir(parents=True, exist_ok=True)
    (root / "pyproject.toml").write_text(
        f'[tool.layerctl]\npython = ["3.11"]\narch = ["x86_64"]\nimage = "{STAND_IN}"\n'
        f'cache-dir = "{root / "cache"}"\ncache-url = "{shared}"\n'
    )
    sdist = root / "layers/c/vendor/fastsum-1.0.0.tar.gz"
    if not sdist.exists():
        make_sdist("fastsum", sdist.parent)
    (root / "layers/c/pyproject.toml").write_text(
        f'[project]\nname = "c"\nversion = "1"\ndependencies = {json.dumps([f"fastsum @ {sdist.as_uri()}", *deps])}\n'
    )
    return root


def build(root: Path) -> str:
    env = {**os.environ, "LAYERCTL_CACHE_SECRET": SECRET}
    result = layerctl("-C", str(root), "build-all", "--log-format", "plain", env=env)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr
    (row,) = report(root)["targets"]
    assert row["status"] == "built" and row["builder"] == "hybrid", row
    return Path(row["log"]).read_text()


def test_a_second_runner_compiles_nothing_and_a_bad_wheel_costs_a_compile(tmp_path: Path) -> None:
    shared = tmp_path / "shared"
    first = runner(tmp_path / "one", shared, [])
    log = build(first)
    assert "sdist: fastsum-1.0.0.tar.gz compiled in" in log
    (record,) = shared.glob("built-wheels/*/record.json")
    assert json.loads(record.read_text())["signature"]  # signed with the secret

    # another runner: a copy of the workspace, its own empty cache-dir; its layer differs (so the
    # layer's zip is not in the cache) but needs the same sdist
    second = tmp_path / "two"
    shutil.copytree(first / "layers/c/vendor", second / "layers/c/vendor")
    log = build(runner(second, shared, ["six==1.16.0"]))
    assert "built wheel fastsum-1.0.0-cp311-cp311-linux_x86_64.whl fetched from" in log
    assert "sdist: fastsum-1.0.0.tar.gz reused" in log and "$ docker run" not in log

    # a wheel in the cache that does not hash to its record: a miss, compiled again, built
    (wheel,) = shared.glob("built-wheels/*/*.whl")
    wheel.chmod(0o644)
    wheel.write_bytes(b"not the wheel")
    third = tmp_path / "three"
    shutil.copytree(first / "layers/c/vendor", third / "layers/c/vendor")
    log = build(runner(third, shared, ["idna==3.7"]))
    assert "its wheel does not hash to its record; a miss" in log
    assert "sdist: fastsum-1.0.0.tar.gz compiled in" in log


def test_publish_on_a_fresh_copy_restores_hybrid_and_container_targets(tmp_path: Path) -> None:
    """A publish job on a fresh checkout (no outputs, its own empty cache-dir): a hybrid target
    (``auto``) and a container target are restored from the shared cache, their keys holding the
    image's digest the engine tells, and published; nothing is built or compiled."""
    shared = tmp_path / "shared"
    first = runner(tmp_path / "one", shared, [])
    (first / "layers/k").mkdir()
    (first / "layers/k/pyproject.toml").write_text(
        '[project]\nname = "k"\nversion = "1"\ndependencies = ["six==1.16.0"]\n\n'
        '[tool.layerctl]\nbuilder = "container"\n'
    )
    env = {**os.environ, "LAYERCTL_CACHE_SECRET": SECRET}
    result = layerctl("-C", str(first), "build-all", "--log-format", "plain", env=env)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr
    built = {row["id"]: row for row in report(first)["targets"]}
    assert {r["builder"] for r in built.values()} == {"hybrid", "container"}

    fresh = tmp_path / "fresh"  # the checkout: sources only, its own empty cache-dir
    shutil.copytree(first / "layers", fresh / "layers", ignore=shutil.ignore_patterns("build"))
    runner(fresh, shared, [])
    with moto_server() as (moto, _proxy):
        published = layerctl("-C", str(fresh), "publish", "--log-format", "plain", env=aws_env(env, moto))
    assert published.returncode == 0, published.stdout[-3000:] + published.stderr
    rows = {row["id"]: row for row in report(fresh)["targets"]}
    assert set(rows) == set(built)
    for target, row in rows.items():
        assert row["status"] == "cached", row
        assert row["builder"] == built[target]["builder"]  # as decided where it was built
        assert row["sha256"] == built[target]["sha256"]
        assert [p["status"] for p in row["publish"]] == ["published"]
    assert not list((fresh / "cache").glob("built-wheels/*/*.whl"))  # nothing compiled
