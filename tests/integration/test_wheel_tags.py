"""Exact runtime wheel tags against the real index: Amazon Linux 2 (py3.11) takes manylinux_2_24
wheels (SQLAlchemy's greenlet) natively, and never a wheel made for a newer glibc."""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

import pytest

from .conftest import layerctl, report

pytestmark = pytest.mark.integration


def one_layer(root: Path, deps: list[str], arch: str) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    (root / "pyproject.toml").write_text(f'[tool.layerctl]\npython = ["3.11"]\narch = [{arch}]\n')
    (root / "layers/db").mkdir(parents=True)
    (root / "layers/db/pyproject.toml").write_text(
        f'[project]\nname = "db"\nversion = "1"\ndependencies = {json.dumps(deps)}\n'
    )
    return root


def test_sqlalchemy_on_al2_is_native_with_greenlets_manylinux_2_24_wheel(tmp_path: Path) -> None:
    # greenlet 3.5 ships manylinux_2_24 wheels (no 2_17): uv alone would call it wheel-less at 2_17
    root = one_layer(tmp_path, ["sqlalchemy==2.0.36", "greenlet==3.5.6"], '"x86_64", "arm64"')
    listed = json.loads(layerctl("-C", str(root), "list", "--format", "json").stdout)
    assert {row["builder"] for row in listed} == {"native"}, listed
    result = layerctl("-C", str(root), "build-all")
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr
    for row in report(root)["targets"]:
        assert row["builder"] == "native"
        with zipfile.ZipFile(row["zip_path"]) as zf:
            wheel = zf.read("python/greenlet-3.5.6.dist-info/WHEEL").decode()
        machine = "x86_64" if row["arch"] == "x86_64" else "aarch64"
        assert f"Tag: cp311-cp311-manylinux_2_24_{machine}" in wheel, wheel
        with zipfile.ZipFile(row["zip_path"]) as zf:  # installed from the index: no index URL recorded
            assert not [n for n in zf.namelist() if n.endswith("direct_url.json")]


def test_a_wheel_only_for_a_newer_glibc_is_never_installed_for_al2(tmp_path: Path) -> None:
    # numpy 2.3 ships aarch64 wheels for manylinux_2_28 only: too new for Amazon Linux 2
    root = one_layer(tmp_path, ["numpy==2.3.0"], '"arm64"')
    listed = json.loads(layerctl("-C", str(root), "list", "--format", "json").stdout)
    assert listed[0]["builder"] == "hybrid" and listed[0]["builder_reason"].startswith("compiles numpy")
    result = layerctl("-C", str(root), "build-all", "--builder", "native")
    assert result.returncode == 1
    row = report(root)["targets"][0]
    assert row["status"] == "failed" and "numpy" in row["error"] and "manylinux_2_26" in row["error"]
    assert not Path(row["log"]).read_text().count("Installed")
