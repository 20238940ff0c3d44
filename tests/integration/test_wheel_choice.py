"""Wheels are chosen wherever wheels exist, against the real index (issue 16, item 7).

One workspace as teams have it, for Amazon Linux 2 (python3.11: manylinux_2_26):
* ``app``, a uv workspace member using a pure in-repo library (libs/acme-common) and greenlet 3.5.6,
  whose only Linux wheels are manylinux_2_24 (uv's 2_17 platform sees none: the exact-tag step);
* ``num``, a pip layer declaring ``numpy>=2.2``: numpy 2.3 and later have no Amazon Linux 2 wheel
  (aarch64: manylinux_2_28 only; x86_64: 2_27/2_28), numpy 2.2.6 has manylinux2014 wheels;
* ``src``, a pip layer declaring ``numpy>=2.2`` and docopt, which has a source distribution only;
* ``dyn``, a pip layer using an in-repo project whose metadata only its ``setup.py`` knows.

``auto`` builds app, num and dyn natively (they installed natively all along, yet were sent to the
container); only src needs the container, and its reason names docopt.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import zipfile
from pathlib import Path

import anyio
import pytest
from packaging.version import Version

from orchestrator.core.tools import uv_bin, uv_environment
from orchestrator.plan.targets import make_plan
from orchestrator.resolve.pip import pin_requirements, pip_requirements
from orchestrator.workspace.config import load_workspace
from orchestrator.workspace.discovery import discover_layers
from tests.support.fixtures import FIXTURES

from .conftest import layerctl, report

pytestmark = pytest.mark.integration

ROOT_TOML = """[tool.layerctl]
layers = ["layers/*/pyproject.toml"]
python = ["3.11"]
arch = ["x86_64", "arm64"]

[tool.uv.workspace]
members = ["layers/app"]
"""
APP_TOML = """[project]
name = "app-layer"
version = "1.0.0"
requires-python = ">=3.10"
dependencies = ["acme-common", "greenlet==3.5.6"]

[tool.uv]
package = false

[tool.uv.sources]
acme-common = { path = "../../libs/acme-common" }
"""


def pip_layer(root: Path, name: str, deps: list[str]) -> None:
    (root / "layers" / name).mkdir(parents=True)
    (root / "layers" / name / "pyproject.toml").write_text(
        f'[project]\nname = "{name}"\nversion = "1"\ndependencies = {json.dumps(deps)}\n'
    )


@pytest.fixture(scope="module")
def ws(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("wheel-choice") / "repo"
    shutil.copytree(FIXTURES / "monorepo-ws/libs/acme-common", root / "libs/acme-common")
    (root / "pyproject.toml").write_text(ROOT_TOML)
    (root / "layers/app").mkdir(parents=True)
    (root / "layers/app/pyproject.toml").write_text(APP_TOML)
    pip_layer(root, "num", ["numpy>=2.2"])
    pip_layer(root, "src", ["numpy>=2.2", "docopt"])
    # an in-repo project whose metadata only its setup.py knows: uv builds it to read it
    (root / "libs/legacy/legacy").mkdir(parents=True)
    (root / "libs/legacy/legacy/__init__.py").write_text("")
    (root / "libs/legacy/setup.py").write_text(
        'from setuptools import setup\nsetup(name="legacy", version="0.1", packages=["legacy"], install_requires=["six"])\n'
    )
    pip_layer(root, "dyn", ["legacy @ file:../../libs/legacy"])
    subprocess.run([uv_bin(), "lock", "--quiet", "--project", str(root)], check=True, cwd=root)
    return root


def test_auto_chooses_native_where_wheels_exist_and_names_the_one_without(ws: Path) -> None:
    listed = layerctl("-C", str(ws), "list", "--format", "json")
    assert listed.returncode == 0, listed.stderr
    rows = {row["id"]: row for row in json.loads(listed.stdout)}
    for arch in ("x86_64", "arm64"):
        for layer in ("app", "num", "dyn"):
            row = rows[f"{layer}:py3.11-{arch}"]
            assert (row["builder"], row["builder_reason"]) == ("native", "every dependency has a wheel"), row
        src = rows[f"src:py3.11-{arch}"]
        assert src["builder"] == "hybrid" and src["builder_reason"].startswith(
            "compiles docopt in the image"
        ), src


def test_pins_are_the_newest_versions_with_a_wheel_and_sources_only_where_none(ws: Path) -> None:
    workspace = load_workspace(ws)
    targets = {t.id: t for t in make_plan(workspace, discover_layers(workspace)).targets}
    for arch in ("x86_64", "arm64"):
        for layer in ("num", "src"):
            target = targets[f"{layer}:py3.11-{arch}"]
            pins = anyio.run(pin_requirements, target, pip_requirements(target), uv_environment())
            numpy = next(line for line in pins.splitlines() if line.startswith("numpy=="))
            assert Version("2.2") <= Version(numpy.split("==")[1].split()[0]) < Version("2.3"), pins
            assert ("docopt==0.6.2" in pins) == (layer == "src")
            assert ("from source" in pins) == (layer == "src"), pins  # and says which package
            if layer == "src":
                assert "docopt" in next(line for line in pins.splitlines() if "from source" in line)


def test_they_build_natively_and_pass_the_audit(ws: Path) -> None:
    result = layerctl("-C", str(ws), "build-all", "--skip", "src:*", "--jobs", "2")
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr
    rows = {row["id"]: row for row in report(ws)["targets"]}
    assert {row["status"] for row in rows.values()} == {"built"}, rows
    assert {row["builder"] for row in rows.values()} == {"native"}
    for arch, machine in (("x86_64", "x86_64"), ("arm64", "aarch64")):
        with zipfile.ZipFile(rows[f"app:py3.11-{arch}"]["zip_path"]) as zf:
            names = zf.namelist()
            wheel = zf.read("python/greenlet-3.5.6.dist-info/WHEEL").decode()
        assert f"Tag: cp311-cp311-manylinux_2_24_{machine}" in wheel, wheel
        assert "python/acme_common/__init__.py" in names
        with zipfile.ZipFile(rows[f"num:py3.11-{arch}"]["zip_path"]) as zf:
            (numpy,) = {n.split("/")[1] for n in zf.namelist() if n.startswith("python/numpy-")}
        assert numpy.startswith("numpy-2.2."), numpy
        with zipfile.ZipFile(rows[f"dyn:py3.11-{arch}"]["zip_path"]) as zf:
            assert {"python/legacy/__init__.py", "python/six.py"} <= set(zf.namelist())
