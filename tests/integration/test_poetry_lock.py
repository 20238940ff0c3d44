"""Our reading of poetry.lock agrees with Poetry's own export, target by target."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from packaging.requirements import Requirement

from orchestrator.config import load_workspace
from orchestrator.discovery import discover_layers
from orchestrator.plan import make_plan
from orchestrator.resolve.poetry import poetry_requirements, target_environment
from tests.support.fixtures import EXAMPLE

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
