"""A real monorepo (tests/fixtures/monorepo-ws): a uv workspace of two layers sharing an in-repo
library by path (one also using an in-repo C extension), a Poetry layer with a path dependency
and a group, a Poetry 2 layer with SQLAlchemy (greenlet: manylinux_2_24 wheels only on Amazon
Linux 2), a Poetry-style layer, a pip layer with extras, a layer shipping its own code. Native builds for 3.11 and
3.12 on both arches (the C extension's layer needs the container: test_monorepo_container.py)."""

from __future__ import annotations

import json
import subprocess
import zipfile
from pathlib import Path

import pytest

from orchestrator.core.tools import uv_bin
from tests.support.fixtures import copy_monorepo, record_mismatches

from .conftest import layerctl, report

pytestmark = pytest.mark.integration

NATIVE = ("--skip", "jobs:*")  # jobs has compiled in-repo code: built in the container tests


def tops(zip_path: Path) -> set[str]:
    """The distributions installed in a layer (their .dist-info names)."""
    with zipfile.ZipFile(zip_path) as zf:
        parts = {name.split("/")[1] for name in zf.namelist()}
    return {part.split("-")[0] for part in parts if part.endswith(".dist-info")}


def statuses(root: Path) -> dict[str, str]:
    return {row["id"]: row["status"] for row in report(root)["targets"]}


def build(root: Path, *args: str) -> dict[str, str]:
    result = layerctl("-C", str(root), "build-all", "--jobs", "4", *NATIVE, *args)
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr
    return statuses(root)


@pytest.fixture(scope="module")
def mono(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = copy_monorepo(tmp_path_factory.mktemp("mono") / "repo", uv_bin())
    first = build(root)
    assert len(first) == 24 and set(first.values()) == {"built"}, first  # 6 layers x 2 x 2
    return root


def test_tools_and_builders_are_detected(mono: Path) -> None:
    listed = layerctl("-C", str(mono), "list", "--format", "json", "--python", "3.12", "--arch", "x86_64")
    assert listed.returncode == 0, listed.stderr
    rows = {row["layer"]: row for row in json.loads(listed.stdout)}
    assert {name: row["tool"] for name, row in rows.items()} == {
        "api": "uv",  # a workspace member: no uv.lock of its own, never pip
        "jobs": "uv",
        "pl": "poetry",
        "db": "poetry",
        "legacy": "poetry",  # Poetry-style: [tool.poetry] dependencies, no [project]
        "extras": "pip",
        "own": "pip",
    }
    assert rows["jobs"]["builder"] == "hybrid"
    assert "libs/fastmath (in-repo) has compiled code" in rows["jobs"]["builder_reason"]
    assert {rows[name]["builder"] for name in ("api", "pl", "db", "legacy", "extras", "own")} == {"native"}


def test_each_layer_holds_what_it_chose(mono: Path) -> None:
    out = "build/lambda/layer/py3.12-arm64/layer.zip"
    assert tops(mono / "layers/api" / out) == {"six", "acme_common", "certifi", "idna", "attrs"}  # no pytest
    assert tops(mono / "layers/pl" / out) == {"six", "acme_common", "certifi", "attrs"}  # group tools, no dev
    assert tops(mono / "layers/extras" / out) == {"six", "idna", "acme_common", "certifi"}  # fast, not slow
    assert tops(mono / "layers/own" / out) == {"own_handlers", "six"}
    assert tops(mono / "layers/legacy" / out) == {"six"}
    for arch, machine in (
        ("x86_64", "x86_64"),
        ("arm64", "aarch64"),
    ):  # AL2 takes greenlet's 2_24 wheel natively
        db = mono / f"layers/db/build/lambda/layer/py3.11-{arch}/layer.zip"
        assert tops(db) == {"SQLAlchemy", "greenlet", "typing_extensions"} or tops(db) == {
            "sqlalchemy",
            "greenlet",
            "typing_extensions",
        }
        with zipfile.ZipFile(db) as zf:
            assert (
                f"Tag: cp311-cp311-manylinux_2_24_{machine}"
                in zf.read("python/greenlet-3.5.6.dist-info/WHEEL").decode()
            )
    for zip_path in mono.glob("layers/*/build/lambda/layer/*/layer.zip"):
        with zipfile.ZipFile(zip_path) as zf:  # nothing says where or when the wheels were built
            assert not [n for n in zf.namelist() if n.endswith(("direct_url.json", "uv_cache.json"))]
        assert record_mismatches(zip_path) == []
    api = (mono / "layers/api/build/lambda/layer/py3.12-arm64/requirements.txt").read_text()
    assert "acme-common @ file://" in api and "acme_common-0.1.0-py3-none-any.whl" in api


def test_a_second_run_is_up_to_date_and_a_forced_one_identical(mono: Path) -> None:
    zips = sorted(mono.glob("layers/*/build/lambda/layer/*/layer.zip"))
    before = {p: p.read_bytes() for p in zips}
    assert set(build(mono).values()) == {"up-to-date"}
    assert set(build(mono, "--force", "--only", "*:py3.11-x86_64").values()) == {"built"}
    assert {p: p.read_bytes() for p in zips} == before


def test_editing_the_shared_library_rebuilds_exactly_its_users(mono: Path) -> None:
    lib = mono / "libs/acme-common"
    # build outputs and caches in the library are not its sources
    (lib / "build").mkdir()
    (lib / "build/junk.txt").write_text("x")
    (lib / "src/acme_common/__pycache__").mkdir()
    (lib / "src/acme_common/__pycache__/x.pyc").write_bytes(b"x")
    assert set(build(mono).values()) == {"up-to-date"}

    module = lib / "src/acme_common/__init__.py"
    module.write_text(module.read_text() + "\nVERSION = 2\n")
    after = build(mono)
    rebuilt = {target.split(":")[0] for target, status in after.items() if status == "built"}
    assert rebuilt == {"api", "pl", "extras"}, after
    assert {after[t] for t in after if t.startswith("own:")} == {"up-to-date"}


def test_a_lock_change_elsewhere_in_the_workspace_rebuilds_nothing_here(mono: Path) -> None:
    jobs = mono / "layers/jobs/pyproject.toml"
    jobs.write_text(jobs.read_text().replace('"packaging>=24"', '"packaging>=24", "idna>=3"'))
    subprocess.run([uv_bin(), "lock", "--quiet", "--project", str(mono)], check=True)
    assert set(build(mono).values()) == {"up-to-date"}


def test_a_group_the_project_lacks_is_one_line_naming_file_and_setting(mono: Path) -> None:
    result = layerctl("-C", str(mono), "build", "extras", "--python", "3.12", "--arch", "x86_64",
                      env=None)  # fmt: skip
    assert result.returncode == 0, result.stdout[-2000:]
    pyproject = mono / "layers/extras/pyproject.toml"
    pyproject.write_text(
        pyproject.read_text().replace('extras = ["fast"]', 'extras = ["fast"]\ngroups = ["nope"]')
    )
    result = layerctl("-C", str(mono), "build", "extras", "--python", "3.12", "--arch", "x86_64")
    assert result.returncode == 2  # a setting of the layer is wrong: exit 2 on its row and for the run
    row = report(mono)["targets"][0]
    assert row["exit_code"] == 2
    assert row["error"] == (
        f"{pyproject}: groups names 'nope', which [dependency-groups] does not define (it has: nothing)"
    )
