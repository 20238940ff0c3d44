"""Every uv run gets the isolation flags from one builder (``tools.uv_argv``): the builder's
flags, and no module reaching uv any other way."""

from __future__ import annotations

import ast
from pathlib import Path

from orchestrator.core.tools import uv_argv, uv_bin

PACKAGE = Path(__file__).resolve().parents[2] / "orchestrator"
ISOLATION = ("--no-python-downloads", "--color", "never")
# every place layerctl runs uv: export of a lock, pinning and wheel-only resolution (uv pip
# compile), native installs (and local sdists' build environments, through native.py), host
# builds of in-repo projects
RUNS_UV = {"resolve/uv.py", "resolve/wheels.py", "building/executors/native.py", "building/localwheels.py"}


def test_the_builder_spells_the_isolation_flags() -> None:
    argv = uv_argv("pip", "install")
    assert argv[:3] == [uv_bin(), "pip", "install"]
    assert "--no-config" in argv
    assert all(flag in argv for flag in ISOLATION)
    exported = uv_argv("export", project_config=True)  # the layer's own configuration only
    assert "--no-config" not in exported
    assert all(flag in exported for flag in ISOLATION)


def _calls(tree: ast.AST) -> list[ast.Call]:
    return [node for node in ast.walk(tree) if isinstance(node, ast.Call)]


def _called(call: ast.Call) -> str:
    func = call.func
    return func.id if isinstance(func, ast.Name) else func.attr if isinstance(func, ast.Attribute) else ""


def test_no_module_runs_uv_but_through_the_builder() -> None:
    offenders, builders = [], set()
    for path in sorted(PACKAGE.rglob("*.py")):
        rel = path.relative_to(PACKAGE).as_posix()
        if rel == "core/tools.py":
            continue
        tree = ast.parse(path.read_text("utf-8"))
        for call in _calls(tree):
            if _called(call) in ("uv_bin", "find_uv_bin"):
                offenders.append(f"{rel}:{call.lineno} finds uv itself")
            if _called(call) == "uv_argv":
                builders.add(rel)
            for arg in call.args:  # an argv literal starting with "uv"
                first = arg.elts[0] if isinstance(arg, ast.List) and arg.elts else None
                if isinstance(first, ast.Constant) and first.value == "uv":
                    offenders.append(f"{rel}:{call.lineno} runs uv from a literal argv")
        for node in ast.walk(tree):
            if isinstance(node, ast.Constant) and node.value in ("--no-config", "--no-python-downloads"):
                offenders.append(f"{rel}:{node.lineno} spells {node.value}")
    assert offenders == []
    assert builders == RUNS_UV
