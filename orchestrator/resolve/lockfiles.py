"""Whether a locked package has a wheel for a target, read from its lock's file list: offline,
no resolver.

Every lock lists each package's files with their hashes: ``uv.lock`` its ``wheels`` (and
``sdist``) by URL, ``poetry.lock`` its ``files`` by name, ``pylock.toml`` its ``wheels`` by name,
URL or path. The requirement set exported from a lock pins each package with the hashes of all
its files, so a hash names a file: the package has a wheel for the target when one of its files
is a wheel carrying one of the target's exact tags (``wheels.supported_tags``: its CPython and
the platforms its runtime takes, by ``packaging.tags``). A set whose lines this cannot answer
for (no hashes, a hash the lock does not list, an in-repo directory) is left to a resolution
(``gaps.py``)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any
from urllib.parse import unquote

from packaging.tags import Tag
from packaging.utils import InvalidWheelFilename, parse_wheel_filename

from ..core.errors import ConfigError
from ..plan.targets import Target
from ..workspace.config import read_toml
from ..workspace.discovery import Tool
from ..workspace.uv_workspace import find_uv_workspace
from .pylock import PYLOCK
from .reqset import RequirementSet
from .wheels import supported_tags

__all__ = ["lock_file_names", "lock_gaps"]


def lock_file_names(target: Target) -> dict[str, str] | None:
    """sha256 (lower-case hex) -> file name, for every file the target's lock lists; None for a
    layer without a lock (pip) or a lock that cannot be read here (the build reports it)."""
    tool = target.layer.tool
    root = target.layer.root
    try:
        if tool is Tool.UV:
            workspace = find_uv_workspace(root)
            packages = read_toml(workspace.lock if workspace else root / "uv.lock").get("package", [])
            return _names(_uv_files(packages))
        if tool is Tool.POETRY:
            packages = read_toml(root / "poetry.lock").get("package", [])
            files = (f for p in _tables(packages) for f in _tables(p.get("files")))
            return _names((f.get("file"), f.get("hash")) for f in files)
        if tool is Tool.PYLOCK:
            packages = read_toml(root / PYLOCK).get("packages", [])
            return _names(_pylock_files(packages))
    except ConfigError:
        return None
    return None


def lock_gaps(target: Target, requirements: RequirementSet) -> list[str] | None:
    """The packages of ``requirements`` (as it applies to the target) with no wheel for the
    target's exact tags, from the lock's files; None when the lock cannot tell for every one."""
    names = lock_file_names(target)
    if names is None:
        return None
    tags = set(supported_tags(target))
    gaps: list[str] = []
    for entry in requirements.applicable_entries(target):
        if not entry.name:
            if entry.is_option:
                continue
            return None  # a line packaging cannot read (an in-repo path): a resolution tells
        if entry.url:  # a direct reference: a wheel installs as it is, anything else is built
            if not entry.url.split("#")[0].strip().endswith(".whl"):
                gaps.append(entry.name)
            continue
        files = [names[h] for h in _sha256(entry.hashes) if h in names]
        if not files:
            return None  # unhashed, or hashes the lock does not list
        if not any(_fits(name, tags) for name in files):
            gaps.append(entry.name)
    return gaps


def _fits(file_name: str, tags: set[Tag]) -> bool:
    try:
        _name, _version, _build, wheel_tags = parse_wheel_filename(file_name)
    except InvalidWheelFilename:
        return False  # an sdist (or not a wheel)
    return not tags.isdisjoint(wheel_tags)


def _sha256(hashes: Iterable[str]) -> list[str]:
    return [h.removeprefix("sha256:").lower() for h in hashes if h.startswith("sha256:")]


def _tables(value: Any) -> list[Mapping[str, Any]]:
    return [v for v in value if isinstance(v, Mapping)] if isinstance(value, list) else []


def _uv_files(packages: Any) -> Iterable[tuple[Any, Any]]:
    for package in _tables(packages):
        sdist = package.get("sdist")
        for file in [*_tables(package.get("wheels")), *([sdist] if isinstance(sdist, Mapping) else [])]:
            where = file.get("url") or file.get("path") or file.get("filename")
            yield where, file.get("hash")


def _pylock_files(packages: Any) -> Iterable[tuple[Any, Any]]:
    for package in _tables(packages):
        sdist = package.get("sdist")
        for file in [*_tables(package.get("wheels")), *([sdist] if isinstance(sdist, Mapping) else [])]:
            hashes = file.get("hashes")
            sha256 = hashes.get("sha256") if isinstance(hashes, Mapping) else None
            where = file.get("name") or file.get("url") or file.get("path")
            yield where, f"sha256:{sha256}" if isinstance(sha256, str) else None


def _names(files: Iterable[tuple[Any, Any]]) -> dict[str, str]:
    """sha256 -> the file's name (the last part of its URL or path)."""
    out: dict[str, str] = {}
    for where, digest in files:
        if isinstance(where, str) and isinstance(digest, str) and digest.startswith("sha256:"):
            out[digest.removeprefix("sha256:").lower()] = Path(unquote(where.split("#")[0])).name
    return out
