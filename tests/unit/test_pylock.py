"""PEP 751 pylock.toml layers: detected by ``tool = "auto"``, read in-process, markers per target."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from orchestrator.core.errors import ResolveError
from orchestrator.plan.targets import Target, make_plan
from orchestrator.resolve.pylock import pylock_requirements
from orchestrator.workspace.config import load_workspace
from orchestrator.workspace.discovery import Tool, discover_layers

A, B, C = "a" * 64, "b" * 64, "c" * 64
LOCK = f"""
lock-version = "1.0"
created-by = "hand"
requires-python = ">=3.11"
default-groups = ["default"]

[[packages]]
name = "six"
version = "1.17.0"
wheels = [{{name = "six-1.17.0-py2.py3-none-any.whl", url = "https://example.invalid/six-1.17.0-py2.py3-none-any.whl", hashes = {{sha256 = "{A}"}}}}]

[[packages]]
name = "typing-extensions"
version = "4.12.2"
marker = "python_version < '3.12'"
sdist = {{name = "typing_extensions-4.12.2.tar.gz", url = "https://example.invalid/typing_extensions-4.12.2.tar.gz", hashes = {{sha256 = "{C}"}}}}
wheels = [{{name = "typing_extensions-4.12.2-py3-none-any.whl", url = "https://example.invalid/typing_extensions-4.12.2-py3-none-any.whl", hashes = {{sha256 = "{B}"}}}}]

[[packages]]
name = "orjson"
version = "3.10.1"
marker = "platform_machine == 'aarch64' and 'fast' in extras"
wheels = [{{name = "orjson-3.10.1-cp312-cp312-manylinux_2_17_aarch64.whl", url = "https://example.invalid/orjson-3.10.1-cp312-cp312-manylinux_2_17_aarch64.whl", hashes = {{sha256 = "{B}"}}}}]
"""


def _targets(make_workspace: Callable[..., Path], lock: str, extra: str = "") -> dict[str, Target]:
    root = make_workspace('python = ["3.11", "3.12"]\narch = ["x86_64", "arm64"]\n', {"p": extra})
    (root / "layers/p/pylock.toml").write_text(lock)
    workspace = load_workspace(root)
    return {t.id: t for t in make_plan(workspace, discover_layers(workspace)).targets}


def _names(target: Target) -> list[str]:
    return [line.split("==")[0] for line in pylock_requirements(target).splitlines() if "==" in line]


def test_detected_and_markers_hold_per_target(make_workspace: Callable[..., Path]) -> None:
    targets = _targets(make_workspace, LOCK)
    assert {t.layer.tool for t in targets.values()} == {Tool.PYLOCK}
    assert _names(targets["p:py3.11-x86_64"]) == ["six", "typing-extensions"]
    assert _names(targets["p:py3.12-arm64"]) == ["six"]
    text = pylock_requirements(targets["p:py3.11-arm64"])
    assert f"typing-extensions==4.12.2 \\\n    --hash=sha256:{B} \\\n    --hash=sha256:{C}\n" in text


def test_extras_enter_the_markers(make_workspace: Callable[..., Path]) -> None:
    extra = '[project.optional-dependencies]\nfast = ["orjson"]\n[tool.layerctl]\nextras = ["fast"]\n'
    targets = _targets(make_workspace, LOCK, extra)
    assert _names(targets["p:py3.12-arm64"]) == ["orjson", "six"]
    assert _names(targets["p:py3.12-x86_64"]) == ["six"]


@pytest.mark.parametrize(
    ("lock", "message"),
    [
        ("lock-version = '1.0'\ncreated-by = 'x'\npackages = 7\n", "not a valid pylock.toml"),
        (
            "lock-version = '1.0'\ncreated-by = 'x'\n[[packages]]\nname = 'x'\nversion = '1'\n"
            "directory = {path = '../x'}\n",
            "comes from a directory",
        ),
        (
            "lock-version = '1.0'\ncreated-by = 'x'\n[[packages]]\nname = 'x'\nversion = '1'\n"
            "wheels = [{name = 'x-1-py3-none-any.whl', url = 'https://example.invalid/x.whl', hashes = {md5 = 'ab'}}]\n",
            "no sha256",
        ),
    ],
)
def test_a_lock_it_cannot_use_is_one_line(
    make_workspace: Callable[..., Path], lock: str, message: str
) -> None:
    target = next(iter(_targets(make_workspace, lock).values()))
    with pytest.raises(ResolveError, match=message) as info:
        pylock_requirements(target)
    assert "\n" not in info.value.message


def test_tool_pylock_without_the_lock_names_the_commands(make_workspace: Callable[..., Path]) -> None:
    root = make_workspace("", {"p": '[tool.layerctl]\ntool = "pylock"\n'})
    workspace = load_workspace(root)
    (layer,) = discover_layers(workspace)
    assert layer.problem is not None
    assert layer.problem.endswith(
        f'tool = "pylock" but there is no pylock.toml next to it; run `pip lock` (or `uv export '
        f"--format pylock.toml`) in {root / 'layers/p'} and commit the lock"
    )
