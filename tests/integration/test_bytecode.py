"""``bytecode = true`` on a machine whose only ``pythonX.Y`` for the target is a pyenv shim of a
version pyenv does not have: a warning and a zip without .pyc files, never a failed target."""

from __future__ import annotations

import os
import shutil
import sys
import zipfile
from pathlib import Path

import pytest

from orchestrator.core.tools import uv_bin

from .conftest import layerctl, report

pytestmark = pytest.mark.integration


def test_a_pyenv_shim_is_a_warning_not_a_failure(tmp_path: Path) -> None:
    current = f"{sys.version_info.major}.{sys.version_info.minor}"
    system = os.pathsep.join(["/usr/bin", "/bin"])
    python = next(
        (v for v in ("3.12", "3.13", "3.11") if v != current and not shutil.which(f"python{v}", path=system)),
        None,
    )
    if python is None:
        pytest.skip("this machine has a system python for every version the test could use")
    shims = tmp_path / "shims"
    shims.mkdir()
    shim = shims / f"python{python}"
    shim.write_text(f'#!/bin/sh\necho "pyenv: python{python}: command not found" >&2\nexit 127\n')
    shim.chmod(0o755)
    root = tmp_path / "ws"
    (root / "layers/six").mkdir(parents=True)
    (root / "pyproject.toml").write_text(
        f'[tool.layerctl]\npython = ["{python}"]\narch = ["x86_64"]\nbuilder = "native"\nbytecode = true\n'
    )
    (root / "layers/six/pyproject.toml").write_text(
        '[project]\nname = "six"\nversion = "1"\ndependencies = ["six==1.16.0"]\n'
    )
    env = {
        **os.environ,
        "PATH": os.pathsep.join([str(shims), str(Path(uv_bin()).parent), system]),
        "PYENV_ROOT": str(tmp_path / "no-pyenv"),
        "UV_PYTHON_INSTALL_DIR": str(tmp_path / "no-uv-pythons"),
    }
    result = layerctl("-C", str(root), "build-all", "--log-format", "plain", env=env)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr
    row = report(root)["targets"][0]
    assert row["status"] == "built"
    assert row["warnings"] == [
        f"bytecode = true but this machine has no python{python} (a pyenv shim without that version "
        "does not count): the zip has no .pyc files"
    ]
    with zipfile.ZipFile(row["zip_path"]) as zf:
        assert "python/six.py" in zf.namelist() and not [n for n in zf.namelist() if n.endswith(".pyc")]
