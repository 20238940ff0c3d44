"""layerctl's own outputs (issue 16): discovery never finds a layer inside a directory layerctl
made (one marked ``.layerctl-dir``), and ``clean`` removes only what layerctl made there, of the
kind it made, leaving anything else and saying so."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from orchestrator.core.errors import ConfigError
from orchestrator.core.outputs import MARKER
from orchestrator.workspace.config import load_workspace
from orchestrator.workspace.discovery import discover_layers
from tests.support.cli import invoke

SLUG = "py3.12-x86_64"
SHIPPED = f"build/lambda/layer/{SLUG}/artifacts/python/somepkg/pyproject.toml"


@pytest.fixture
def workspace_with_outputs(make_workspace: Callable[..., Path]) -> Path:
    """A layer whose output directory (marked as layerctl's) holds an installed package that
    ships its own pyproject.toml, and a report directory holding one too."""
    root = make_workspace('layers = ["**/pyproject.toml"]\n', {"a": ""})
    layer = root / "layers/a"
    shipped = layer / SHIPPED
    shipped.parent.mkdir(parents=True)
    shipped.write_text('[project]\nname = "somepkg"\nversion = "1"\n')
    (layer / "build/lambda/layer" / MARKER).write_text("layerctl\n")
    (root / "build/layerctl/x").mkdir(parents=True)
    (root / "build/layerctl" / MARKER).write_text("layerctl\n")
    (root / "build/layerctl/x/pyproject.toml").write_text('[project]\nname = "x"\nversion = "1"\n')
    return root


def _names(root: Path, layers: list[str] | None = None) -> list[str]:
    return [layer.name for layer in discover_layers(load_workspace(root), layers_globs=layers)]


def test_discovery_never_finds_a_layer_in_layerctls_outputs(workspace_with_outputs: Path) -> None:
    root = workspace_with_outputs
    assert _names(root) == ["a"]
    with pytest.raises(ConfigError, match="matches no pyproject.toml"):
        _names(root, ["layers/*/build/lambda/layer/py3.12-x86_64/artifacts/python/*"])
    with pytest.raises(ConfigError, match=f"inside {root}/layers/a/build/lambda/layer, which layerctl made"):
        _names(root, [f"layers/a/{SHIPPED}"])
    listed = invoke(["-C", str(root), "list", "--builder", "native"])
    assert [line.split()[0] for line in listed.stdout.splitlines()] == ["a:py3.12-x86_64", "a:py3.12-arm64"]


def test_discovery_does_not_look_into_layerctls_outputs(
    workspace_with_outputs: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Pruned while globbing: nothing under a marked directory is even listed (a big artifacts
    tree costs nothing)."""
    scanned: list[str] = []
    real = os.scandir

    def scandir(path: str | Path) -> Iterator[os.DirEntry[str]]:
        scanned.append(str(path))
        return real(path)

    monkeypatch.setattr(os, "scandir", scandir)
    assert _names(workspace_with_outputs) == ["a"]
    assert scanned and not [p for p in scanned if "/build/lambda/layer/" in p or "/build/layerctl/" in p]


def test_clean_removes_only_what_layerctl_made_of_the_kind_it_made(
    make_workspace: Callable[..., Path],
) -> None:
    root = make_workspace("", {"a": ""})
    outputs = root / "layers/a/build/lambda/layer"
    target = outputs / SLUG
    target.mkdir(parents=True)
    (outputs / MARKER).write_text("layerctl\n")
    users = {  # a user's directories and files where layerctl keeps files, and the other way round
        "layer.zip/mine.txt": "a user's file",
        "build.log/notes/today.txt": "a user's notes",
        "artifacts": "a user's file where layerctl keeps a tree",
        ".staging-keep": "a file named like a staging tree",
        ".x.tmp/inside.txt": "a directory named like a temp file",
    }
    for name, text in users.items():
        (target / name).parent.mkdir(parents=True, exist_ok=True)
        (target / name).write_text(text)
    (target / "requirements.txt").write_text("six==1.16.0\n")  # layerctl's
    (target / ".layerctl-stamp.json").write_text("{}")  # layerctl's
    (target / "failed-artifacts/python").mkdir(parents=True)  # layerctl's
    (target / ".staging-abc/python").mkdir(parents=True)  # a killed run's
    report = root / "build/layerctl"
    (report / "report.json").mkdir(parents=True)
    (report / "report.json/mine.json").write_text("{}")
    (report / "report.html").write_text("<html>")
    (report / MARKER).write_text("layerctl\n")

    result = invoke(["-C", str(root), "clean"])
    assert result.exit_code == 0, result.output
    for name, text in users.items():
        assert (target / name).read_text() == text, name
    assert sorted(p.name for p in target.iterdir()) == sorted(
        {"layer.zip", "build.log", "artifacts", ".staging-keep", ".x.tmp"}
    )
    assert (report / "report.json/mine.json").read_text() == "{}" and not (report / "report.html").exists()
    left = [line for line in result.stdout.splitlines() if line.startswith("left ")]
    assert sorted(left) == sorted(
        [
            f"left {target / 'layer.zip'}: a directory where layerctl writes a file; not layerctl's, kept",
            f"left {target / 'build.log'}: a directory where layerctl writes a file; not layerctl's, kept",
            f"left {target / 'artifacts'}: a file where layerctl writes a directory; not layerctl's, kept",
            f"left {target / '.staging-keep'}: a file where layerctl writes a directory; not layerctl's, kept",
            f"left {target / '.x.tmp'}: a directory where layerctl writes a file; not layerctl's, kept",
            f"left {report / 'report.json'}: a directory where layerctl writes a file; not layerctl's, kept",
        ]
    ), result.stdout
