"""Hybrid builds: only what has no wheel for the target is compiled, in the target's build image;
everything is then installed natively by uv.

The set is resolved on the host as for a native build. Each package with no wheel for the
target's exact tags (``resolve/gaps.py``: from the lock's files, else by resolutions) is built
from its source distribution into a wheel by pip in the target's image (the container builder's
``SdistBuilder`` role), once per sdist, image, Python and architecture (``building/sdists.py``:
kept on disk and in the shared build cache, reused by every target, layer, run and runner). Its
line in the set then names that wheel (by path and hash), and uv installs the whole set for the
target's platform with ``--only-binary :all:``, as natively. The audit checks the built wheels'
ELF machine and glibc like any other file. In-repo projects with compiled code are built by the
container's ``WheelBuilder`` role, as for a container build."""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import anyio
import anyio.to_thread
from packaging.utils import canonicalize_name

from ...core.errors import BuildError
from ...core.events import Phase
from ...core.process import BatchSink
from ...core.runtimes import Arch
from ...core.tools import uv_environment, uv_identity
from ...package.scripts_fix import forget_direct_urls
from ...plan.targets import Target
from ...resolve.gaps import find_gaps
from ...resolve.reqset import Entry, RequirementSet
from ..buildcache.wheels import SharedWheels
from ..places import default_cache_dir
from ..sdists import BuiltWheel, SdistWheels, compiled_on, with_built
from . import Executor, ExecutorSetup, InstallOutcome, InstallRequest, SdistRequest, WheelRequest
from .container import ContainerExecutor
from .container import open_executor as open_container
from .native import NativeExecutor

__all__ = ["HybridExecutor", "installer_identity", "open_executor"]

_COMPILED_NAME = "compiled-requirements.txt"  # beside python/, the set naming the built wheels


def installer_identity(uv: str, image_digest: str) -> str:
    """What installs with the hybrid builder (the input key's ``installer``): uv and the image."""
    return f"{uv} | {image_digest}"


@asynccontextmanager
async def open_executor(setup: ExecutorSetup) -> AsyncIterator[HybridExecutor]:
    shared = SharedWheels(setup.caches) if setup.caches is not None and setup.caches.shared else None
    async with open_container(setup) as container:
        sdists = SdistWheels(setup.cache_dir or default_cache_dir(), shared)
        yield HybridExecutor(container, NativeExecutor(), sdists)


class HybridExecutor:
    name = "hybrid"
    prepare_phase: Phase | None = "pulling"  # the image's check (and pull), once per run

    def __init__(self, container: ContainerExecutor, native: NativeExecutor, sdists: SdistWheels) -> None:
        self.container, self.native, self.sdists = container, native, sdists

    def cost(self, target: Target) -> float:
        # a native install and, when nothing is kept yet, one compile (under QEMU for arm64)
        return 1.5 if target.arch is Arch.host() else 3.0

    async def prepare(self, target: Target) -> None:
        await self.container.prepare(target)

    async def fingerprint(self, target: Target) -> str:
        return installer_identity(await uv_identity(), await self.container.image_digest(target))

    async def build_wheel(self, request: WheelRequest, log: BatchSink) -> None:
        await self.container.build_wheel(request, log)

    async def install(self, request: InstallRequest, log: BatchSink) -> InstallOutcome:
        target = request.target
        env = uv_environment(request.index_url, request.ca_bundle, extra_index_urls=request.extra_index_urls)
        requirements = RequirementSet.parse(await anyio.Path(request.requirements).read_text("utf-8"))
        gaps = await find_gaps(target, requirements, env)
        built: dict[str, BuiltWheel] = {}
        for name in gaps:
            entry = _entry(requirements, name, target)
            sdist = SdistRequest(
                target=target,
                name=entry.name,
                version=entry.version,
                requirements=request.requirements,
                out_dir=request.dest,
                index_url=request.index_url,
                extra_index_urls=request.extra_index_urls,
                ca_bundle=request.ca_bundle,
            )
            wheel = await self.sdists.wheel(entry, sdist, self.container, log)
            said = "reused, built earlier" if wheel.reused else f"compiled in {target.build_image}"
            what = entry.path.name if entry.path is not None else f"{entry.name} {entry.version}"
            await log(f"sdist: {what} {said}: {wheel.path.name} (sha256 {wheel.sha256[:12]})")
            built[canonicalize_name(entry.name)] = wheel
        if not gaps:
            await log("hybrid: every dependency has a wheel for this target; nothing to compile")
        if built:
            compiled = request.dest.parent / _COMPILED_NAME
            await anyio.Path(compiled).write_text(with_built(requirements, built).text, "utf-8")
            request = dataclasses.replace(request, requirements=compiled)
        outcome = await self.native.install(request, log)
        if built:  # a path of this machine's cache: never recorded in the layer
            urls = [w.path.as_uri() for w in built.values()]
            await anyio.to_thread.run_sync(forget_direct_urls, request.dest, urls)
            await anyio.Path(request.requirements).unlink(missing_ok=True)
        image = await self.container.image_info(target)
        versions = {**outcome.tool_versions, "image": image.digest or image.id}
        return InstallOutcome(
            tool_versions=versions,
            image=target.build_image,
            image_id=image.id,
            engine=compiled_on(list(built.values())),
        )


def _entry(requirements: RequirementSet, name: str, target: Target) -> Entry:
    """The line of ``name`` in the set; one that cannot be built from an sdist is an error."""
    wanted = canonicalize_name(name)
    entry = next((e for e in requirements.entries if e.name and canonicalize_name(e.name) == wanted), None)
    if entry is None:
        raise BuildError(
            f"{name} has no wheel for {target.id} and is not a line of its set: re-lock the layer"
        )
    if entry.url and (entry.path is None or not entry.path.is_file()):
        raise BuildError(
            f"{entry.name} ({entry.url}) has no wheel for {target.id} and is not a source distribution "
            'file the hybrid builder can build: use builder = "container" for this layer'
        )
    return entry


_IS_AN_EXECUTOR: type[Executor] = HybridExecutor  # mypy: this builder keeps to both roles
