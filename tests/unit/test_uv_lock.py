"""Errors from uv.lock: uv's own explanation, on one line. uv is a dependency of layerctl and reads
a broken lock without the network, so these run uv for real."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import anyio
import pytest

from orchestrator.core.errors import ResolveError
from orchestrator.plan.targets import Target, make_plan
from orchestrator.resolve.uv import uv_requirements
from orchestrator.workspace.config import load_workspace
from orchestrator.workspace.discovery import discover_layers

LAYER = '[project]\nname = "u"\nversion = "1"\nrequires-python = ">=3.10"\ndependencies = []\n'


def target_with_lock(make_workspace: Callable[..., Path], lock: str) -> Target:
    root = make_workspace('python = ["3.12"]\narch = ["x86_64"]', {"u": LAYER})
    (root / "layers/u/uv.lock").write_text(lock)
    workspace = load_workspace(root)
    return make_plan(workspace, discover_layers(workspace)).targets[0]


@pytest.mark.parametrize(
    ("lock", "says"),
    [
        (
            'version = 1\nrequires-python = ">=3.10"\n\n[[package]]\nname = "u"\nversion = [\n',
            "unclosed array",
        ),
        ("", "missing field `version`"),
        (
            'version = 1\nrequires-python = ">=3.10"\n\n[[package]]\nname = "u"\nversion = 17\n',
            "invalid type",
        ),
    ],
)
def test_a_corrupt_lock_reports_uvs_error(make_workspace: Callable[..., Path], lock: str, says: str) -> None:
    target = target_with_lock(make_workspace, lock)
    with pytest.raises(ResolveError) as caught:
        anyio.run(uv_requirements, target)
    message = caught.value.message
    assert "\n" not in message and "Using CPython" not in message
    assert message.startswith(f"{target.layer.root / 'uv.lock'}: ")
    assert "Failed to parse `uv.lock`" in message and says in message
    assert message.endswith(f"delete it and run `uv lock` in {target.layer.root}")
