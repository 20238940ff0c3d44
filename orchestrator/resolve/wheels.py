"""Choosing wheels exactly for a Lambda runtime whose platform uv cannot name.

Lambda's python3.10/3.11 run on Amazon Linux 2 (glibc 2.26): they take wheels tagged
manylinux_2_26 and older. uv's ``--python-platform`` knows manylinux 2_17 and 2_28, nothing in
between, so a wheel that exists only as manylinux_2_24 (greenlet for SQLAlchemy) looks missing at
2_17 and one tagged 2_28 looks fine at 2_28. So: uv first resolves at the platform the runtime
takes whole (2_17); only when that finds no wheel does uv resolve at the platform just above
(2_28, as a ``pylock.toml`` listing each package's candidate wheels), and the wheel of each
package is chosen here among exactly the runtime's tags, by ``packaging``'s tag priority. A
package with no wheel in that set needs the container; a wheel the lock does not list (by hash)
is never installed."""

from __future__ import annotations

import subprocess
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import unquote

import anyio
from packaging.tags import Tag, compatible_tags, cpython_tags
from packaging.utils import InvalidWheelFilename, canonicalize_name, parse_wheel_filename

from ..core._toml import TOMLDecodeError
from ..core._toml import loads as toml_loads
from ..core.errors import NoCompatibleWheel, ResolveError
from ..core.tools import no_wheel_package, uv_argv, uv_error
from ..plan.targets import Target
from .reqset import RequirementSet

__all__ = [
    "Chosen",
    "Compiled",
    "choose_wheels",
    "exact_misses",
    "exact_wheels",
    "no_wheel",
    "supported_tags",
    "uv_compile",
]


@dataclass(frozen=True)
class Chosen:
    name: str
    version: str
    url: str
    sha256: str
    tag: str  # the platform tag it was chosen for

    def requirement(self) -> str:
        return f"{self.name} @ {self.url} --hash=sha256:{self.sha256}"


def no_wheel(target: Target, what: str, package: str) -> NoCompatibleWheel:
    return NoCompatibleWheel(
        f"{what} has no wheel for {target.runtime.manylinux} {target.arch.machine} CPython {target.python}; "
        'it must be built in the target\'s image: use --builder container (or builder = "container" for this layer)',
        package,
    )


async def exact_wheels(
    target: Target, requirements: RequirementSet, env: Mapping[str, str], *extra: str
) -> list[Chosen] | None:
    """For a runtime uv cannot name exactly: the wheels chosen among its tags (None for the
    others: uv's own platform is exact there)."""
    above = target.runtime.uv_platform_above(target.arch)
    if above is None:
        return None
    result = await uv_compile(target, requirements, env, above, "--format", "pylock.toml", *extra)
    if result.returncode != 0:
        package = no_wheel_package(result.errors)
        if package:
            raise no_wheel(target, package, package)
        raise ResolveError(f"uv pip compile failed for {target.id}: {uv_error(result.errors)}")
    return choose_wheels(result.output, target, requirements.locked_hashes())


@dataclass(frozen=True)
class Compiled:
    returncode: int
    output: str
    errors: tuple[str, ...]


async def uv_compile(
    target: Target,
    requirements: RequirementSet,
    env: Mapping[str, str],
    platform: str,
    *extra: str,
    wheels_only: bool = True,
) -> Compiled:
    """A resolution of ``requirements`` for the target's Python on ``platform`` (of wheels only,
    unless ``wheels_only`` is false), run as every uv is here: no configuration files, in the
    layer's directory, ``env`` from ``tools.uv_environment``."""
    argv = [
        *uv_argv("pip", "compile", "-"),  # markers come from --python-version: no interpreter fetched
        "--quiet", "--no-header", "--python-version", target.python, "--python-platform", platform,
        *(["--only-binary", ":all:"] if wheels_only else []), *extra,
    ]  # fmt: skip
    result = await anyio.run_process(
        argv,
        input=requirements.text.encode(),
        check=False,
        stderr=subprocess.PIPE,
        cwd=target.layer.root,
        env=dict(env),
    )
    return Compiled(
        result.returncode,
        result.stdout.decode("utf-8", "replace"),
        tuple(result.stderr.decode("utf-8", "replace").splitlines()),
    )


def supported_tags(target: Target) -> list[Tag]:
    """The tags a wheel may carry to run on the target, the most preferred first."""
    major, minor = (int(part) for part in target.python.split("."))
    platforms = list(target.runtime.platform_tags(target.arch))
    return [
        *cpython_tags((major, minor), platforms=platforms),
        *compatible_tags((major, minor), interpreter=f"cp{major}{minor}", platforms=platforms),
    ]


def choose_wheels(pylock: str, target: Target, allowed: Mapping[str, set[str]]) -> list[Chosen]:
    """The best wheel of every package of ``pylock`` (uv's resolution at the platform above the
    runtime) among the runtime's exact tags. NoCompatibleWheel names the first package with
    none; a chosen wheel whose hash its lock does not list is a ResolveError."""
    chosen: list[Chosen] = []
    for name, version, best in _ranked(pylock, target):
        if best is None:
            raise no_wheel(target, f"{name} {version}", name)
        url, sha256, tag = best
        locked = allowed.get(canonicalize_name(name))
        if locked is not None and sha256 not in locked:
            raise ResolveError(
                f"{name} {version}: the wheel for {target.id} ({url.rsplit('/', 1)[-1]}) is not one the "
                "lock lists; re-lock the layer"
            )
        chosen.append(Chosen(name, version, url, sha256, tag))
    return chosen


def exact_misses(pylock: str, target: Target) -> dict[str, str]:
    """The packages of ``pylock`` (name: version) with no wheel among the runtime's exact tags."""
    return {name: version for name, version, best in _ranked(pylock, target) if best is None}


def _ranked(pylock: str, target: Target) -> list[tuple[str, str, tuple[str, str, str] | None]]:
    """Each package of ``pylock``: its name, version and best wheel for the target (or None)."""
    try:
        data = toml_loads(pylock)
    except TOMLDecodeError as exc:
        raise ResolveError(f"uv wrote an unreadable pylock.toml for {target.id}: {exc}") from None
    rank = {tag: index for index, tag in enumerate(supported_tags(target))}
    found = []
    for package in data.get("packages", []):
        name, version = str(package.get("name", "?")), str(package.get("version", "?"))
        files = list(package.get("wheels") or [])
        archive = package.get("archive")  # a wheel file named directly: an in-repo project's
        if isinstance(archive, Mapping):
            files.append(archive)
        found.append((name, version, _best(files, rank, target.layer.root)))
    return found


def _best(
    wheels: Iterable[Mapping[str, object]], rank: Mapping[Tag, int], base: Path
) -> tuple[str, str, str] | None:
    best: tuple[int, str, str, str] | None = None
    for wheel in wheels:
        url = str(wheel.get("url") or "")
        if not url and wheel.get("path"):  # a local file (pylock paths are relative to uv's directory)
            url = (base / str(wheel["path"])).resolve().as_uri()
        hashes = wheel.get("hashes")
        sha256 = str(hashes.get("sha256", "")).lower() if isinstance(hashes, Mapping) else ""
        try:
            _name, _version, _build, tags = parse_wheel_filename(unquote(url.rsplit("/", 1)[-1]))
        except InvalidWheelFilename:
            continue
        ranked = [(rank[tag], tag) for tag in tags if tag in rank]
        if not ranked or not sha256:
            continue
        score, tag = min(ranked)
        if best is None or score < best[0]:
            best = (score, url, sha256, tag.platform)
    return None if best is None else best[1:]
