"""Executors install a target's requirement set into a directory (the ``Installer`` role) and
build its in-repo projects with compiled code into wheels (the ``WheelBuilder`` role); an
``Executor`` is both. The scheduler and the build pipeline know only these Protocols and the
registry below: adding a builder is one module with an ``open_executor(setup)`` and one line in
``_REGISTRY`` (and one member of ``plan.Builder``)."""

from __future__ import annotations

import importlib
from collections.abc import AsyncIterator, Iterable
from contextlib import AbstractAsyncContextManager, AsyncExitStack, asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Protocol, cast

from ...core.engine_settings import EngineSettings
from ...core.events import Phase
from ...core.process import BatchSink, LineSink
from ...core.secrets import Masker
from ...plan.targets import Builder, Target

if TYPE_CHECKING:
    from ..buildcache.caches import BuildCaches

__all__ = [
    "Executor",
    "ExecutorSetup",
    "InstallOutcome",
    "InstallRequest",
    "Installer",
    "SdistBuilder",
    "SdistRequest",
    "WheelBuilder",
    "WheelRequest",
    "open_executors",
]


@dataclass(frozen=True, kw_only=True)
class InstallRequest:
    target: Target
    requirements: Path  # requirements.txt to install, as resolved for this target
    dest: Path  # the directory that becomes python/ in the zip
    index_url: str | None = field(default=None, repr=False)  # may hold credentials: env only
    extra_index_urls: tuple[str, ...] = field(default=(), repr=False)  # likewise
    ca_bundle: Path | None = None
    # the local files the set names (sdists, wheels, in-repo wheels), wherever they are: a
    # container mounts each read-only at its own path
    mounts: tuple[Path, ...] = ()
    own: Path | None = None  # the layer project's own wheel (a requirements file): --no-deps, after


@dataclass(frozen=True, kw_only=True)
class WheelRequest:
    """An in-repo project with compiled code, to build into a wheel for one target
    (``localwheels.py``): a writable copy of its sources and the directory its wheel goes to."""

    target: Target
    project: Path  # the project's directory in the repository (for messages)
    source: Path = Path()
    out_dir: Path = Path()
    host_error: str | None = None  # why the host could not build it, if it could not
    index_url: str | None = field(default=None, repr=False)  # may hold credentials: env only
    ca_bundle: Path | None = None


@dataclass(frozen=True, kw_only=True)
class SdistRequest:
    """A package of the set with no wheel for the target, to build from its source distribution
    into a wheel in the target's image (``building/sdists.py``): ``requirements`` holds its one
    requirement line (``name==version`` with the lock's hashes, or a local sdist's path)."""

    target: Target
    name: str
    version: str
    requirements: Path
    out_dir: Path
    source: Path | None = None  # a local sdist the line names, mounted read-only at its path
    # its build environment made on the host (``building/buildenv.py``), and its backend
    build_env: Path | None = None
    backend: str = ""
    backend_path: tuple[str, ...] = ()
    index_url: str | None = field(default=None, repr=False)  # may hold credentials: env only
    extra_index_urls: tuple[str, ...] = field(default=(), repr=False)  # likewise
    ca_bundle: Path | None = None


@dataclass(frozen=True, kw_only=True)
class InstallOutcome:
    tool_versions: dict[str, str]
    image: str | None = None
    image_id: str | None = None
    engine: str | None = None  # the Docker engine it ran on ([tool.layerctl.engines] name)


@dataclass(frozen=True, kw_only=True)
class ExecutorSetup:
    """What a run hands each executor it opens (each takes what it needs)."""

    progress: LineSink  # run-level lines (image checks, pulls, clean-up warnings)
    workspace: Path | None = None  # the workspace root the run builds
    masker: Masker = field(default_factory=Masker)
    cache_dir: Path | None = None  # download caches shared by the run's builds
    pull: str = "missing"
    retries: int = 0  # for the executor's own transient steps (image pulls)
    keep_containers: bool = False
    network: str | None = None
    caches: BuildCaches | None = None  # the run's shared caches also keep wheels built from sdists
    # the engines container steps may use ([tool.layerctl.engines], --engine); none: the default
    engines: tuple[tuple[str, EngineSettings], ...] = ()


class Installer(Protocol):
    """The role that installs a target's requirement set into a tree."""

    name: str
    # the phase shown while ``prepare`` runs (e.g. "pulling"), None when there is nothing to prepare
    prepare_phase: Phase | None

    def cost(self, target: Target) -> float:
        """Relative wall time of a build of ``target`` (1: a native build): the slowest start first."""
        ...

    async def prepare(self, target: Target) -> None:
        """What must be ready before the target builds (its image checked, once per run)."""
        ...

    async def fingerprint(self, target: Target) -> str:
        """What about this executor decides the bytes it installs (tool versions, image id):
        part of the target's up-to-date key."""
        ...

    async def install(self, request: InstallRequest, log: BatchSink) -> InstallOutcome:
        """Install into ``request.dest``, streaming output lines to ``log``."""
        ...


class WheelBuilder(Protocol):
    """The role that builds an in-repo project (a source distribution) into a wheel in the
    target's environment."""

    name: str  # part of the key its wheels are kept under for the run

    async def build_wheel(self, request: WheelRequest, log: BatchSink) -> None:
        """Build an in-repo project with compiled code into one wheel in ``request.out_dir``,
        for the target's platform (or refuse, saying which builder can)."""
        ...


class SdistBuilder(Protocol):
    """The role that builds a package's source distribution into a wheel in the target's image
    (the container builder's, which the hybrid builder uses)."""

    async def image_digest(self, target: Target) -> str:
        """The digest of the image the target's wheels are built in (part of their cache key)."""
        ...

    async def build_sdist(self, request: SdistRequest, log: BatchSink) -> str:
        """``pip wheel --no-deps`` of the request's one requirement into ``request.out_dir``;
        the name of the engine it ran on."""
        ...


class Executor(Installer, WheelBuilder, Protocol):
    """A builder: both roles (native, container). A hybrid builder may pair an installer with
    another builder's wheel builder."""


class _Module(Protocol):
    def open_executor(self, setup: ExecutorSetup) -> AbstractAsyncContextManager[Executor]: ...


# Modules are imported only when a target needs them (aiodocker is a third of start-up).
_REGISTRY: dict[Builder, str] = {
    Builder.NATIVE: "orchestrator.building.executors.native",
    Builder.CONTAINER: "orchestrator.building.executors.container",
    Builder.HYBRID: "orchestrator.building.executors.hybrid",
}


@asynccontextmanager
async def open_executors(
    builders: Iterable[Builder], setup: ExecutorSetup
) -> AsyncIterator[dict[Builder, Executor]]:
    """One open executor per builder the run needs, closed (best effort) when the run ends."""
    async with AsyncExitStack() as stack:
        opened: dict[Builder, Executor] = {}
        for builder in sorted(set(builders), key=lambda b: b.value):
            module = cast(_Module, importlib.import_module(_REGISTRY[builder]))
            opened[builder] = await stack.enter_async_context(module.open_executor(setup))
        yield opened
