"""Our reading of poetry.lock agrees with Poetry's own export, target by target."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from packaging.requirements import Requirement

from orchestrator.core.errors import ResolveError
from orchestrator.plan.targets import make_plan
from orchestrator.resolve.poetry import poetry_requirements, target_environment
from orchestrator.workspace.config import load_workspace
from orchestrator.workspace.discovery import discover_layers
from tests.support.fixtures import EXAMPLE

from .conftest import layerctl, report

pytestmark = pytest.mark.integration

POETRY = Path(sys.executable).with_name("poetry")


def pins(text: str, env: dict[str, str] | None = None) -> set[str]:
    found = set()
    for line in text.splitlines():
        if not line or not line[0].isalpha():
            continue
        req = Requirement(line.split(" \\")[0])
        if env is None or req.marker is None or req.marker.evaluate(env):
            found.add(f"{req.name.lower()}=={next(iter(req.specifier)).version}")
    return found


@pytest.mark.skipif(not POETRY.exists(), reason="needs Poetry (pip install -e '.[dev]')")
def test_matches_poetry_export_for_every_target(tmp_path: Path) -> None:
    root = tmp_path / "ws"
    shutil.copytree(EXAMPLE, root, ignore=shutil.ignore_patterns("build", "uv.lock"))
    data = root / "layers/data"
    assert subprocess.run([str(POETRY), "check", "--lock"], cwd=data, capture_output=True).returncode == 0
    exported = subprocess.run(
        [str(POETRY), "export", "--format", "requirements.txt", "--only", "main"],
        cwd=data,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    workspace = load_workspace(root)
    plan = make_plan(workspace, discover_layers(workspace), layer_names=["data"])
    assert len(plan.targets) == 4
    for target in plan.targets:
        ours = pins(poetry_requirements(target))
        assert ours == pins(exported, target_environment(target)), target.id
        assert "numpy==2.2.6" in ours and "pytest" not in " ".join(ours)


def data_workspace(tmp_path: Path) -> Path:
    """A workspace holding a copy of the example's Poetry layer, one target."""
    root = tmp_path / "ws"
    (root / "layers").mkdir(parents=True)
    (root / "pyproject.toml").write_text('[tool.layerctl]\npython = ["3.12"]\narch = ["x86_64"]\n')
    shutil.copytree(EXAMPLE / "layers/data", root / "layers/data", ignore=shutil.ignore_patterns("build"))
    return root


def poetry_says_fresh(layer: Path) -> bool:
    check = subprocess.run([str(POETRY), "check", "--lock"], cwd=layer, capture_output=True, text=True)
    return check.returncode == 0


def we_say_fresh(root: Path) -> bool:
    workspace = load_workspace(root)
    (target,) = make_plan(workspace, discover_layers(workspace)).targets
    try:
        poetry_requirements(target)
    except ResolveError as exc:
        assert "out of date with pyproject.toml" in exc.message and "poetry lock" in exc.message
        return False
    return True


@pytest.mark.skipif(not POETRY.exists(), reason="needs Poetry (pip install -e '.[dev]')")
@pytest.mark.parametrize(
    ("old", "new"),
    [
        ("", ""),
        ('"numpy>=2.0,<2.3",', '"numpy>=2.0,<2.4",'),
        ('requires-python = ">=3.10"', 'requires-python = ">=3.11"'),
        ('pytest = ">=8"', 'pytest = ">=7"'),
        ("[build-system]", '[dependency-groups]\nlint = ["ruff"]\n\n[build-system]'),
        ('version = "0.1.0"', 'version = "9"'),
        ("[build-system]", '[tool.layerctl]\nbuilder = "native"\n\n[build-system]'),
    ],
)
def test_stale_exactly_when_poetry_check_lock_says_so(tmp_path: Path, old: str, new: str) -> None:
    root = data_workspace(tmp_path)
    pyproject = root / "layers/data/pyproject.toml"
    pyproject.write_text(pyproject.read_text().replace(old, new))
    assert we_say_fresh(root) == poetry_says_fresh(pyproject.parent)


def test_a_malformed_lock_fails_its_targets_and_the_report_says_so(tmp_path: Path) -> None:
    """One line per target, exit 1, a report of this run: no traceback, no stale report."""
    root = data_workspace(tmp_path)
    lock = root / "layers/data/poetry.lock"
    lock.write_text(lock.read_text().replace('name = "numpy"\n', "", 1))
    report_file = root / "build/layerctl/report.json"
    report_file.parent.mkdir(parents=True)
    report_file.write_text('{"previous": "run"}')

    listed = layerctl("-C", str(root), "list")
    assert listed.returncode == 0 and "Traceback" not in listed.stderr
    assert "undecided: " in listed.stdout and "has no 'name'" in listed.stdout

    result = layerctl("-C", str(root), "build-all", "--log-format", "plain")
    assert result.returncode == 1, result.stdout + result.stderr
    assert "Traceback" not in result.stdout + result.stderr
    (row,) = report(root)["targets"]
    assert row["id"] == "data:py3.12-x86_64" and row["status"] == "failed"
    assert row["error"] == f"{lock}: [[package]] number 4 has no 'name'; run `poetry lock` in {lock.parent}"
