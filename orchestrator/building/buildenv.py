"""A local source distribution's build environment, made on the host, so that the only work done
in the target's image (under QEMU for a foreign architecture) is the compile.

pip's build isolation in the image installs the build requirements there first (a second pip,
emulated, unpacking setuptools) and starts three Python processes; for an sdist that is a file on
this machine, its ``[build-system]`` is read here instead (``read_build_system``: PEP 517/518,
the legacy setuptools backend when it names none), those requirements are installed by uv for
the target's Python and platform into a directory kept under the cache directory, once per set
(``build_env``), and the image runs the backend's ``build_wheel`` in one Python started with
``-S`` (``executors/probe.DIRECT_SCRIPT``): only that directory and the standard library are
importable, as in pip's isolated environment. A requirement the backend asks for besides
(``get_requires_for_build_wheel``) that the directory lacks, or any failure of that build, falls
back to ``pip wheel`` with its build isolation in the same container; an sdist from the index
(not on this machine before the build) is built that way from the start."""

from __future__ import annotations

import contextlib
import hashlib
import json
import re
import shutil
import tarfile
import tempfile
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

import anyio.to_thread

from ..core import _toml
from ..core.process import BatchSink, run_streaming
from ..plan.targets import Target
from .executors.native import wheels_install_argv

__all__ = ["LEGACY", "BuildSystem", "build_env", "read_build_system"]

_DIRECTORY = "build-envs"
_COMPLETE = ".layerctl-complete"


@dataclass(frozen=True)
class BuildSystem:
    requires: tuple[str, ...]
    backend: str  # ``module:object``
    backend_path: tuple[str, ...] = ()  # in-tree backends: directories of the source tree


# What pip assumes of an sdist whose pyproject.toml names no backend (or that has none)
LEGACY = BuildSystem(("setuptools>=40.8.0",), "setuptools.build_meta:__legacy__")
_BACKEND = re.compile(r"[A-Za-z_][\w.]*(:[A-Za-z_][\w.]*)?")


def read_build_system(sdist: Path) -> BuildSystem | None:
    """The sdist's build system, from its ``pyproject.toml`` (nothing is extracted); None when it
    is not a ``.tar.gz`` with one top directory, or its build system cannot be read (pip then
    builds it as it would)."""
    if not sdist.name.endswith(".tar.gz"):
        return None
    try:
        with tarfile.open(sdist, "r:gz") as tar:
            tops = {PurePosixPath(name).parts[0] for name in tar.getnames() if name not in ("", ".")}
            if len(tops) != 1:
                return None
            try:
                member = tar.extractfile(f"{tops.pop()}/pyproject.toml")
            except KeyError:
                return LEGACY
            if member is None:
                return None
            data = _toml.loads(member.read(1 << 20).decode("utf-8"))
    except (OSError, tarfile.TarError, EOFError, UnicodeDecodeError, ValueError):
        return None
    system = data.get("build-system")
    if system is None:
        return LEGACY
    requires, backend, path = (
        system.get("requires"),
        system.get("build-backend"),
        system.get("backend-path", []),
    )
    if not _strings(requires) or not _strings(path) or any(".." in PurePosixPath(p).parts for p in path):
        return None
    if backend is None:
        return BuildSystem(tuple(requires), LEGACY.backend)
    if not isinstance(backend, str) or not _BACKEND.fullmatch(backend):
        return None
    return BuildSystem(tuple(requires), backend, tuple(path))


def _keep(work: Path, home: Path) -> Path | None:
    """The environment made in ``work`` kept at ``home``, whole or not at all."""
    (work / _COMPLETE).touch()
    with contextlib.suppress(OSError):  # another target of this run (or another run) made it first
        work.rename(home)
    return home if (home / _COMPLETE).is_file() else None


def _strings(value: object) -> bool:
    return isinstance(value, list) and all(isinstance(item, str) and "\n" not in item for item in value)


async def build_env(
    system: BuildSystem, target: Target, base: Path, env: dict[str, str], log: BatchSink
) -> Path | None:
    """The directory holding ``system``'s requirements for the target's Python and platform
    (wheels only), made once per set under ``base`` (the run's cache directory); None when uv
    cannot make it (the build then runs with pip's isolation)."""
    requires = sorted(system.requires)
    if system.backend.startswith("setuptools.") and not any(r.startswith("wheel") for r in requires):
        requires.append("wheel")  # what setuptools' get_requires_for_build_wheel asks for, when older
    platform = target.runtime.uv_platform(target.arch)
    material = {"requires": requires, "python": target.python, "platform": platform}
    home = base / _DIRECTORY / hashlib.sha256(json.dumps(material).encode()).hexdigest()[:40]
    if await anyio.Path(home / _COMPLETE).is_file():
        return home
    await anyio.Path(base / _DIRECTORY).mkdir(parents=True, exist_ok=True)
    work = Path(
        await anyio.to_thread.run_sync(lambda: tempfile.mkdtemp(prefix=".env-", dir=base / _DIRECTORY))
    )
    try:
        argv = [*wheels_install_argv(target.python, platform), "--target", str(work), *requires]
        await log(f"$ uv pip install --target <build environment> {' '.join(requires)}  (on the host)")
        result = await run_streaming(argv, log, env=env)
        if result.returncode != 0:
            await log(
                "the build requirements could not be installed on the host: pip's build isolation instead"
            )
            return None
        return await anyio.to_thread.run_sync(_keep, work, home)
    finally:
        await anyio.to_thread.run_sync(lambda: shutil.rmtree(work, ignore_errors=True))
