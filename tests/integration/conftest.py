from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from orchestrator.core.tools import uv_bin
from tests.support.fixtures import copy_example


def layerctl(
    *args: str, cwd: Path | None = None, env: dict[str, str] | None = None, timeout: float = 900
) -> subprocess.CompletedProcess[str]:
    """Run the real CLI in a subprocess, as a user would."""
    return subprocess.run(
        [sys.executable, "-m", "orchestrator", *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def report(root: Path) -> dict[str, Any]:
    return dict(json.loads((root / "build/layerctl/report.json").read_text()))


@pytest.fixture(scope="session")
def built_example(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, subprocess.CompletedProcess[str]]:
    """The example monorepo, copied and built once natively for the whole session."""
    root = copy_example(tmp_path_factory.mktemp("example") / "monorepo", uv_bin())
    result = layerctl("-C", str(root), "build-all", "--jobs", "4")
    return root, result


def engine_answers() -> bool:
    if shutil.which("docker") is None:
        return False
    return subprocess.run(["docker", "info"], capture_output=True, check=False).returncode == 0


# The test bed's stand-in build images (tests/testbed.sh): a repository of their own, never the
# official SAM names; tests point layerctl at them through the `image` setting.
STAND_IN = "layerctl-testbed/build-python{python}:{arch}"
STAND_INS = [STAND_IN.format(python=py, arch=arch) for py in ("3.11", "3.13") for arch in ("x86_64", "arm64")]


@pytest.fixture(scope="session")
def docker_engine() -> None:
    """A running engine with the stand-in SAM images (tests/testbed.sh makes both). Without it the
    container tests are skipped with the reason, except in CI, where they must run."""
    problem = None
    if not engine_answers():
        problem = "no Docker engine answers (run tests/testbed.sh as root)"
    else:
        missing = [
            image
            for image in STAND_INS
            if subprocess.run(["docker", "image", "inspect", image], capture_output=True).returncode != 0
        ]
        if missing:
            problem = f"stand-in images missing: {', '.join(missing)} (run tests/testbed.sh)"
    if problem:
        if os.environ.get("CI") == "true":
            pytest.fail(f"CI requires the container tests: {problem}")
        pytest.skip(problem)


def labelled_containers(workspace: Path | None = None) -> list[str]:
    """layerctl's containers on the engine; of one workspace's runs when it is given (other
    runs may share the engine: a developer's, a parallel test run's)."""
    label = f"label=layerctl.workspace={workspace}" if workspace else "label=layerctl"
    out = subprocess.run(
        ["docker", "ps", "-a", "--filter", label, "--format", "{{.Names}}"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    return out.split()
