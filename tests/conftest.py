from __future__ import annotations

import textwrap
from collections.abc import Callable
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = ROOT / "examples" / "monorepo"


@pytest.fixture
def make_workspace(tmp_path: Path) -> Callable[..., Path]:
    """Write a workspace: ``workspace`` is the root [tool.layerctl] body, ``layers`` maps a layer
    directory name to its pyproject.toml text (dedented)."""

    def make(workspace: str = "", layers: dict[str, str] | None = None) -> Path:
        (tmp_path / "pyproject.toml").write_text("[tool.layerctl]\n" + textwrap.dedent(workspace))
        for name, text in (layers or {"a": ""}).items():
            layer = tmp_path / "layers" / name
            layer.mkdir(parents=True, exist_ok=True)
            body = textwrap.dedent(text)
            if "[project]" not in body:
                body = f'[project]\nname = "{name}"\nversion = "1"\ndependencies = ["six"]\n' + body
            (layer / "pyproject.toml").write_text(body)
        return tmp_path

    return make
