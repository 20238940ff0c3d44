"""A pip layer's declared set is pinned once per target; the pins (kept in its stamp and beside
its zip as requirements.txt) are reused offline until the declaration or the settings change, or
``--refresh`` asks for a new resolution."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from orchestrator.building.buildcache.local import LocalCache
from orchestrator.building.decide import decide_builders
from orchestrator.building.freshness import check_targets
from orchestrator.building.localwheels import LocalWheels
from orchestrator.core.outputs import REQUIREMENTS_NAME, STAMP_NAME
from orchestrator.plan.targets import Plan, make_plan
from orchestrator.workspace.config import load_workspace
from orchestrator.workspace.discovery import discover_layers

from .conftest import FakeExecutor, FakePins, plan_for, run

pytestmark = pytest.mark.anyio

ID = "a:py3.12-x86_64"


def _replan(root: Path) -> Plan:
    workspace = load_workspace(root)
    return make_plan(workspace, discover_layers(workspace))


async def _check(
    plan: Plan, *, force: bool = False, refresh: bool = False, verify: bool = False
) -> dict[str, str | None]:
    checks = await check_targets(plan.targets, LocalWheels(), force=force, refresh=refresh, verify=verify)
    return {c.target.id: c.reason for c in checks}


async def test_the_pins_are_made_once_and_reused_offline(tmp_path: Path, fake_pins: FakePins) -> None:
    plan = plan_for(tmp_path, ["a"])
    await run(plan, FakeExecutor())
    assert fake_pins.calls == [ID]  # by the build: a target never built is not resolved by the check
    out = plan.targets[0].out_dir
    stamp = LocalCache(out).last()
    assert stamp is not None and stamp.offline is not None
    assert stamp.offline.declared.splitlines()[1:] == ["six"]
    assert stamp.offline.requirements_text.startswith(f"# pinned by layerctl for {ID}")
    assert (out / REQUIREMENTS_NAME).read_text() == stamp.offline.requirements_text

    assert await _check(_replan(tmp_path)) == {ID: None}
    assert fake_pins.calls == [ID]  # reused: no resolution, no index


async def test_refresh_a_new_declaration_or_new_settings_pin_again(
    tmp_path: Path, fake_pins: FakePins
) -> None:
    plan_for(tmp_path, ["a"])
    await run(_replan(tmp_path), FakeExecutor())
    fake_pins.calls.clear()

    assert await _check(_replan(tmp_path), refresh=True) == {ID: "--refresh"}
    assert fake_pins.calls == [ID]

    layer = tmp_path / "layers" / "a" / "pyproject.toml"
    layer.write_text(layer.read_text() + '[tool.layerctl]\nexclude = ["*.pyi"]\n')
    assert await _check(_replan(tmp_path)) == {ID: "settings changed: exclude"}
    assert fake_pins.calls == [ID, ID]

    layer.write_text('[project]\nname = "a"\nversion = "1"\ndependencies = ["six", "orjson==3.10.1"]\n')
    assert await _check(_replan(tmp_path)) == {ID: "requirements changed: +orjson 3.10.1"}
    assert fake_pins.calls == [ID, ID, ID]


async def test_the_checks_set_is_the_one_built(tmp_path: Path, fake_pins: FakePins) -> None:
    plan_for(tmp_path, ["a"])
    await run(_replan(tmp_path), FakeExecutor())
    checks = await check_targets(_replan(tmp_path).targets, LocalWheels(), refresh=True)
    assert fake_pins.calls == [ID, ID]
    plan = _replan(tmp_path)
    plan = dataclasses.replace(plan, targets=tuple(c.target for c in checks))
    await run(plan, FakeExecutor(), force=True)
    assert fake_pins.calls == [ID, ID]  # the build installs the set the check found


async def test_pins_an_older_layerctl_chose_are_pinned_again(tmp_path: Path, fake_pins: FakePins) -> None:
    # layerctl before issue 16 pinned the newest versions, source distributions allowed: pins
    # with no wheel for the target (numpy 2.4 on Amazon Linux 2) must not be reused offline
    plan = plan_for(tmp_path, ["a"])
    await run(plan, FakeExecutor())
    out = plan.targets[0].out_dir
    stamp = LocalCache(out).last()
    assert stamp is not None and stamp.offline is not None
    old_text = f"# pinned by layerctl for {ID} from pyproject.toml (uv pip compile --generate-hashes)\nsix\n"
    old = stamp.offline.model_copy(update={"requirements_text": old_text})
    (out / STAMP_NAME).write_text(stamp.model_copy(update={"offline": old}).model_dump_json())
    fake_pins.calls.clear()
    assert await _check(_replan(tmp_path)) == {ID: None}  # the same pins: nothing to rebuild
    assert fake_pins.calls == [ID]  # but they were chosen again


async def test_a_target_never_built_is_pinned_once_by_the_decision_and_built_with_those_pins(
    tmp_path: Path, fake_pins: FakePins
) -> None:
    # auto on a cold pip target: the decision pins (and reads what has no wheel from the pins'
    # header); the build installs those pins, it does not resolve again
    plan_for(tmp_path, ["a"])
    workspace = tmp_path / "pyproject.toml"
    workspace.write_text(workspace.read_text().replace('builder = "native"', 'builder = "auto"'))
    plan = _replan(tmp_path)
    checks = await check_targets(plan.targets, LocalWheels())
    assert fake_pins.calls == []  # never built: the check has no stamp to compare
    (decided,) = await decide_builders([c.target for c in checks])
    assert fake_pins.calls == [ID]
    assert decided.decided == "native" and decided.requirements is not None
    await run(dataclasses.replace(plan, targets=(decided,)), FakeExecutor())
    assert fake_pins.calls == [ID]
    assert (decided.out_dir / REQUIREMENTS_NAME).read_text() == decided.requirements
