"""Native builds: uv installs wheels for the target's platform on the host, no container.

Safe only when every dependency has a wheel for the target (``--only-binary :all:``): nothing is
compiled on the host, so nothing can come out built for the host's machine or glibc.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

from ..errors import BuildError, NoCompatibleWheel
from ..plan import Target
from ..process import BatchSink, run_streaming
from ..tools import tool_version, uv_bin
from . import InstallOutcome, InstallRequest

__all__ = ["NativeExecutor", "no_wheel_package", "uv_environment", "uv_error"]

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


def uv_environment(index_url: str | None, ca_bundle: Path | None) -> dict[str, str]:
    """uv's environment: the index (credentials included) and CA bundle go here, never in argv."""
    env = dict(os.environ)
    if index_url:
        env["UV_DEFAULT_INDEX"] = index_url
    if ca_bundle:
        env["SSL_CERT_FILE"] = str(ca_bundle)
    return env


def uv_error(lines: tuple[str, ...]) -> str:
    """uv's own explanation, on one line: from its ``error:`` line to the end, unwrapped."""
    start = next((i for i, line in enumerate(lines) if line.startswith("error:")), None)
    if start is None:
        return "see build.log"
    text = " ".join(" ".join(line.split()) for line in lines[start:] if not line.startswith("hint:"))
    return text.removeprefix("error: ")


class NativeExecutor:
    name = "native"

    async def fingerprint(self, target: Target) -> str:
        return await tool_version(uv_bin())

    async def install(self, request: InstallRequest, log: BatchSink) -> InstallOutcome:
        target = request.target
        uv = uv_bin()
        argv = [
            uv,
            "pip",
            "install",
            "--color",
            "never",
            "--no-progress",
            "--no-python-downloads",  # the target's version is --python-version; no interpreter is fetched
            "--python-version",
            target.python,
            "--python-platform",
            target.runtime.uv_platform(target.arch),
            "--only-binary",
            ":all:",
            "--target",
            str(request.dest),
            "--requirement",
            str(request.requirements),
        ]
        shown = ["uv", *argv[1:-4], "--target", "artifacts/python", "-r", "requirements.txt"]
        await log("$ " + " ".join(shown))
        result = await run_streaming(argv, log, env=uv_environment(request.index_url, request.ca_bundle))
        if result.returncode != 0:
            package = no_wheel_package(result.tail)
            if package:
                raise NoCompatibleWheel(
                    f"{package} has no wheel for {target.runtime.manylinux} {target.arch.machine} "
                    f"CPython {target.python}; it must be built in the target's image: "
                    'use --builder container (or builder = "container" for this layer)',
                    package,
                )
            raise BuildError(f"uv pip install failed (exit {result.returncode}): {uv_error(result.tail)}")
        return InstallOutcome(tool_versions={"uv": await tool_version(uv)})
