from __future__ import annotations

import textwrap
from collections.abc import Callable, Iterator
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


@pytest.fixture(scope="session", autouse=True)
def canary_outside_every_workspace(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """A file beside every test's workspace that no `clean` or `build-all` of the suite may touch."""
    canary = tmp_path_factory.getbasetemp() / "canary" / "keep-me.txt"
    canary.parent.mkdir(parents=True, exist_ok=True)
    canary.write_text("canary\n")
    yield
    assert canary.read_text() == "canary\n", "a layerctl command wrote outside its workspace"
    assert sorted(p.name for p in canary.parent.iterdir()) == ["keep-me.txt"]
