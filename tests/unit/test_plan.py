"""Matrix expansion, target ids, selection and tool detection (pure planning)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from orchestrator.core.errors import ConfigError
from orchestrator.core.runtimes import Arch, get_runtime, runtimes
from orchestrator.plan.targets import make_plan, select
from orchestrator.workspace.config import load_workspace
from orchestrator.workspace.discovery import Tool, discover_layers


def test_runtime_table_is_complete() -> None:
    assert [r.python for r in runtimes()] == ["3.10", "3.11", "3.12", "3.13", "3.14"]
    assert get_runtime("3.11").glibc == "2.26" and get_runtime("3.12").glibc == "2.34"
    assert get_runtime("3.11").uv_platform(Arch.ARM64) == "aarch64-manylinux_2_17"
    assert get_runtime("3.13").uv_platform(Arch.X86_64) == "x86_64-manylinux_2_34"
    assert (
        get_runtime("3.12").build_image.format(arch="arm64")
        == "public.ecr.aws/sam/build-python3.12:latest-arm64"
    )
    assert (
        get_runtime("3.12").runtime_image.format(arch="x86_64") == "public.ecr.aws/lambda/python:3.12-x86_64"
    )


def test_matrix_is_layers_times_pythons_times_arches(make_workspace: Callable[..., Path]) -> None:
    root = make_workspace('python = ["3.11", "3.12", "3.13"]', {"web": "", "data": "", "utils": ""})
    workspace = load_workspace(root)
    plan = make_plan(workspace, discover_layers(workspace))
    ids = [t.id for t in plan.targets]
    assert len(ids) == 3 * 3 * 2 == len(set(ids))
    assert "web:py3.12-arm64" in ids and "data:py3.11-x86_64" in ids
    target = next(t for t in plan.targets if t.id == "web:py3.12-arm64")
    assert target.out_dir == root / "layers/web/build/lambda/layer/py3.12-arm64"
    assert target.describe()["builder"] == "auto"


@pytest.mark.parametrize(
    ("only", "skip", "expected"),
    [
        ((), (), ["web:py3.12-x86_64", "web:py3.12-arm64", "db:py3.12-arm64"]),
        (("web:*-arm64",), (), ["web:py3.12-arm64"]),
        (("*-arm64",), ("db:*",), ["web:py3.12-arm64"]),
        (("web:*",), ("web:*",), []),  # skip wins
        ((), ("*:py3.12-*",), []),
    ],
)
def test_select_globs_skip_wins(only: tuple[str, ...], skip: tuple[str, ...], expected: list[str]) -> None:
    ids = ["web:py3.12-x86_64", "web:py3.12-arm64", "db:py3.12-arm64"]
    assert select(ids, only, skip) == expected


def test_requires_python_drops_incompatible_versions(make_workspace: Callable[..., Path]) -> None:
    layer = '[project]\nname = "a"\nversion = "1"\nrequires-python = ">=3.12"\n'
    root = make_workspace('python = ["3.11", "3.12"]', {"a": layer})
    workspace = load_workspace(root)
    plan = make_plan(workspace, discover_layers(workspace))
    assert {t.python for t in plan.targets} == {"3.12"}
    assert plan.left_out == (("a", "Python 3.11 left out (outside the layer's requires-python >=3.12)"),)


def test_layer_names_select_and_suggest(make_workspace: Callable[..., Path]) -> None:
    root = make_workspace("", {"web": "", "data": ""})
    workspace = load_workspace(root)
    layers = discover_layers(workspace)
    assert {t.layer.name for t in make_plan(workspace, layers, layer_names=["web"]).targets} == {"web"}
    with pytest.raises(ConfigError, match="no layer named 'wbe'; did you mean 'web'"):
        make_plan(workspace, layers, layer_names=["wbe"])


def test_tool_detection(make_workspace: Callable[..., Path]) -> None:
    root = make_workspace("", {"p": "", "u": "", "o": "", "named": '[tool.layerctl]\nname = "custom"\n'})
    (root / "layers/u/uv.lock").write_text("")
    (root / "layers/o/poetry.lock").write_text("")
    tools = {layer.name: layer.tool for layer in discover_layers(load_workspace(root))}
    assert tools == {"p": Tool.PIP, "u": Tool.UV, "o": Tool.POETRY, "custom": Tool.PIP}


def _problem(root: Path, name: str = "a") -> str | None:
    """A layer that cannot be used is discovered with its one-line problem (its targets fail)."""
    return next(layer.problem for layer in discover_layers(load_workspace(root)) if layer.name == name)


def test_declared_tool_without_its_lock(make_workspace: Callable[..., Path]) -> None:
    root = make_workspace("", {"a": '[tool.layerctl]\ntool = "uv"\n'})
    assert 'tool = "uv" but there is no uv.lock next to it; run `uv lock`' in (_problem(root) or "")


def test_layers_pattern_that_matches_nothing(make_workspace: Callable[..., Path]) -> None:
    root = make_workspace('layers = ["services/*/pyproject.toml"]')
    with pytest.raises(ConfigError, match="'layers' pattern 'services/\\*/pyproject.toml' matches no"):
        discover_layers(load_workspace(root))


def test_duplicate_layer_names(make_workspace: Callable[..., Path]) -> None:
    root = make_workspace("", {"a": '[tool.layerctl]\nname = "x"\n', "b": '[tool.layerctl]\nname = "x"\n'})
    with pytest.raises(ConfigError, match="layer name 'x' is also used by"):
        discover_layers(load_workspace(root))


def test_project_table_required(make_workspace: Callable[..., Path]) -> None:
    root = make_workspace("", {"a": ""})
    (root / "layers/a/pyproject.toml").write_text("[tool.other]\n")
    assert _problem(root) == (
        f"{root}/layers/a/pyproject.toml: no [project] table and no [tool.poetry.dependencies]; "
        "a layer project declares its dependencies in one of them"
    )
