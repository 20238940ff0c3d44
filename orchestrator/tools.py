"""Locating the external tools layerctl drives (uv ships as a dependency of layerctl)."""

from __future__ import annotations

import shutil
import subprocess
from functools import cache

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


@cache
def tool_version(binary: str) -> str:
    try:
        out = subprocess.run([binary, "--version"], capture_output=True, text=True, check=True, timeout=30)
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    return out.stdout.strip()
