"""A user's directory at a name layerctl writes in a target's directory (layer.zip, build.log,
requirements.txt, the stamp) fails that target with one line naming it, and survives."""

from __future__ import annotations

from pathlib import Path

import pytest

from orchestrator.core.outputs import LOG_NAME, REQUIREMENTS_NAME, STAMP_NAME, ZIP_NAME

from .conftest import FakeExecutor, by_id, plan_for, run

pytestmark = pytest.mark.anyio


@pytest.mark.parametrize("name", [ZIP_NAME, LOG_NAME, REQUIREMENTS_NAME, STAMP_NAME])
async def test_a_users_directory_at_a_name_layerctl_writes_fails_the_target_and_is_kept(
    tmp_path: Path, name: str
) -> None:
    plan = plan_for(tmp_path, ["web"])
    (target,) = plan.targets
    mine = target.out_dir / name
    mine.mkdir(parents=True)
    (mine / "keep.txt").write_text("mine\n")

    result = by_id(await run(plan, FakeExecutor()))[target.id]

    assert result.status == "failed"
    assert result.error is not None
    assert result.error.startswith(f"{mine}: a directory where layerctl writes its {name}")
    assert ".tmp" not in result.error
    assert (mine / "keep.txt").read_text() == "mine\n"
