"""A layer that is a member of a uv workspace is a uv layer (the lock is the workspace's), and
its choices of extras and groups are checked against its project in one line."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from orchestrator.core.errors import ConfigError
from orchestrator.workspace.config import load_workspace
from orchestrator.workspace.discovery import Tool, discover_layers, load_layer
from orchestrator.workspace.uv_workspace import find_uv_workspace

WORKSPACE = '\n[tool.uv.workspace]\nmembers = ["layers/*"]\nexclude = ["layers/solo"]\n'


def member_workspace(make_workspace: Callable[..., Path], lock: bool = True) -> Path:
    root = make_workspace("", {"a": "", "b": "", "solo": ""})
    with (root / "pyproject.toml").open("a") as fh:
        fh.write(WORKSPACE)
    if lock:
        (root / "uv.lock").write_text("version = 1\n")
    return root


def test_a_workspace_member_is_uv_and_an_excluded_one_pip(make_workspace: Callable[..., Path]) -> None:
    root = member_workspace(make_workspace)
    tools = {layer.name: layer.tool for layer in discover_layers(load_workspace(root))}
    assert tools == {"a": Tool.UV, "b": Tool.UV, "solo": Tool.PIP}
    found = find_uv_workspace(root / "layers/a")
    assert found is not None and found.root == root.resolve() and found.member == "a"
    assert found.lock == root.resolve() / "uv.lock"


def test_tool_uv_is_accepted_for_a_member(make_workspace: Callable[..., Path]) -> None:
    root = member_workspace(make_workspace)
    path = root / "layers/a/pyproject.toml"
    path.write_text(path.read_text() + '\n[tool.layerctl]\ntool = "uv"\n')
    assert load_layer(path).tool is Tool.UV


def test_a_member_of_a_workspace_without_a_lock_is_refused(make_workspace: Callable[..., Path]) -> None:
    root = member_workspace(make_workspace, lock=False)
    with pytest.raises(
        ConfigError, match=r"a member of the uv workspace at .* which has no uv.lock; run `uv lock`"
    ):
        load_layer(root / "layers/a/pyproject.toml")


def test_a_layer_with_its_own_lock_is_not_a_member(make_workspace: Callable[..., Path]) -> None:
    root = member_workspace(make_workspace)
    (root / "layers/a/uv.lock").write_text("version = 1\n")
    assert find_uv_workspace(root / "layers/a") is None
