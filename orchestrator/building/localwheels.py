"""In-repo projects built into wheels, each once per run, with their own build backend.

A project is first built on the host (``uv build --wheel`` on a copy of its source files,
``localsrc.py``). A pure-Python wheel (``py3-none-any``) serves every target of the run, native or
container. Anything else has compiled code: it is built again for each (Python, architecture)
that needs it by the target's wheel builder (``WheelBuilder.build_wheel``: pip in the target's build image;
the native executor refuses, naming the container). Wheels live in a directory of the run, under
layerctl's cache directory, removed when the run ends.
"""

from __future__ import annotations

import dataclasses
import shutil
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import parse_qs, urlsplit

import anyio
import anyio.to_thread
from packaging.utils import InvalidWheelFilename, parse_wheel_filename

from ..core.errors import BuildError
from ..core.once import Once
from ..core.tools import uv_argv, uv_error
from ..package.zip import sha256_file
from ..plan.targets import Target
from ..resolve.localsrc import copy_sources, key_text, rewrite, source_digest
from ..resolve.reqset import Entry, LocalRef, RequirementSet

if TYPE_CHECKING:  # the check before a run keys in-repo projects by their sources; building them is later
    from ..core.process import BatchSink
    from .executors import WheelBuilder, WheelRequest

__all__ = [
    "HostBuild",
    "LocalSet",
    "LocalWheels",
    "NotPure",
    "Wheel",
    "keyed_requirements",
    "local_projects",
    "own_requirement",
    "wheel_in",
    "with_wheels",
]


@dataclass(frozen=True)
class Wheel:
    name: str  # the distribution's name, from the wheel's file name
    path: Path
    sha256: str
    pure: bool  # py3-none-any: the same wheel for every target


@dataclass(frozen=True)
class HostBuild:
    wheel: Wheel | None
    error: str | None = None  # why the host could not build it (then only a container can)


class LocalWheels:
    """The in-repo projects of one run: their source digests and wheels, each made once."""

    def __init__(self, base: Path | None = None) -> None:
        self.base = base
        self._dir: Path | None = None
        self._digests: Once[str] = Once()
        self._host: Once[HostBuild] = Once()
        self._compiled: Once[Wheel] = Once()

    @property
    def directory(self) -> Path:
        if self._dir is None:
            if self.base is not None:
                self.base.mkdir(parents=True, exist_ok=True)
            self._dir = Path(tempfile.mkdtemp(prefix="local-wheels-", dir=self.base))
        return self._dir

    def close(self) -> None:
        if self._dir is not None:
            shutil.rmtree(self._dir, ignore_errors=True)
            self._dir = None

    async def digest(self, project: Path) -> str:
        async def work() -> str:
            return await anyio.to_thread.run_sync(source_digest, project)

        return await self._digests.get(project, work)

    async def host(self, project: Path, env: Mapping[str, str], log: BatchSink) -> HostBuild:
        """The project built on the host, once per run (its wheel may turn out not pure)."""
        return await self._host.get(project, lambda: self._build_on_host(project, env, log))

    async def _build_on_host(self, project: Path, env: Mapping[str, str], log: BatchSink) -> HostBuild:
        from ..core.process import run_streaming  # building, the stage after the check

        work = Path(
            await anyio.to_thread.run_sync(lambda: tempfile.mkdtemp(prefix="host-", dir=self.directory))
        )
        source, out = work / "src", work / "wheel"
        await anyio.to_thread.run_sync(copy_sources, project, source)
        argv = [*uv_argv("build", "--wheel"), "--no-progress", "--out-dir", str(out), str(source)]
        await log(f"$ uv build --wheel {project}")
        result = await run_streaming(argv, log, cwd=work, env=env)
        if result.returncode != 0:
            return HostBuild(
                None, uv_error(result.tail, fallback=result.tail[-1] if result.tail else "no output")
            )
        return HostBuild(await anyio.to_thread.run_sync(wheel_in, out, project))

    async def for_target(
        self,
        project: Path,
        request: WheelRequest,
        executor: WheelBuilder,
        env: Mapping[str, str],
        log: BatchSink,
    ) -> Wheel:
        """The wheel of ``project`` the target installs: the host's when pure, else one built
        by the target's executor for its Python and architecture (once per run)."""
        built = await self.host(project, env, log)
        if built.wheel is not None and built.wheel.pure:
            return built.wheel
        target = request.target
        key = (project, target.python, target.arch, executor.name, target.build_image)

        async def work() -> Wheel:
            base = Path(
                await anyio.to_thread.run_sync(lambda: tempfile.mkdtemp(prefix="t-", dir=self.directory))
            )
            source, out = base / "src", base / "wheel"
            await anyio.to_thread.run_sync(copy_sources, project, source)
            out.mkdir()
            await executor.build_wheel(
                dataclasses.replace(
                    request, project=project, source=source, out_dir=out, host_error=built.error
                ),
                log,
            )
            return await anyio.to_thread.run_sync(wheel_in, out, project)

        return await self._compiled.get(key, work)


def wheel_in(directory: Path, project: Path) -> Wheel:
    """The one wheel a build wrote into ``directory``."""
    wheels = sorted(directory.glob("*.whl"))
    if len(wheels) != 1:
        raise BuildError(f"{project}: its build made {len(wheels)} wheels, expected one")
    try:
        name, _version, _build, tags = parse_wheel_filename(wheels[0].name)
    except InvalidWheelFilename as exc:
        raise BuildError(
            f"{project}: its build made {wheels[0].name}, not a valid wheel name ({exc})"
        ) from None
    pure = all(tag.abi == "none" and tag.platform == "any" for tag in tags)
    return Wheel(name=str(name), path=wheels[0], sha256=sha256_file(wheels[0]), pure=pure)


# The steps of a target that has in-repo projects (pipeline.py, decide.py).


def local_projects(target: Target, requirements: RequirementSet) -> list[LocalRef]:
    """The in-repo projects the target installs: its set's path dependencies and, with
    ``include-project``, the layer project itself (``entry`` None)."""
    refs = requirements.in_repo()
    if target.settings.include_project:
        refs.append(LocalRef(entry=None, path=target.layer.root.resolve()))
    return refs


async def keyed_requirements(
    local: LocalWheels, target: Target, requirements: RequirementSet, refs: list[LocalRef]
) -> RequirementSet:
    """The requirement set as the input key sees it: each in-repo project by its source digest,
    each local file (an sdist or wheel named by path) by its sha256, never by where it is."""
    digests = {ref.path: await local.digest(ref.path) for ref in refs}
    for entry in requirements.entries:
        if entry.path is not None and entry.path.is_file():
            digests[entry.path] = "sha256:" + await anyio.to_thread.run_sync(_checked_sha256, entry)
    text = key_text(requirements, digests, target.layer.root).text
    own = [digests[ref.path] for ref in refs if ref.entry is None]
    return RequirementSet.parse(text + "".join(f"include-project {digest}\n" for digest in own))


def _checked_sha256(entry: Entry) -> str:
    """A local file's sha256, which must be the one its reference names (``#sha256=``) if any."""
    assert entry.path is not None
    sha256 = sha256_file(entry.path)
    named = parse_qs(urlsplit(entry.url).fragment).get("sha256", [])
    if named and named[0].lower() != sha256:
        raise BuildError(
            f"{entry.path}: its sha256 is {sha256}, not the {named[0]} its reference names "
            f"({entry.name} @ ...#sha256=): put the file the reference means back, or correct the hash"
        )
    return sha256


@dataclass(frozen=True)
class LocalSet:
    requirements: RequirementSet  # the set with each path dependency replaced by its wheel
    wheels: tuple[Wheel, ...]  # every in-repo wheel the target installs
    own: Wheel | None  # the layer project's own wheel (include-project), installed --no-deps


async def with_wheels(
    local: LocalWheels,
    request: WheelRequest,
    requirements: RequirementSet,
    refs: list[LocalRef],
    executor: WheelBuilder | None,
    env: Mapping[str, str],
    log: BatchSink,
) -> LocalSet:
    """The requirement set with each in-repo project replaced by its wheel. With no executor
    (deciding the builder) only host wheels are made, and a project whose wheel is not pure
    raises NotPure. The layer's own wheel stays out of the set: its dependencies are the set
    (its metadata may name path dependencies relatively, which no installer can follow)."""
    wheels: dict[Path, Wheel] = {}
    for ref in refs:
        if executor is None:
            built = await local.host(ref.path, env, log)
            if built.wheel is None or not built.wheel.pure:
                raise NotPure(ref.path, built.error)
            wheels[ref.path] = built.wheel
        else:
            wheels[ref.path] = await local.for_target(ref.path, request, executor, env, log)
    text = rewrite(requirements, {path: (w.name, w.path, w.sha256) for path, w in wheels.items()})
    own = next((wheels[ref.path] for ref in refs if ref.entry is None), None)
    return LocalSet(text, tuple(wheels.values()), own)


def own_requirement(wheel: Wheel) -> str:
    """The layer project's own wheel as a requirement line, pinned by its hash."""
    return f"{wheel.name} @ {wheel.path.as_uri()} --hash=sha256:{wheel.sha256}\n"


class NotPure(Exception):
    """An in-repo project whose wheel is not pure Python (or that the host could not build)."""

    def __init__(self, project: Path, error: str | None) -> None:
        super().__init__(str(project))
        self.project, self.error = project, error
