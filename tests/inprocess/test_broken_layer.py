"""A layer whose project cannot be read fails its own targets, at once and with its one line;
the other layers build, also when the run stops at the first failure (issue 11)."""

from __future__ import annotations

from pathlib import Path

import pytest

from orchestrator.core.errors import EXIT_USAGE
from orchestrator.run.builds import exit_code_for

from .conftest import FakeExecutor, by_id, plan_for, run

pytestmark = pytest.mark.anyio


async def test_a_broken_layer_fails_its_targets_and_the_others_build(tmp_path: Path) -> None:
    (tmp_path / "layers/bad").mkdir(parents=True)
    (tmp_path / "layers/bad/pyproject.toml").write_text("[tool.layerctl]\npythn = ['3.12']\n")
    plan = plan_for(tmp_path, ["a", "c"])
    executor = FakeExecutor()
    outcome = await run(plan, executor, jobs=1)  # fail-fast: the broken layer stops nothing
    rows = by_id(outcome)
    assert {i: r.status for i, r in rows.items()} == {
        "a:py3.12-x86_64": "built",
        "bad:py3.12-x86_64": "failed",
        "c:py3.12-x86_64": "built",
    }
    bad = rows["bad:py3.12-x86_64"]
    assert bad.error == (
        f"{tmp_path}/layers/bad/pyproject.toml [tool.layerctl]: unknown key 'pythn'; did you mean 'python'?"
    )
    assert bad.exit_code == EXIT_USAGE and bad.slug == "bad-py3.12-x86_64"
    assert "bad:py3.12-x86_64" not in executor.calls
    assert not (tmp_path / "layers/bad/build").exists()  # nothing is written into a broken layer
    assert exit_code_for(outcome) == EXIT_USAGE
