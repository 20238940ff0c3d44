"""The simplest layout (issue 16, item 8): a directory holding one ``pyproject.toml`` (with a
``poetry.lock``, a ``uv.lock`` or neither) is the layer. ``layerctl build-all`` with no other
setting builds the default matrix into ``build/lambda/layer/<target>/layer.zip``. Needs the
package index (six: small, pure Python)."""

from __future__ import annotations

import os
import shutil
import subprocess
import zipfile
from collections.abc import Callable
from pathlib import Path

import pytest

from orchestrator.core.tools import uv_bin
from tests.support.fixtures import FIXTURES

from .conftest import layerctl, report

pytestmark = pytest.mark.integration

PEP621 = '[project]\nname = "{name}"\nversion = "0.1.0"\nrequires-python = ">=3.11"\ndependencies = ["six"]\n'
DEFAULT_MATRIX = ("py3.12-x86_64", "py3.12-arm64")


def pip_project(root: Path) -> str:
    (root / "pyproject.toml").write_text(PEP621.format(name="single-pip"))
    return "single-pip"


def uv_project(root: Path) -> str:
    (root / "pyproject.toml").write_text(PEP621.format(name="single-uv"))
    env = {k: v for k, v in os.environ.items() if not k.startswith("UV_")}
    # made here, never committed: a uv.lock records the index's URLs
    subprocess.run([uv_bin(), "lock", "--quiet", "--project", str(root)], check=True, env=env)
    return "single-uv"


def poetry_project(root: Path) -> str:
    for name in ("pyproject.toml", "poetry.lock"):  # the lock holds no URLs (tests/support/poetry_lock.py)
        shutil.copy(FIXTURES / "single-poetry" / name, root / name)
    return "single-poetry"


@pytest.mark.parametrize(
    ("make", "tool"), [(pip_project, "pip"), (uv_project, "uv"), (poetry_project, "poetry")], ids=str
)
def test_one_project_builds_with_no_setting(tmp_path: Path, make: Callable[[Path], str], tool: str) -> None:
    root = tmp_path / "project"
    root.mkdir()
    name = make(root)
    (root / "src").mkdir()
    result = layerctl("build-all", cwd=root / "src")  # from inside it, as a user would
    assert result.returncode == 0, result.stdout + result.stderr
    rows = {row["id"]: row for row in report(root)["targets"]}
    assert set(rows) == {f"{name}:{variant}" for variant in DEFAULT_MATRIX}
    for variant in DEFAULT_MATRIX:
        row = rows[f"{name}:{variant}"]
        assert row["status"] == "built" and row["tool"] == tool, row
        with zipfile.ZipFile(root / "build/lambda/layer" / variant / "layer.zip") as zf:
            assert "python/six.py" in zf.namelist()
    # the report beside the outputs, each in a directory of its own; clean leaves the project
    assert (root / "build/layerctl/report.json").is_file()
    again = layerctl("build-all", cwd=root)
    assert again.returncode == 0, again.stdout + again.stderr
    assert {row["status"] for row in report(root)["targets"]} == {"up-to-date"}
    cleaned = layerctl("clean", cwd=root)
    assert cleaned.returncode == 0, cleaned.stderr
    assert not list(root.glob("build/lambda/layer/*/layer.zip"))
    assert not (root / "build/layerctl/report.json").exists()
    assert (root / "pyproject.toml").is_file()
