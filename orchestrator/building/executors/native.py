"""Native builds: uv installs wheels for the target's platform on the host, no container.

Safe only when every dependency has a wheel for the target (``--only-binary :all:``): nothing is
compiled on the host, so nothing can come out built for the host's machine or glibc.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import anyio

from ...core.errors import BuildError, NoCompatibleWheel
from ...core.events import Phase
from ...core.process import BatchSink, ProcessResult, run_streaming
from ...core.tools import no_wheel_package, uv_argv, uv_environment, uv_error, uv_identity, uv_version
from ...package.scripts_fix import forget_direct_urls
from ...plan.targets import Target
from ...resolve.reqset import RequirementSet
from ...resolve.wheels import exact_wheels, no_wheel
from . import Executor, ExecutorSetup, InstallOutcome, InstallRequest, WheelRequest

__all__ = ["NativeExecutor", "open_executor", "wheels_install_argv"]


@asynccontextmanager
async def open_executor(setup: ExecutorSetup) -> AsyncIterator[NativeExecutor]:
    yield NativeExecutor()


class NativeExecutor:
    name = "native"
    prepare_phase: Phase | None = None  # nothing to prepare

    def cost(self, target: Target) -> float:
        return 1.0

    async def prepare(self, target: Target) -> None:
        return None

    async def fingerprint(self, target: Target) -> str:
        return await uv_identity()  # as the check before the run names it (freshness.py)

    async def install(self, request: InstallRequest, log: BatchSink) -> InstallOutcome:
        target = request.target
        env = uv_environment(request.index_url, request.ca_bundle, extra_index_urls=request.extra_index_urls)
        platform = target.runtime.uv_platform(target.arch)
        result = await _uv_install(request, log, env, platform, request.requirements)
        package = no_wheel_package(result.tail) if result.returncode else None
        if package:
            # uv's platform is below the runtime's (AL2: 2_17 for 2_26): choose among its exact tags
            requirements = RequirementSet.parse(await anyio.Path(request.requirements).read_text("utf-8"))
            chosen = await exact_wheels(target, requirements, env)
            if chosen is None:
                raise no_wheel(target, package, package)
            await log(
                f"uv has no {target.runtime.manylinux} platform: wheels chosen among the runtime's tags "
                f"({', '.join(f'{c.name} {c.version}: {c.tag}' for c in chosen if not c.tag.startswith('any'))})"
            )
            exact = request.dest.parent / "exact-wheels.txt"  # beside python/, never in the zip
            await anyio.Path(exact).write_text("".join(c.requirement() + "\n" for c in chosen))
            above = target.runtime.uv_platform_above(target.arch)
            assert above is not None
            result = await _uv_install(request, log, env, above, exact, "--no-deps")
            if result.returncode == 0:  # installed from the index: no URL of it in the layer
                await anyio.to_thread.run_sync(forget_direct_urls, request.dest, [c.url for c in chosen])
        if result.returncode == 0 and request.own is not None:  # its dependencies are the set
            result = await _uv_install(request, log, env, platform, request.own, "--no-deps")
        if result.returncode != 0:
            raise BuildError(f"uv pip install failed (exit {result.returncode}): {uv_error(result.tail)}")
        return InstallOutcome(tool_versions={"uv": await uv_version()})

    async def build_wheel(self, request: WheelRequest, log: BatchSink) -> None:
        """Nothing is compiled on the host: a compiled in-repo project needs the target's image."""
        target, project = request.target, request.project
        why = (
            f"could not be built into a wheel on this machine ({request.host_error})"
            if request.host_error
            else "has compiled code (its wheel is not pure Python)"
        )
        raise NoCompatibleWheel(
            f"{project} (an in-repo project) {why}; it must be built in the target's image for "
            f"{target.runtime.manylinux} {target.arch.machine}: use --builder container (or auto)",
            project.name,
        )


def wheels_install_argv(python: str, platform: str) -> list[str]:
    """``uv pip install`` of wheels only, for ``python`` on ``platform`` (no configuration, no
    interpreter fetched: tools.py); the caller adds ``--target`` and what to install."""
    return [
        *uv_argv("pip", "install"),
        "--no-progress", "--python-version", python, "--python-platform", platform,
        "--only-binary", ":all:",
    ]  # fmt: skip


async def _uv_install(
    request: InstallRequest,
    log: BatchSink,
    env: dict[str, str],
    platform: str,
    requirements: Path,
    *extra: str,
) -> ProcessResult:
    target = request.target
    argv = [
        *wheels_install_argv(target.python, platform), *extra,
        "--target", str(request.dest), "--requirement", str(requirements),
    ]  # fmt: skip
    shown = ["uv", *argv[1:-4], "--target", "artifacts/python", "-r", requirements.name]
    await log("$ " + " ".join(shown))
    return await run_streaming(argv, log, cwd=target.layer.root, env=env)


_IS_AN_EXECUTOR: type[Executor] = NativeExecutor  # mypy: this builder keeps to both roles
