"""Finding a real interpreter of the target's Python for ``bytecode = true``: a pyenv shim of a
version pyenv does not have is passed over, never run to compile."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import anyio
import pytest

from orchestrator.package.bytecode import find_interpreter

CURRENT = f"{sys.version_info.major}.{sys.version_info.minor}"
OTHER = "3.12" if CURRENT != "3.12" else "3.13"  # a version this interpreter is not


def script(path: Path, body: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("#!/bin/sh\n" + body)
    path.chmod(0o755)
    return path


def pyenv_shim(directory: Path, python: str) -> Path:
    """What pyenv's shim does for a version pyenv has not made global: complain and exit 127."""
    return script(
        directory / f"python{python}",
        f'echo "pyenv: python{python}: command not found" >&2\n'
        f'echo "The \\`python{python}\' command exists in these Python versions:" >&2\nexit 127\n',
    )


def interpreter(path: Path, python: str, real: str) -> Path:
    """Stands for an interpreter of ``python`` whose real executable is ``real`` (it answers
    layerctl's question the way Python does)."""
    return script(path, f"printf '%s\\n%s\\n' {python} {real}\n")


@pytest.fixture
def bare(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An environment with nothing but pyenv shims on PATH and no installed Pythons."""
    shims = tmp_path / "shims"
    for python in (CURRENT, OTHER):
        pyenv_shim(shims, python)
    monkeypatch.setenv("PATH", f"{shims}{os.pathsep}/nonexistent")
    monkeypatch.setenv("PYENV_ROOT", str(tmp_path / "pyenv"))
    monkeypatch.setenv("UV_PYTHON_INSTALL_DIR", str(tmp_path / "uv-python"))
    return tmp_path


def test_a_pyenv_shim_without_the_version_is_no_interpreter(bare: Path) -> None:
    assert anyio.run(find_interpreter, OTHER) is None


def test_the_running_interpreter_serves_its_own_version(bare: Path) -> None:
    assert anyio.run(find_interpreter, CURRENT) == sys.executable


def test_a_real_interpreter_later_on_path_is_found(bare: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    real = interpreter(bare / "opt/bin" / f"python{OTHER}", OTHER, f"/opt/python{OTHER}/bin/python{OTHER}")
    monkeypatch.setenv("PATH", f"{bare / 'shims'}{os.pathsep}{real.parent}")
    assert anyio.run(find_interpreter, OTHER) == f"/opt/python{OTHER}/bin/python{OTHER}"


def test_a_wrong_version_behind_the_name_is_passed_over(bare: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    liar = interpreter(bare / "liar" / f"python{OTHER}", CURRENT, "/usr/bin/python")
    monkeypatch.setenv("PATH", str(liar.parent))
    assert anyio.run(find_interpreter, OTHER) is None


def test_pyenvs_and_uvs_installed_versions_are_found(bare: Path) -> None:
    installed = bare / "pyenv/versions" / f"{OTHER}.1/bin" / f"python{OTHER}"
    interpreter(installed, OTHER, str(installed))
    assert anyio.run(find_interpreter, OTHER) == str(installed)
    installed.unlink()
    managed = bare / "uv-python" / f"cpython-{OTHER}.4-linux-x86_64-gnu/bin" / f"python{OTHER}"
    interpreter(managed, OTHER, str(managed))
    assert anyio.run(find_interpreter, OTHER) == str(managed)
