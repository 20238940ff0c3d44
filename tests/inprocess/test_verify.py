"""``verify`` of zips it cannot read: each is its target's failure row, one line naming the zip
and saying to rebuild; the other targets are verified as usual. A fake engine runs the imports."""

from __future__ import annotations

import io
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, cast

import pytest

from orchestrator.building.executors.images import Images
from orchestrator.core.outputs import ZIP_NAME
from orchestrator.core.runtimes import Arch
from orchestrator.run.verify import verify_with

from .conftest import Recorder, plan_for

pytestmark = pytest.mark.anyio


@dataclass
class FakeEngine:
    """Imports whatever it is given: what a container of the target's platform would print."""

    ran: list[str] = field(default_factory=list)

    async def run(self, config: dict[str, Any], arch: Arch, label: str, sink: Any) -> int:
        self.ran.append(label)
        await sink(f"python 3.12.0 on {arch.machine}")
        await sink("import ok: good_mod")
        return 0


@dataclass
class FakeImages:
    """Every image is there and runs."""

    engine: FakeEngine

    async def ensure(self, image: str, arch: Arch) -> None:
        return None

    async def runnable(self, image: str, arch: Arch, python: str) -> str:
        return "pip 24.0"


def a_zip() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as zf:
        zf.writestr("python/good_mod.py", "VALUE = 1\n" * 200)
    return buffer.getvalue()


async def test_unreadable_zips_are_failure_rows_saying_to_rebuild(tmp_path: Path) -> None:
    (tmp_path / "ws").mkdir()
    plan = plan_for(tmp_path / "ws", ["good", "garbage", "truncated", "linked", "absent"])
    zips = {t.layer.name: t.out_dir / ZIP_NAME for t in plan.targets}
    for path in zips.values():
        path.parent.mkdir(parents=True)
    zips["good"].write_bytes(a_zip())
    zips["garbage"].write_bytes(b"this is not a zip file\n")
    zips["truncated"].write_bytes(a_zip()[: len(a_zip()) // 2])
    (tmp_path / "elsewhere.zip").write_bytes(a_zip())
    zips["linked"].symlink_to(tmp_path / "elsewhere.zip")

    engine = FakeEngine()
    results = await verify_with(plan.targets, cast(Images, FakeImages(engine)), Recorder(), jobs=2)
    rows = {r.id.split(":")[0]: r for r in results}
    assert engine.ran == ["verify-good:py3.12-x86_64"]  # nothing else reached a container
    assert rows["good"].ok and rows["good"].detail == "imported 1 modules on x86_64"
    assert not rows["absent"].ok and rows["absent"].detail == "no layer.zip: build the target first"
    for name in ("garbage", "truncated"):
        row = rows[name]
        assert not row.ok and "\n" not in row.detail
        assert row.detail.startswith(f"{zips[name]} is not a readable zip (")
        assert row.detail.endswith("rebuild it: layerctl build-all --force")
    linked = rows["linked"]
    assert not linked.ok
    assert (
        linked.detail
        == f"{zips['linked']} is a symlink, not a layerctl zip: rebuild it: layerctl build-all --force"
    )
