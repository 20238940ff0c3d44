"""Several Docker engines, against real engines: the test bed's, and a second dockerd started
here on a loopback TCP port with TLS (tests/support/dockerd.py), registered as a Docker context
and declared native for arm64. (Both run on this x86_64 machine, so the second one runs arm64
containers under the same QEMU: "native" is what the table declares, which is what routing
goes by.) A small container matrix: every arm64 target on the second engine; the second engine
stopped mid-run moves its targets to the first and the run succeeds; `layerctl engines` shows
both, an engine that is not there is a row."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import time
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.support.dockerd import SecondEngine, _free_port, start_engine
from tests.support.fixtures import make_wheel

from .conftest import STAND_IN, labelled_containers, report

pytestmark = [pytest.mark.integration, pytest.mark.docker, pytest.mark.usefixtures("docker_engine")]

ARM64 = STAND_IN.format(python="3.11", arch="arm64")


@pytest.fixture(scope="module")
def second() -> Iterator[SecondEngine]:
    engine = start_engine()
    try:
        engine.load(ARM64)
        yield engine
    finally:
        engine.remove()  # stopped, its data root and everything else it made removed


def layerctl(engine: SecondEngine, *args: str) -> subprocess.CompletedProcess[str]:
    """The CLI with the Docker config that holds the `second` context."""
    return subprocess.run(
        [sys.executable, "-m", "orchestrator", *args],
        env=engine.env,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )


@pytest.fixture(scope="module")
def workspace(tmp_path_factory: pytest.TempPathFactory, second: SecondEngine) -> Path:
    """Two layers of one local wheel each, python 3.11 x both arches, container builds without a
    network; three engines: this one, the second (native arm64) and one that is not there."""
    root = tmp_path_factory.mktemp("engines")
    for name in ("a", "b"):
        wheel = make_wheel(
            root / "layers" / name / "vendor", f"pkg{name}", "1.0", {f"pkg{name}/__init__.py": b"X = 1\n"}
        )
        (root / "layers" / name / "pyproject.toml").write_text(
            f'[project]\nname = "{name}"\nversion = "1"\n'
            f"dependencies = [{json.dumps(f'pkg{name} @ {wheel.as_uri()}')}]\n"
        )
    (root / "pyproject.toml").write_text(
        '[tool.layerctl]\npython = ["3.11"]\nbuilder = "container"\ncontainer-network = "none"\n'
        f'image = "{STAND_IN}"\nverify-image = "{STAND_IN}"\njobs = 2\n\n'
        "[tool.layerctl.engines]\n"
        'local = "default"\n'
        'second = { context = "second", platforms = ["arm64"], capacity = 2 }\n'
        f'gone = "tcp://127.0.0.1:{_free_port()}"\n'
    )
    return root


def rows(root: Path) -> dict[str, dict[str, Any]]:
    return {row["id"]: row for row in report(root)["targets"]}


def zips_are_valid(root: Path) -> None:
    for row in rows(root).values():
        with zipfile.ZipFile(row["zip_path"]) as zf:
            assert zf.testzip() is None
            assert f"python/pkg{row['layer']}/__init__.py" in zf.namelist()


@pytest.fixture(scope="module")
def listed(second: SecondEngine, workspace: Path) -> list[dict[str, Any]]:
    result = layerctl(second, "-C", str(workspace), "engines", "--format", "json")
    assert result.returncode == 0, result.stderr
    return list(json.loads(result.stdout))


@pytest.fixture(scope="module")
def routed(second: SecondEngine, workspace: Path, listed: object) -> subprocess.CompletedProcess[str]:
    return layerctl(second, "-C", str(workspace), "build-all", "--log-format", "plain")


def test_engines_shows_each_engine_and_an_unreachable_one_as_a_row(listed: list[dict[str, Any]]) -> None:
    by_name = {row["name"]: row for row in listed}
    assert set(by_name) == {"local", "second", "gone"}
    assert by_name["local"]["reachable"] and by_name["local"]["native"] == ["x86_64"]
    assert by_name["second"]["reachable"] and by_name["second"]["native"] == ["arm64"]
    assert by_name["second"]["where"].startswith("tcp://127.0.0.1:") and by_name["second"]["version"]
    assert ARM64 in by_name["second"]["images"]
    assert STAND_IN.format(python="3.11", arch="x86_64") in by_name["second"]["missing"]
    assert not by_name["gone"]["reachable"] and "not reachable" in by_name["gone"]["error"]


def test_every_arm64_target_runs_on_the_arm64_engine(
    routed: subprocess.CompletedProcess[str], second: SecondEngine, workspace: Path
) -> None:
    assert routed.returncode == 0, routed.stdout[-3000:] + routed.stderr[-3000:]
    said = routed.stdout + routed.stderr
    assert "engine gone not reachable" in said  # said once; the run goes on without it
    engines = {target_id: row["engine"] for target_id, row in rows(workspace).items()}
    assert engines == {
        "a:py3.11-x86_64": "local",
        "b:py3.11-x86_64": "local",
        "a:py3.11-arm64": "second",
        "b:py3.11-arm64": "second",
    }
    assert "container@second" in said  # the summary says where each target ran
    zips_are_valid(workspace)

    # verify is routed the same way: each arm64 layer imported on the arm64 engine
    verified = layerctl(second, "-C", str(workspace), "verify")
    assert verified.returncode == 0, verified.stdout[-3000:] + verified.stderr[-3000:]
    for target_id, engine in engines.items():
        assert re.search(rf"^{re.escape(target_id)}\s*\| engine {engine}$", verified.stdout, re.M), target_id


def test_a_lost_engine_moves_its_targets_and_leaves_nothing(
    routed: subprocess.CompletedProcess[str], second: SecondEngine, workspace: Path
) -> None:
    assert routed.returncode == 0
    run = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "orchestrator",
            "-C",
            str(workspace),
            "build-all",
            "--force",
            "--log-format",
            "plain",
        ],
        env=second.env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    deadline = time.monotonic() + 120
    label = f"label=layerctl.workspace={workspace}"
    while not second.docker("ps", "-q", "--filter", label).stdout.strip():  # its builds have started
        assert run.poll() is None and time.monotonic() < deadline, "no build started on the second engine"
        time.sleep(0.2)
    second.stop()
    out, err = run.communicate(timeout=600)
    assert run.returncode == 0, out[-3000:] + err[-3000:]
    said = out + err
    assert "engine second stopped answering" in said and "moves to another engine" in said
    assert {row["engine"] for row in rows(workspace).values()} == {"local"}
    assert all(row["status"] == "built" for row in rows(workspace).values())
    zips_are_valid(workspace)
    assert labelled_containers(workspace) == []
    # the lost engine kept the containers it stopped; once it is back, clean removes them
    second.start()
    cleaned = layerctl(second, "-C", str(workspace), "clean", "--containers")
    assert cleaned.returncode == 0, cleaned.stderr
    assert second.docker("ps", "-a", "-q", "--filter", label).stdout.strip() == b""
