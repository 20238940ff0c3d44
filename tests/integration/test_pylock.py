"""A PEP 751 pylock.toml layer (written here by ``uv export --format pylock.toml``, its uv.lock then
deleted) builds natively for 3.11 and 3.12 on both arches, each with the packages its markers
allow."""

from __future__ import annotations

import subprocess
import zipfile
from pathlib import Path

import pytest

from orchestrator.core.tools import uv_bin

from .conftest import layerctl, report

pytestmark = pytest.mark.integration

PROJECT = """[project]
name = "locked"
version = "1"
requires-python = ">=3.11"
dependencies = [
    "six",
    "typing-extensions; python_version < '3.12'",
    "attrs; platform_machine == 'aarch64'",
]
"""


def _top_level(zip_path: Path) -> set[str]:
    with zipfile.ZipFile(zip_path) as z:
        return {n.split("/")[1] for n in z.namelist() if n.startswith("python/")}


def test_a_pylock_layer_builds_every_target_with_its_markers(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text(
        '[tool.layerctl]\npython = ["3.11", "3.12"]\narch = ["x86_64", "arm64"]\nbuilder = "native"\n'
    )
    layer = tmp_path / "layers" / "locked"
    layer.mkdir(parents=True)
    (layer / "pyproject.toml").write_text(PROJECT)
    uv = uv_bin()
    subprocess.run([uv, "lock", "--no-config", "--quiet"], cwd=layer, check=True)
    subprocess.run(
        [
            uv,
            "export",
            "--no-config",
            "--quiet",
            "--format",
            "pylock.toml",
            "--no-emit-project",
            "-o",
            "pylock.toml",
        ],
        cwd=layer,
        check=True,
    )
    (layer / "uv.lock").unlink()

    listed = layerctl("-C", str(tmp_path), "list", "--format", "json")
    assert '"tool": "pylock"' in listed.stdout, listed.stdout + listed.stderr
    result = layerctl("-C", str(tmp_path), "build-all")
    assert result.returncode == 0, result.stdout + result.stderr
    rows = {r["id"]: r for r in report(tmp_path)["targets"]}
    assert {r["status"] for r in rows.values()} == {"built"}
    for python in ("3.11", "3.12"):
        for arch in ("x86_64", "arm64"):
            names = _top_level(layer / f"build/lambda/layer/py{python}-{arch}/layer.zip")
            assert "six.py" in names
            assert ("typing_extensions.py" in names) is (python == "3.11"), (python, arch)
            assert ("attrs" in names) is (arch == "arm64"), (python, arch)
