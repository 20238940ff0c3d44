"""Precompiling a layer's modules (``bytecode = true``) with the target's own interpreter."""

from __future__ import annotations

import shutil
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path

from .errors import BuildError
from .outputs import LOG_NAME
from .plan import Target
from .process import BatchSink, run_streaming

__all__ = ["compile_bytecode"]


def _interpreter_for(python: str) -> str | None:
    if f"{sys.version_info.major}.{sys.version_info.minor}" == python:
        return sys.executable
    return shutil.which(f"python{python}")


async def compile_bytecode(
    target: Target, dest: Path, log: BatchSink, warn: Callable[[str], Awaitable[None]]
) -> None:
    """Precompile with unchecked-hash pycs: zip mtimes are fixed, so timestamp pycs would be
    stale on every cold start and recompiled in memory each time."""
    interpreter = _interpreter_for(target.python)
    if interpreter is None:
        await warn(f"bytecode = true but no python{target.python} on this machine; the zip has no .pyc files")
        return
    argv = [
        interpreter, "-m", "compileall", "-q", "-j", "0",
        "--invalidation-mode", "unchecked-hash",
        "-s", str(dest), "-p", "/opt/python", str(dest),
    ]  # fmt: skip
    result = await run_streaming(argv, log)
    if result.returncode != 0:
        raise BuildError(f"bytecode compilation failed (exit {result.returncode}); see {LOG_NAME}")
