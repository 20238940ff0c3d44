"""The external tools layerctl drives (uv ships as a dependency of layerctl): where they are,
the environment uv runs in, and reading uv's errors."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from functools import cache
from pathlib import Path

from .errors import EnvironmentProblem

__all__ = ["no_wheel_package", "tool_version", "uv_bin", "uv_environment", "uv_error"]


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


def uv_environment(index_url: str | None, ca_bundle: Path | None) -> dict[str, str]:
    """uv's environment: the index (credentials included) and CA bundle go here, never in argv."""
    env = dict(os.environ)
    if index_url:
        env["UV_DEFAULT_INDEX"] = index_url
    if ca_bundle:
        env["SSL_CERT_FILE"] = str(ca_bundle)
    return env


# Reading uv's output.

_NO_WHEEL = re.compile(
    r"Because (?P<pkg>[A-Za-z0-9][A-Za-z0-9._-]*)(?:[=<>!~]=?\S*)?(?: was)? has no "
    r"(?:usable wheels|wheels with a matching \S+(?: \S+)? tag|wheels? (?:are|is) available)"
)
_NO_WHEEL_HINT = re.compile(
    r"(?:Wheels are required for|distributions is disabled, but attempted to build) `(?P<pkg>[^`]+)`"
)


def no_wheel_package(lines: tuple[str, ...]) -> str | None:
    """The package uv reported as having no compatible wheel, if that is why it failed."""
    text = " ".join(" ".join(line.split()) for line in lines)  # uv wraps long messages
    for pattern in (_NO_WHEEL, _NO_WHEEL_HINT):
        match = pattern.search(text)
        if match:
            return match.group("pkg")
    return None


def uv_error(lines: tuple[str, ...], fallback: str = "see build.log") -> str:
    """uv's own explanation, on one line: from its ``error:`` line to the end, unwrapped."""
    start = next((i for i, line in enumerate(lines) if line.startswith("error:")), None)
    if start is None:
        return fallback
    text = " ".join(" ".join(line.split()) for line in lines[start:] if not line.startswith("hint:"))
    return text.removeprefix("error: ")
