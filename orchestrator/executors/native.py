"""Native builds: uv installs wheels for the target's platform on the host, no container.

Safe only when every dependency has a wheel for the target (``--only-binary :all:``): nothing is
compiled on the host, so nothing can come out built for the host's machine or glibc.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from ..errors import BuildError, NoCompatibleWheel
from ..plan import Target
from ..process import BatchSink, run_streaming
from ..tools import no_wheel_package, tool_version, uv_bin, uv_environment, uv_error
from . import ExecutorSetup, InstallOutcome, InstallRequest

__all__ = ["NativeExecutor", "open_executor"]


@asynccontextmanager
async def open_executor(setup: ExecutorSetup) -> AsyncIterator[NativeExecutor]:
    yield NativeExecutor()


class NativeExecutor:
    name = "native"
    prepare_phase = None

    def cost(self, target: Target) -> float:
        return 1.0

    async def prepare(self, target: Target) -> None:
        return None

    async def fingerprint(self, target: Target) -> str:
        return tool_version(uv_bin())

    async def install(self, request: InstallRequest, log: BatchSink) -> InstallOutcome:
        target = request.target
        uv = uv_bin()
        argv = [
            uv,
            "pip",
            "install",
            "--no-config",  # no uv.toml / [tool.uv] from anywhere: the requirement set is the input
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
        result = await run_streaming(
            argv, log, cwd=target.layer.root, env=uv_environment(request.index_url, request.ca_bundle)
        )
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
        return InstallOutcome(tool_versions={"uv": tool_version(uv)})
