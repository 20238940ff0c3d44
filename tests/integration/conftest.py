from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from orchestrator.tools import uv_bin
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
