"""Precompiling a layer's modules (``bytecode = true``) with a real interpreter of the target's
Python: one that answers, when asked, with that version. A ``pythonX.Y`` on PATH may be a pyenv
shim for a version pyenv has not made available (it exits 127), so every candidate is asked
before it compiles anything, and a machine without one gets a warning, not a failed target."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Awaitable, Callable, Iterator, Mapping
from pathlib import Path

import anyio
import anyio.to_thread

from ..core.errors import BuildError
from ..core.outputs import LOG_NAME
from ..core.process import BatchSink, run_streaming
from ..plan.targets import Target

__all__ = ["compile_bytecode", "find_interpreter"]

_ASK = "import sys; print('%d.%d' % sys.version_info[:2]); print(sys.executable)"
_ASK_TIMEOUT_S = 20.0


async def find_interpreter(python: str) -> str | None:
    """The real executable of a Python ``python`` (X.Y) on this machine, or None: this one, each
    ``pythonX.Y`` on PATH in order, then the versions pyenv and uv installed. A candidate counts
    only when it runs and says it is that version; a shim that works gives its real executable."""
    for candidate in await anyio.to_thread.run_sync(_candidates, python, dict(os.environ)):
        if candidate == sys.executable:
            return candidate
        found = await _ask(candidate, python)
        if found is not None:
            return found
    return None


def _candidates(python: str, environ: Mapping[str, str]) -> list[str]:
    """Each candidate once (several names may lead to one executable)."""
    unique: dict[str, str] = {}
    for candidate in _places(python, environ):
        unique.setdefault(os.path.realpath(candidate), candidate)
    return list(unique.values())


def _places(python: str, environ: Mapping[str, str]) -> Iterator[str]:
    if f"{sys.version_info.major}.{sys.version_info.minor}" == python:
        yield sys.executable
    name = f"python{python}"
    for directory in environ.get("PATH", "").split(os.pathsep):
        path = Path(directory or ".") / name
        if path.is_file() and os.access(path, os.X_OK):
            yield str(path)
    home = Path.home()
    pyenv = Path(environ.get("PYENV_ROOT") or home / ".pyenv") / "versions"
    data = Path(environ.get("XDG_DATA_HOME") or home / ".local" / "share")
    uv = Path(environ.get("UV_PYTHON_INSTALL_DIR") or data / "uv" / "python")
    for pattern_root, pattern in ((pyenv, f"{python}.*/bin/{name}"), (uv, f"cpython-{python}.*/bin/{name}")):
        yield from (str(p) for p in sorted(pattern_root.glob(pattern), reverse=True))


async def _ask(candidate: str, python: str) -> str | None:
    with anyio.move_on_after(_ASK_TIMEOUT_S):
        try:
            result = await anyio.run_process(
                [candidate, "-c", _ASK], check=False, stdin=subprocess.DEVNULL, stderr=subprocess.DEVNULL
            )
        except OSError:
            return None
        lines = result.stdout.decode("utf-8", "replace").splitlines()
        if result.returncode == 0 and len(lines) >= 2 and lines[0] == python and lines[1]:
            return lines[1]
    return None


async def compile_bytecode(
    target: Target, dest: Path, log: BatchSink, warn: Callable[[str], Awaitable[None]]
) -> None:
    """Precompile with unchecked-hash pycs: zip mtimes are fixed, so timestamp pycs would be
    stale on every cold start and recompiled in memory each time."""
    interpreter = await find_interpreter(target.python)
    if interpreter is None:
        await warn(
            f"bytecode = true but this machine has no python{target.python} (a pyenv shim without "
            "that version does not count): the zip has no .pyc files"
        )
        return
    argv = [
        interpreter, "-m", "compileall", "-q", "-j", "0",
        "--invalidation-mode", "unchecked-hash",
        "-s", str(dest), "-p", "/opt/python", str(dest),
    ]  # fmt: skip
    result = await run_streaming(argv, log)
    if result.returncode != 0:
        raise BuildError(f"bytecode compilation failed (exit {result.returncode}); see {LOG_NAME}")
