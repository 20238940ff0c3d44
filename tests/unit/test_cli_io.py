"""The real CLI against the machine: unreadable directories, a closed or full stdout, a report
directory that cannot be written. Permission cases run as an unprivileged user (root ignores
file modes); they skip when this machine cannot switch users."""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from orchestrator.errors import EXIT_USAGE
from tests.support.cli import as_nobody, layerctl

NOBODY = as_nobody()
needs_nobody = pytest.mark.skipif(NOBODY is None, reason="cannot run a command as an unprivileged user here")

LAYER = '[project]\nname = "{name}"\nversion = "1"\ndependencies = []\n'


@pytest.fixture
def workspace() -> Iterator[Path]:
    """A workspace any user can read (pytest's own temporary directories are private to root)."""
    root = Path(tempfile.mkdtemp(prefix="layerctl-io-"))
    root.chmod(0o755)
    (root / "pyproject.toml").write_text("[tool.layerctl]\n")
    for name in ("a", "b"):
        (root / "layers" / name).mkdir(parents=True)
        (root / "layers" / name / "pyproject.toml").write_text(LAYER.format(name=name))
    yield root
    for path in root.rglob("*"):
        if path.is_dir() and not path.is_symlink():
            path.chmod(0o755)
    shutil.rmtree(root)


def no_traceback(result: object) -> None:
    stderr = getattr(result, "stderr", "")
    assert "Traceback" not in stderr, stderr


@needs_nobody
@pytest.mark.parametrize("pattern", ["layers/*/pyproject.toml", "layers/*", "layers/**/pyproject.toml"])
def test_unreadable_layer_directory_is_an_error_naming_it(workspace: Path, pattern: str) -> None:
    (workspace / "pyproject.toml").write_text(f'[tool.layerctl]\nlayers = ["{pattern}"]\n')
    (workspace / "layers" / "b").chmod(0o000)
    result = layerctl("list", "--no-decide", cwd=workspace, prefix=NOBODY or [])
    no_traceback(result)
    assert result.returncode == EXIT_USAGE, result.stdout + result.stderr
    assert result.stdout == ""
    [line] = result.stderr.splitlines()
    assert line.startswith(f"layerctl: error: {workspace / 'layers' / 'b'}: cannot look into this directory")
    assert "Permission denied" in line and repr(pattern) in line


@needs_nobody
def test_unreadable_layers_parent_is_an_error_naming_it(workspace: Path) -> None:
    (workspace / "layers").chmod(0o311)  # can pass through it, cannot list it
    result = layerctl("list", "--no-decide", cwd=workspace, prefix=NOBODY or [])
    no_traceback(result)
    assert result.returncode == EXIT_USAGE
    assert f"error: {workspace / 'layers'}: cannot look into this directory" in result.stderr
