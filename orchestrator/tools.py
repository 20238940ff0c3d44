"""Locating the external tools layerctl drives (uv ships as a dependency of layerctl)."""

from __future__ import annotations

import shutil
import subprocess
from functools import cache

import anyio

from .errors import EnvironmentProblem

__all__ = ["tool_version", "uv_bin"]


@cache
def uv_bin() -> str:
    try:
        from uv import find_uv_bin

        return str(find_uv_bin())
    except (ImportError, FileNotFoundError):
        pass
    found = shutil.which("uv")
    if found:
        return found
    raise EnvironmentProblem("uv not found: install layerctl with its dependencies (pip install layerctl)")


_TIMEOUT_S = 30.0
_versions: dict[str, str] = {}
_asking: dict[str, anyio.Event] = {}


async def tool_version(binary: str) -> str:
    """What ``binary --version`` prints, asked once per binary (callers arriving meanwhile wait
    for that answer) in a subprocess the event loop awaits: builds go on while it answers, and a
    tool that does not answer within 30 s is stopped and counted as "unknown"."""
    while binary not in _versions:
        asking = _asking.get(binary)
        if asking is not None:
            await asking.wait()
            continue  # answered, or the one asking was cancelled: then ask again
        _asking[binary] = event = anyio.Event()
        try:
            _versions[binary] = await _ask_version(binary)
        finally:
            del _asking[binary]
            event.set()
    return _versions[binary]


async def _ask_version(binary: str) -> str:
    try:
        with anyio.fail_after(_TIMEOUT_S):
            result = await anyio.run_process([binary, "--version"])
    except (OSError, subprocess.CalledProcessError, TimeoutError):
        return "unknown"
    return result.stdout.decode(errors="replace").strip()
