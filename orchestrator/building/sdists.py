"""Wheels built from source distributions in a target's image (the hybrid builder), each once.

A package of a target's set with no wheel for the target is built by the container's
``SdistBuilder`` role (``pip wheel --no-deps`` of exactly its line: the locked version with the
lock's hashes, or a local sdist). The wheel is keyed by what decides its bytes: the sdist (its
sha256 for a local file; the hashes the lock allows for its release otherwise, which include the
sdist's), the image's digest, Python, architecture and :data:`BUILD_RECIPE`. It is kept under the
run's cache directory (``built-wheels/``) and, with ``cache-url``, in the shared build cache
(``buildcache/wheels.py``: write-once, verified, signed): every target, layer, run and runner
needing the same sdist in the same image reuses it, in this run (``Once``) and the next."""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import json
import os
import shutil
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import anyio
import anyio.to_thread
from packaging.tags import Tag, compatible_tags, cpython_tags
from packaging.utils import InvalidWheelFilename, canonicalize_name, parse_wheel_filename

from ..core.errors import BuildError
from ..core.once import Once
from ..core.process import BatchSink
from ..core.tools import uv_environment
from ..package.zip import sha256_file
from ..plan.targets import Target
from ..resolve.reqset import Entry, RequirementSet
from .buildcache.wheels import SharedWheels
from .buildenv import build_env, read_build_system
from .executors import SdistBuilder, SdistRequest

__all__ = ["BUILD_RECIPE", "BuiltWheel", "SdistWheels", "compiled_on", "fits", "with_built"]

# Raised when how an sdist becomes a wheel changes (the script, pip's options): built wheels
# kept under the old recipe are not used again.
BUILD_RECIPE = 3  # 2: compiled without debug information (reproducible); 3: a local sdist built directly
_DIRECTORY = "built-wheels"


@dataclass(frozen=True)
class BuiltWheel:
    name: str
    version: str
    path: Path
    sha256: str
    reused: bool  # found built (by an earlier target, layer, run or runner)
    engine: str | None = None  # the engine its compile ran on (None: reused, no container)


def compiled_on(wheels: list[BuiltWheel]) -> str | None:
    """The engine a target's compiles ran on (the first; None when it reused every wheel)."""
    return next((w.engine for w in wheels if w.engine is not None), None)


def fits(wheel: Path, target: Target) -> bool:
    """Whether a wheel built in the target's image can be installed for it: one of its tags is
    the target's CPython with a platform the runtime takes, or the image's own ``linux_<machine>``
    (pip in the image tags what it builds so; the audit then checks its ELF machine and glibc)."""
    try:
        _name, _version, _build, tags = parse_wheel_filename(wheel.name)
    except InvalidWheelFilename:
        return False
    major, minor = (int(part) for part in target.python.split("."))
    platforms = [*target.runtime.platform_tags(target.arch), f"linux_{target.arch.machine}"]
    allowed: set[Tag] = {
        *cpython_tags((major, minor), platforms=platforms),
        *compatible_tags((major, minor), interpreter=f"cp{major}{minor}", platforms=platforms),
    }
    return any(tag in allowed for tag in tags)


def _sdist_key(entry: Entry) -> str:
    """What names the sdist: its file's sha256 (a local sdist), else its release's locked hashes
    (they include the sdist's), else its name and version (an unhashed set)."""
    if entry.path is not None and entry.path.is_file():
        return "sha256:" + sha256_file(entry.path)
    if entry.hashes:
        return "hashes:" + ",".join(sorted(entry.hashes))
    return f"pin:{canonicalize_name(entry.name)}=={entry.version}"


class SdistWheels:
    """The wheels built from sdists, under ``base`` (the run's cache directory), and in the
    shared caches (``shared``) when the run has them."""

    def __init__(self, base: Path, shared: SharedWheels | None = None) -> None:
        self.directory = base / _DIRECTORY
        self.shared = shared
        self._once: Once[BuiltWheel] = Once()

    async def wheel(
        self, entry: Entry, request: SdistRequest, builder: SdistBuilder, log: BatchSink
    ) -> BuiltWheel:
        """The wheel of ``entry`` for the request's target: found built, else built (once)."""
        target = request.target
        material = {
            "sdist": await anyio.to_thread.run_sync(_sdist_key, entry),
            "image": await builder.image_digest(target),
            "python": target.python,
            "arch": target.arch.value,
            "recipe": BUILD_RECIPE,
        }
        key = hashlib.sha256(json.dumps(material, sort_keys=True).encode()).hexdigest()
        home = self.directory / key[:40]
        mine = False

        async def work() -> BuiltWheel:
            nonlocal mine
            mine = True
            found = await anyio.to_thread.run_sync(_one_wheel, home)
            if found is None and self.shared is not None:
                found = await self._fetch(key, home, log)
            if found is not None:
                sha256 = await anyio.to_thread.run_sync(sha256_file, found)
                return BuiltWheel(entry.name, entry.version, found, sha256, reused=True)
            built = await self._build(entry, request, builder, log, home)
            if self.shared is not None:
                await self.shared.store(key, built.path, built.sha256, log)
            return built

        built = await self._once.get(key, work)
        # another target of this run built it (or found it): this one reuses it
        return built if mine else dataclasses.replace(built, reused=True, engine=None)

    async def _fetch(self, key: str, home: Path, log: BatchSink) -> Path | None:
        assert self.shared is not None
        self.directory.mkdir(parents=True, exist_ok=True)
        work = Path(
            await anyio.to_thread.run_sync(lambda: tempfile.mkdtemp(prefix=".fetch-", dir=self.directory))
        )
        try:
            if await self.shared.fetch(key, work / "wheel", log) is None:
                return None
            with contextlib.suppress(OSError):  # whole or not at all; another run may have kept one
                os.rename(work / "wheel", home)
            return await anyio.to_thread.run_sync(_one_wheel, home)
        finally:
            await anyio.to_thread.run_sync(lambda: shutil.rmtree(work, ignore_errors=True))

    async def _build(
        self, entry: Entry, request: SdistRequest, builder: SdistBuilder, log: BatchSink, home: Path
    ) -> BuiltWheel:
        target = request.target
        self.directory.mkdir(parents=True, exist_ok=True)
        work = Path(
            await anyio.to_thread.run_sync(lambda: tempfile.mkdtemp(prefix=".build-", dir=self.directory))
        )
        try:
            out, line = work / "wheel", work / "requirements.txt"
            out.mkdir()
            hashes = "".join(f" --hash={h}" for h in entry.hashes)
            pin = str(entry.path) if entry.path is not None else f"{entry.name}=={entry.version}"
            line.write_text(pin + hashes + "\n", "utf-8")
            sdist = dataclasses.replace(
                request,
                name=entry.name,
                version=entry.version,
                requirements=line,
                out_dir=out,
                source=entry.path,
            )
            sdist = await self._direct(entry, sdist, log)
            engine = await builder.build_sdist(sdist, log)
            wheels = sorted(out.glob("*.whl"))
            if len(wheels) != 1:
                raise BuildError(
                    f"{entry.name} {entry.version}: pip wheel made {len(wheels)} wheels, expected one"
                )
            if not fits(wheels[0], target):
                raise BuildError(
                    f"{entry.name} {entry.version}: the wheel built in {target.build_image} ({wheels[0].name}) "
                    f"does not fit {target.id} (CPython {target.python}, {target.runtime.manylinux} "
                    f"{target.arch.machine}): use an image for that Python and architecture"
                )
            with contextlib.suppress(OSError):  # whole or not at all; another run may have kept one first
                os.rename(out, home)
            path = await anyio.to_thread.run_sync(_one_wheel, home)
            if path is None:
                raise BuildError(f"{entry.name} {entry.version}: cannot keep its built wheel in {home}")
            sha256 = await anyio.to_thread.run_sync(sha256_file, path)
            return BuiltWheel(entry.name, entry.version, path, sha256, reused=False, engine=engine)
        finally:
            await anyio.to_thread.run_sync(lambda: shutil.rmtree(work, ignore_errors=True))

    async def _direct(self, entry: Entry, request: SdistRequest, log: BatchSink) -> SdistRequest:
        """The request with a build environment made on the host, for a local sdist whose file is
        the one its line's hashes allow and whose build system can be read (``buildenv.py``)."""
        sdist = entry.path
        if sdist is None or not sdist.is_file():
            return request
        allowed = {h.removeprefix("sha256:").lower() for h in entry.hashes if h.startswith("sha256:")}
        if allowed and await anyio.to_thread.run_sync(sha256_file, sdist) not in allowed:
            return request  # pip refuses it, saying why
        system = await anyio.to_thread.run_sync(read_build_system, sdist)
        if system is None:
            return request
        env = uv_environment(request.index_url, request.ca_bundle, extra_index_urls=request.extra_index_urls)
        home = await build_env(system, request.target, self.directory.parent, env, log)
        if home is None:
            return request
        return dataclasses.replace(
            request, build_env=home, backend=system.backend, backend_path=system.backend_path
        )


def _one_wheel(home: Path) -> Path | None:
    wheels = sorted(home.glob("*.whl")) if home.is_dir() else []
    return wheels[0] if len(wheels) == 1 else None


def with_built(requirements: RequirementSet, built: Mapping[str, BuiltWheel]) -> RequirementSet:
    """The set with each built package's line replaced by its wheel (``name @ file:///...``),
    its hash written when the set has hashes (one hash turns on hash checking for every line)."""
    hashed = requirements.hashed

    def line(entry: Entry) -> str | None:
        wheel = built.get(canonicalize_name(entry.name)) if entry.name else None
        if wheel is None:
            return None
        suffix = f" ; {entry.marker}" if entry.marker else ""
        check = f" \\\n    --hash=sha256:{wheel.sha256}" if hashed else ""
        return f"{entry.name} @ {wheel.path.as_uri()}{suffix}{check}"

    return requirements.replaced(line)
