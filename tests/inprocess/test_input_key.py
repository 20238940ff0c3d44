"""One input key (inputkey.py): the check before a run (list, a no-op build-all) and the attempt
that builds compare the same key, made of exactly what a target's build uses. Each row: built
once, one thing changed, then both the offline check and a run say the same thing."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from orchestrator.building.freshness import check_targets
from orchestrator.building.inputkey import SETTINGS
from orchestrator.building.localwheels import LocalWheels
from orchestrator.building.places import prepare_outputs
from orchestrator.core.outputs import STAMP_NAME
from orchestrator.core.run_settings import RunFlags, WorkspaceOptions
from orchestrator.core.settings import LayerOnly, LayerSettings
from orchestrator.plan.targets import Plan, make_plan
from orchestrator.workspace.config import load_workspace
from orchestrator.workspace.discovery import discover_layers

from .conftest import FakeExecutor, by_id, plan_for, run

pytestmark = pytest.mark.anyio

A, B = "a:py3.12-x86_64", "b:py3.12-x86_64"
WORKSPACE = '[tool.layerctl]\npython = ["3.12"]\narch = ["x86_64"]\nbuilder = "native"\n'


def _replan(root: Path, **cli: object) -> Plan:
    workspace = load_workspace(root)
    plan = make_plan(workspace, discover_layers(workspace), cli_options=dict(cli))
    prepare_outputs(plan)
    return plan


async def _reasons(plan: Plan) -> dict[str, str | None]:
    return {c.target.id: c.reason for c in await check_targets(plan.targets, LocalWheels())}


async def _states(root: Path, executor: FakeExecutor, **cli: object) -> dict[str, tuple[str | None, str]]:
    """Each target's reason from the offline check, and its status when a run builds it anyway
    (the attempt's own up-to-date check: the same key)."""
    plan = _replan(root, **cli)
    reasons = await _reasons(plan)
    outcome = by_id(await run(plan, executor))
    return {t: (reasons[t], outcome[t].status) for t in reasons}


def _workspace(root: Path, extra: str) -> None:
    (root / "pyproject.toml").write_text(WORKSPACE + extra)


def _layer(root: Path, name: str, extra: str) -> None:
    (root / "layers" / name / "pyproject.toml").write_text(
        f'[project]\nname = "{name}"\nversion = "1"\ndependencies = ["six"]\n[tool.layerctl]\n{extra}'
    )


UNCHANGED = {A: (None, "up-to-date"), B: (None, "up-to-date")}


@pytest.mark.parametrize(
    "extra",
    [
        'verify-image = "example.org/verify:{python}-{arch}"\n',  # only `verify` reads it
        'image = "example.org/build:{python}-{arch}"\n',  # every target builds natively
        'jobs = 3\nretries = 2\ntimeout = 600\nreport-dir = "elsewhere/report"\n',  # run settings
        'index-url = "https://mirror.example.org/simple"\n',  # where packages come from
    ],
    ids=["verify-image", "image-native", "run-settings", "index-url"],
)
async def test_what_the_build_does_not_use_leaves_every_target_up_to_date(tmp_path: Path, extra: str) -> None:
    plan_for(tmp_path, ["a", "b"])
    executor = FakeExecutor()
    await run(_replan(tmp_path), executor)
    _workspace(tmp_path, extra)
    assert await _states(tmp_path, executor, jobs=5, keep_going=True) == UNCHANGED
    assert executor.calls == {A: 1, B: 1}


async def test_a_copy_of_the_built_workspace_elsewhere_is_up_to_date(tmp_path: Path) -> None:
    (tmp_path / "here").mkdir()
    plan_for(tmp_path / "here", ["a", "b"])
    await run(_replan(tmp_path / "here"), FakeExecutor())
    shutil.copytree(tmp_path / "here", tmp_path / "there" / "checkout", symlinks=True)
    shutil.rmtree(tmp_path / "here")  # nothing may still point at the first checkout
    executor = FakeExecutor()
    assert await _states(tmp_path / "there" / "checkout", executor) == UNCHANGED
    assert executor.calls == {}
    row = by_id(await run(_replan(tmp_path / "there" / "checkout"), executor))[A]
    assert (row.zip_path or "").startswith(str(tmp_path / "there"))  # where the zip is now


def _sdist_layer(root: Path) -> None:
    """Layer a needs an sdist file kept in the repository, named by its absolute ``file:`` URL
    (as a PEP 621 project must name it)."""
    vendor = root / "layers" / "a" / "vendor"
    vendor.mkdir(parents=True, exist_ok=True)
    (vendor / "fastsum-1.0.0.tar.gz").write_bytes(b"an sdist, byte for byte")
    url = (vendor / "fastsum-1.0.0.tar.gz").as_uri()
    (root / "layers/a/pyproject.toml").write_text(
        f'[project]\nname = "a"\nversion = "1"\ndependencies = ["fastsum @ {url}", "six"]\n'
    )


async def test_a_local_sdist_keys_its_target_by_content_not_by_where_the_checkout_is(tmp_path: Path) -> None:
    here, there = tmp_path / "here", tmp_path / "there" / "checkout"
    here.mkdir()
    plan_for(here, ["a", "b"])
    _sdist_layer(here)
    await run(_replan(here), FakeExecutor())
    shutil.copytree(here, there, symlinks=True)
    shutil.rmtree(here)
    _sdist_layer(there)  # the project names the file where this checkout has it
    executor = FakeExecutor()
    assert await _states(there, executor) == UNCHANGED
    assert executor.calls == {}
    # the sdist's bytes are what count
    (there / "layers/a/vendor/fastsum-1.0.0.tar.gz").write_bytes(b"another sdist")
    reason, status = (await _states(there, executor))[A]
    assert status == "built" and reason is not None and reason.startswith("requirements changed"), reason


async def test_a_local_sdist_whose_bytes_are_not_the_hash_its_reference_names_fails(tmp_path: Path) -> None:
    """``name @ file:///...tar.gz#sha256=...``: the user's hash is checked, never replaced by the
    file's own."""
    plan_for(tmp_path, ["a", "b"])
    _sdist_layer(tmp_path)
    project = tmp_path / "layers/a/pyproject.toml"
    project.write_text(project.read_text().replace('.tar.gz"', ".tar.gz#sha256=" + "0" * 64 + '"'))
    rows = by_id(await run(_replan(tmp_path), FakeExecutor(), keep_going=True))
    assert rows[B].status == "built"
    assert rows[A].status == "failed" and "\n" not in (rows[A].error or "")
    assert "fastsum-1.0.0.tar.gz" in (rows[A].error or "") and "0" * 64 in (rows[A].error or ""), rows[
        A
    ].error


@pytest.mark.parametrize(
    ("extra", "reason"),
    [
        ('exclude = ["*.txt"]\n', "settings changed: exclude"),
        ("compression-level = 9\n", "settings changed: compression-level"),
        ("exclude-runtime-provided = true\n", "settings changed: exclude-runtime-provided"),
        ("bytecode = true\n", "settings changed: bytecode"),
    ],
)
async def test_what_changes_the_zip_rebuilds_exactly_its_targets(
    tmp_path: Path, extra: str, reason: str
) -> None:
    plan_for(tmp_path, ["a", "b"])
    executor = FakeExecutor()
    await run(_replan(tmp_path), executor)
    _layer(tmp_path, "a", extra)
    assert await _states(tmp_path, executor) == {A: (reason, "built"), B: (None, "up-to-date")}
    assert executor.calls == {A: 2, B: 1}


async def test_python_and_arch_key_the_target(tmp_path: Path) -> None:
    plan_for(tmp_path, ["a"])
    await run(_replan(tmp_path), FakeExecutor())
    (tmp_path / "pyproject.toml").write_text(
        WORKSPACE.replace('["3.12"]', '["3.12", "3.13"]').replace('["x86_64"]', '["x86_64", "arm64"]')
    )
    plan = _replan(tmp_path)
    reasons = await _reasons(plan)
    assert reasons == {
        A: None,
        "a:py3.12-arm64": "never built",
        "a:py3.13-x86_64": "never built",
        "a:py3.13-arm64": "never built",
    }
    # another target's stamp (and zip) where this one's belong: its key is not this target's
    for other in ("py3.13-x86_64", "py3.12-arm64"):
        target = plan.targets[0].out_dir.parent / other
        shutil.rmtree(target, ignore_errors=True)
        shutil.copytree(plan.targets[0].out_dir, target)
    reasons = await _reasons(plan)
    assert (
        reasons["a:py3.13-x86_64"] == reasons["a:py3.12-arm64"] == "runtime changed (resources/runtimes.toml)"
    )


async def test_a_container_target_is_keyed_by_its_image_digest(tmp_path: Path) -> None:
    plan_for(tmp_path, ["a"])
    _workspace(tmp_path, 'image = "example.org/build:{python}-{arch}"\n')
    (tmp_path / "pyproject.toml").write_text(
        (tmp_path / "pyproject.toml").read_text().replace('"native"', '"container"')
    )
    executor = FakeExecutor(fingerprint_value="sha256:1111")
    await run(_replan(tmp_path), executor)
    (tmp_path / "pyproject.toml").write_text(
        (tmp_path / "pyproject.toml").read_text() + 'verify-image = "example.org/verify:{python}"\n'
    )
    assert await _states(tmp_path, executor) == {A: (None, "up-to-date")}
    # the same name, another image (a re-tag): the build, which asks the engine, notices it
    executor.fingerprint_value = "sha256:2222"
    assert await _states(tmp_path, executor) == {A: (None, "built")}
    text = (tmp_path / "pyproject.toml").read_text()
    (tmp_path / "pyproject.toml").write_text(text.replace("example.org/build", "mirror.example.org/build"))
    reason = "image changed (example.org/build:3.12-x86_64 -> mirror.example.org/build:3.12-x86_64)"
    # another name for the same image (a mirror): the build finds the same key
    assert await _states(tmp_path, executor) == {A: (reason, "up-to-date")}
    assert await _states(tmp_path, executor) == {A: (None, "up-to-date")}
    assert executor.calls == {A: 2}


async def test_a_stamp_of_the_previous_format_rebuilds_once(tmp_path: Path) -> None:
    plan_for(tmp_path, ["a"])
    executor = FakeExecutor()
    await run(_replan(tmp_path), executor)
    stamp_path = _replan(tmp_path).targets[0].out_dir / STAMP_NAME
    old = json.loads(stamp_path.read_text())
    del old["format"]  # as layerctl wrote it before the one key: its own key and material
    old["offline"]["material"] = {"layerctl": "0.9.0", "settings": {}, "requirements": "x"}
    stamp_path.write_text(json.dumps(old))
    assert await _states(tmp_path, executor) == {A: ("layerctl's stamp format changed", "built")}
    assert await _states(tmp_path, executor) == {A: (None, "up-to-date")}


def test_every_setting_says_whether_it_changes_what_a_target_builds() -> None:
    for name, info in LayerSettings.model_fields.items():
        assert isinstance(info.json_schema_extra, dict), name
        assert info.json_schema_extra.get("output") in (True, False), f"{name}: output=True or False"
    # the key reads a target's layer settings only: a run's settings can change no zip
    for model in (LayerOnly, WorkspaceOptions, RunFlags):
        for name, info in model.model_fields.items():
            assert isinstance(info.json_schema_extra, dict) and not info.json_schema_extra.get("output"), name
    assert set(SETTINGS) == {
        "exclude",
        "exclude_runtime_provided",
        "include_project",
        "extras",
        "groups",
        "bytecode",
        "compression_level",
    }
