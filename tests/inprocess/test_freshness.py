"""The check before any decision (freshness.py): up to date from the stamp alone, or the reason a
target rebuilds; an unchanged workspace opens no executor and imports no engine client."""

from __future__ import annotations

import dataclasses
import json
import os
import sys
from collections.abc import Callable
from pathlib import Path

import anyio
import pytest

from orchestrator.building.freshness import check_targets
from orchestrator.building.localwheels import LocalWheels
from orchestrator.core.outputs import ZIP_NAME
from orchestrator.plan.targets import Plan, make_plan
from orchestrator.workspace.config import load_workspace
from orchestrator.workspace.discovery import discover_layers

from .conftest import FakeExecutor, by_id, plan_for, run

pytestmark = pytest.mark.anyio

ID = "a:py3.12-x86_64"


async def _reasons(
    plan: Plan, *, force: bool = False, refresh: bool = False, verify: bool = False
) -> dict[str, str | None]:
    checks = await check_targets(plan.targets, LocalWheels(), force=force, refresh=refresh, verify=verify)
    return {c.target.id: c.reason for c in checks}


def _replan(root: Path) -> Plan:
    """The plan of the workspace as it is now (``plan_for`` writes the layers afresh)."""
    workspace = load_workspace(root)
    return make_plan(workspace, discover_layers(workspace))


def _set_deps(root: Path, name: str, deps: str) -> None:
    (root / "layers" / name / "pyproject.toml").write_text(
        f'[project]\nname = "{name}"\nversion = "1"\ndependencies = [{deps}]\n'
    )


async def test_a_target_never_built_then_up_to_date(tmp_path: Path) -> None:
    plan = plan_for(tmp_path, ["a", "b"])
    assert await _reasons(plan) == {ID: "never built", "b:py3.12-x86_64": "never built"}
    await run(plan, FakeExecutor())
    assert await _reasons(plan) == {ID: None, "b:py3.12-x86_64": None}
    assert (await _reasons(plan, force=True))[ID] == "--force"
    assert (await _reasons(plan, refresh=True))[ID] == "--refresh"


async def test_a_changed_dependency_is_named_and_only_its_layer_rebuilds(tmp_path: Path) -> None:
    plan_for(tmp_path, ["a", "b"])
    _set_deps(tmp_path, "a", '"six==1.16.0"')
    await run(_replan(tmp_path), FakeExecutor())
    _set_deps(tmp_path, "a", '"six==1.17.0", "orjson==3.10.1"')
    reasons = await _reasons(_replan(tmp_path))
    assert reasons == {
        ID: "requirements changed: +orjson 3.10.1, six 1.16.0 -> 1.17.0",
        "b:py3.12-x86_64": None,
    }


async def test_a_dependency_whose_marker_leaves_the_target_out_changes_nothing(tmp_path: Path) -> None:
    plan = plan_for(tmp_path, ["a"])
    await run(plan, FakeExecutor())
    _set_deps(tmp_path, "a", '"six", "tomli; python_version < \'3.11\'"')
    assert await _reasons(_replan(tmp_path)) == {ID: None}


async def test_settings_changed_names_the_keys(tmp_path: Path) -> None:
    plan = plan_for(tmp_path, ["a"])
    await run(plan, FakeExecutor())
    (tmp_path / "layers" / "a" / "pyproject.toml").write_text(
        '[project]\nname = "a"\nversion = "1"\ndependencies = ["six"]\n'
        '[tool.layerctl]\nexclude = ["*.txt"]\ncompression-level = 9\n'
    )
    assert await _reasons(_replan(tmp_path)) == {ID: "settings changed: compression-level, exclude"}


@pytest.mark.parametrize(
    ("alter", "reason"),
    [
        (lambda z: z.unlink(), "zip missing"),
        (lambda z: z.write_bytes(z.read_bytes()[:10]), "zip altered"),
        (lambda z: z.write_bytes(b"x" * z.stat().st_size), "zip altered"),  # same size, new mtime
    ],
)
async def test_an_altered_zip_rebuilds(tmp_path: Path, alter: Callable[[Path], object], reason: str) -> None:
    plan = plan_for(tmp_path, ["a"])
    await run(plan, FakeExecutor())
    zip_path = plan.targets[0].out_dir / ZIP_NAME
    info = zip_path.stat()
    alter(zip_path)
    if zip_path.exists() and zip_path.stat().st_mtime_ns == info.st_mtime_ns:
        os.utime(zip_path, ns=(info.st_atime_ns, info.st_mtime_ns + 1_000_000))
    assert await _reasons(plan) == {ID: reason}
    executor = FakeExecutor()
    outcome = await run(_replan(tmp_path), executor)
    assert by_id(outcome)[ID].status == "built" and executor.calls == {ID: 1}


async def test_an_intact_zip_is_not_read_unless_asked(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    plan = plan_for(tmp_path, ["a"])
    await run(plan, FakeExecutor())
    hashed: list[Path] = []
    import orchestrator.building.buildcache as stamp
    from orchestrator.package.zip import sha256_file

    def counting(path: Path) -> str:
        hashed.append(path)
        return sha256_file(path)

    monkeypatch.setattr(stamp, "sha256_file", counting)
    assert await _reasons(plan) == {ID: None} and hashed == []
    assert await _reasons(plan, verify=True) == {ID: None} and len(hashed) == 1


async def test_a_rebuild_says_why_in_its_log_and_report_row(tmp_path: Path) -> None:
    plan = plan_for(tmp_path, ["a"])
    checks = await check_targets(plan.targets, LocalWheels())
    targets = tuple(c.target for c in checks)
    from dataclasses import replace

    outcome = await run(replace(plan, targets=targets), FakeExecutor())
    row = by_id(outcome)[ID]
    assert row.rebuild_reason == "never built"
    assert "rebuilding: never built" in await anyio.Path(row.log or "").read_text()


async def test_an_unchanged_workspace_opens_no_executor(tmp_path: Path) -> None:
    """build-all with every target up to date: no decision, no executor, no engine client."""
    plan = plan_for(tmp_path, ["a", "b"])
    await run(plan, FakeExecutor())
    code = f"""
import anyio, io, sys
from pathlib import Path
from orchestrator.workspace.config import load_workspace
from orchestrator.workspace.discovery import discover_layers
from orchestrator.plan.targets import make_plan
from orchestrator.report.reporters import make_reporter
from orchestrator.run.builds import run_plan
ws = load_workspace(Path({str(tmp_path)!r}))
plan = make_plan(ws, discover_layers(ws))
outcome, code = anyio.run(lambda: run_plan(plan, make_reporter("plain", out=io.StringIO())))
assert code == 0, code
assert {{r.status for r in outcome.results}} == {{"up-to-date"}}
loaded = [m for m in sys.modules if m.startswith(("aiodocker", "orchestrator.building.executors."))]
assert not loaded, loaded
"""
    env = {**os.environ, "LAYERCTL_INDEX_URL": "http://127.0.0.1:9/simple"}
    with anyio.fail_after(60):
        await anyio.run_process([sys.executable, "-c", code], env=env)
    assert (tmp_path / "build" / "layerctl" / "report.json").is_file()


# What a no-op `build-all` never needs: the stages after the check (deciding builders, resolving
# afresh, building one target, its executors, packaging), a shared cache's clients, publishing.
NOT_FOR_A_NO_OP = (
    "aiodocker", "boto3", "botocore", "elftools", "orchestrator.building.decide",
    "orchestrator.building.target", "orchestrator.building.pipeline", "orchestrator.building.failures",
    "orchestrator.building.sdists", "orchestrator.building.executors", "orchestrator.building.buildcache.s3",
    "orchestrator.building.buildcache.durations", "orchestrator.core.process", "orchestrator.package.audit",
    "orchestrator.package.bytecode", "orchestrator.package.scripts_fix", "orchestrator.package.sizes",
    "orchestrator.resolve.uv", "orchestrator.resolve.poetry", "orchestrator.resolve.pylock",
    "orchestrator.resolve.wheelpins", "orchestrator.run.matrix", "orchestrator.publish", "pathspec",
)  # fmt: skip

# `layerctl build-all` as a user runs it; writes the modules loaded when the process exits.
_PROBE = """
import atexit, json, pathlib, sys
out = pathlib.Path(sys.argv.pop(1))
atexit.register(lambda: out.write_text(json.dumps(sorted(sys.modules))))
sys.argv[0] = "layerctl"
from orchestrator.__main__ import main
main()
"""


@pytest.mark.parametrize("builder", ["native", "container"])
async def test_a_no_op_build_all_imports_no_stage_after_the_check(tmp_path: Path, builder: str) -> None:
    """Start-up costs nothing a no-op does not use: discovery, planning, the check and the report,
    not the building pipeline, executors, resolvers, shared caches or the zip's patterns (their
    import is the stage boundary, when a target is to build), whatever the targets' builder (a
    container target's engine is checked by the executors: without an engines table, nothing to
    check). Checked on the modules loaded, never on a time."""
    (tmp_path / "ws").mkdir()
    plan = plan_for(tmp_path / "ws", ["a", "b"])
    if builder != "native":
        root = tmp_path / "ws" / "pyproject.toml"
        root.write_text(root.read_text().replace('builder = "native"', f'builder = "{builder}"'))
        plan = _replan(tmp_path / "ws")
        assert {t.builder for t in plan.targets} == {builder}
    await run(plan, FakeExecutor())
    out = tmp_path / "modules.json"
    env = {**os.environ, "LAYERCTL_INDEX_URL": "http://127.0.0.1:9/simple", "NO_COLOR": "1"}
    with anyio.fail_after(60):
        process = await anyio.run_process(
            [sys.executable, "-c", _PROBE, str(out), "-C", str(tmp_path / "ws"), "build-all"],
            env=env,
            check=False,
        )
    assert process.returncode == 0, process.stderr.decode()
    assert process.stdout.decode().count("| up to date") == 2, process.stdout.decode()
    modules = json.loads(out.read_text())
    assert "orchestrator.building.freshness" in modules  # it did check
    heavy = [m for m in modules if any(m == n or m.startswith(f"{n}.") for n in NOT_FOR_A_NO_OP)]
    assert not heavy, f"imported by a no-op build-all: {heavy}"


async def test_list_states_and_reasons(tmp_path: Path) -> None:
    from orchestrator.run.explain import describe, explain, row

    plan = plan_for(tmp_path, ["a", "b"])
    await run(dataclasses.replace(plan, targets=plan.targets[:1]), FakeExecutor())
    checks = await explain(plan, decide_builders=False, refresh=False, verify=False)
    rows = {c.target.id: describe(c) for c in checks}
    assert (rows[ID]["state"], rows[ID]["reason"]) == ("up-to-date", None)
    assert (rows["b:py3.12-x86_64"]["state"], rows["b:py3.12-x86_64"]["reason"]) == (
        "will-build",
        "never built",
    )
    assert row(checks[1]).endswith("=> will build: never built")


def test_a_dry_run_with_force_says_every_target_will_build(tmp_path: Path) -> None:
    """`build-all --dry-run --force` shows what `build-all --force` does: every target builds."""
    import anyio

    from tests.support.cli import invoke

    plan = plan_for(tmp_path, ["a"])
    anyio.run(run, plan, FakeExecutor())
    listed = invoke(["-C", str(tmp_path), "build-all", "--dry-run"])
    assert listed.exit_code == 0 and "=> up to date" in listed.output, listed.output
    forced = invoke(["-C", str(tmp_path), "build-all", "--dry-run", "--force"])
    assert forced.exit_code == 0 and "=> will build: --force" in forced.output, forced.output
