"""Poetry 2 projects: the requirement set read straight from ``poetry.lock``.

Lock format 2.1 (Poetry 2) records each package's groups and the markers under which it is
needed, so the set for one target is: packages of the ``main`` group whose marker holds in the
target's environment, pinned with their hashes. No Poetry, no export plugin and no network.

The lock is checked before anything is read from it, as Poetry would: its structure against a
pydantic model (a malformed lock fails the layer's targets with one line, never a traceback), and
its ``content-hash`` against ``pyproject.toml`` (a stale lock is refused, like ``poetry check
--lock`` does, instead of shipping the versions it pinned before the last edit).
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from packaging.markers import InvalidMarker, Marker
from packaging.version import InvalidVersion, Version
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator
from pydantic_core import ErrorDetails

from ..core.errors import LayerctlError, ResolveError
from ..plan.targets import Target
from ..workspace.config import read_toml
from .choices import check_choices
from .reqset import target_environment

__all__ = [
    "PoetryLock",
    "check_fresh",
    "poetry_content_hash",
    "poetry_requirements",
    "read_poetry_lock",
    "target_environment",
]

_MIN_LOCK_VERSION = Version("2.1")
_MAX_LOCK_VERSION = Version("3")  # Poetry 2 reads lock versions >=1,<3; newer ones are a newer Poetry's
# Poetry before 2.3 left [dependency-groups] out of the content hash; Poetry accepts such a hash
# from a lock whose header names one of those versions.
_GROUPS_HASHED_SINCE = Version("2.3.0")
_GENERATOR = re.compile(r"Poetry ([^ ]+)")

# What Poetry hashes (poetry.packages.locker.Locker._get_content_hash): these [project] keys, these
# [tool.poetry] keys, and [dependency-groups].
_PROJECT_KEYS = ("requires-python", "dependencies", "optional-dependencies")
_POETRY_LEGACY_KEYS = ("dependencies", "source", "extras", "dev-dependencies")
_POETRY_KEYS = (*_POETRY_LEGACY_KEYS, "group")


class _Table(BaseModel):
    # extra keys (description, optional, python-versions, dependencies, extras...) are Poetry's own
    model_config = ConfigDict(frozen=True, extra="ignore")


class LockedFile(_Table):
    file: str = ""
    hash: str = Field(pattern=r"^sha256:[0-9a-f]{64}$")  # what Poetry records; a hash pip can check


class LockedSource(_Table):
    type: str
    url: str = ""
    reference: str | None = None
    resolved_reference: str | None = None
    subdirectory: str | None = None


class LockedPackage(_Table):
    name: str = Field(pattern=r"^[A-Za-z0-9]([A-Za-z0-9._-]*[A-Za-z0-9])?$")  # PEP 508
    version: str
    groups: tuple[str, ...]
    markers: str | dict[str, str] | None = None
    files: tuple[LockedFile, ...] = ()
    source: LockedSource | None = None

    @field_validator("version")
    @classmethod
    def _pep440(cls, value: str) -> str:
        try:
            Version(value)
        except InvalidVersion:
            raise ValueError(f"{value!r} is not a version") from None
        return value


class LockMetadata(_Table):
    lock_version: str = Field(alias="lock-version")
    content_hash: str | None = Field(default=None, alias="content-hash")


class PoetryLock(_Table):
    """The parts of a ``poetry.lock`` (format 2.1) layerctl reads."""

    package: tuple[LockedPackage, ...] = ()
    metadata: LockMetadata
    generator: str | None = None  # the Poetry version named in the lock's first line


def poetry_content_hash(pyproject: Mapping[str, Any], *, with_dependency_groups: bool = True) -> str:
    """The ``content-hash`` Poetry 2 records for this ``pyproject.toml`` (its parsed TOML)."""
    project = _table(pyproject.get("project"))
    groups = _table(pyproject.get("dependency-groups")) if with_dependency_groups else {}
    tool_poetry = _table(_table(pyproject.get("tool")).get("poetry"))

    relevant_project = {key: project[key] for key in _PROJECT_KEYS if project.get(key) is not None}
    relevant_poetry: dict[str, Any] = {}
    for key in _POETRY_KEYS:
        value = tool_poetry.get(key)
        # Poetry hashes a missing legacy key as null, unless [project] or [dependency-groups]
        # has relevant content: so the hashes of projects from before [project] stay as they were
        if value is None and (key not in _POETRY_LEGACY_KEYS or relevant_project or groups):
            continue
        relevant_poetry[key] = value

    relevant: dict[str, Any] = {}
    if relevant_project:
        relevant["project"] = relevant_project
    if groups:
        relevant["dependency-groups"] = groups
    if relevant:
        relevant["tool"] = {"poetry": relevant_poetry}
    else:
        relevant = relevant_poetry  # Poetry puts [tool.poetry]'s keys at the top level then
    # default=str: Poetry cannot hash a TOML date at all; such a project has no lock to match
    return hashlib.sha256(json.dumps(relevant, sort_keys=True, default=str).encode()).hexdigest()


def read_poetry_lock(lock_path: Path) -> PoetryLock:
    """The lock, checked: every problem is a one-line ResolveError naming the file and the fix."""
    relock = f"run `poetry lock` in {lock_path.parent}"
    try:
        data = read_toml(lock_path)
        first_line = lock_path.read_text("utf-8").partition("\n")[0]
    except LayerctlError as exc:  # unreadable or not TOML: this layer's problem, not the run's
        raise ResolveError(f"{exc.message}; {relock}") from None
    except (OSError, UnicodeError) as exc:
        raise ResolveError(f"{lock_path}: cannot read it ({exc}); {relock}") from None

    metadata = data.get("metadata")
    if not isinstance(metadata, dict) or "lock-version" not in metadata:
        raise ResolveError(f"{lock_path}: no [metadata] lock-version: not a lock Poetry wrote; {relock}")
    raw_version = metadata["lock-version"]
    try:
        version = Version(raw_version) if isinstance(raw_version, str) else None
    except InvalidVersion:
        version = None
    if version is None:
        raise ResolveError(f"{lock_path}: lock-version {raw_version!r} is not a version; {relock}")
    if version < _MIN_LOCK_VERSION:
        raise ResolveError(
            f"{lock_path}: lock-version {raw_version} was written by Poetry 1; "
            f"re-lock with Poetry 2 (`poetry lock` in {lock_path.parent})"
        )
    if version >= _MAX_LOCK_VERSION:
        raise ResolveError(
            f"{lock_path}: lock-version {raw_version} is newer than Poetry 2's format (2.1), "
            f"which layerctl reads; re-lock with Poetry 2 (`poetry lock` in {lock_path.parent})"
        )

    match = _GENERATOR.search(first_line)
    try:
        return PoetryLock.model_validate({**data, "generator": match.group(1) if match else None})
    except ValidationError as exc:
        problem = _describe(exc.errors()[0], data)
        raise ResolveError(f"{lock_path}: {problem}; {relock}") from None


def check_fresh(lock: PoetryLock, lock_path: Path, pyproject_path: Path) -> None:
    """Refuse a lock whose content-hash is not that of ``pyproject.toml`` (``poetry check --lock``)."""
    pyproject = read_toml(pyproject_path)
    recorded = lock.metadata.content_hash
    fresh = recorded == poetry_content_hash(pyproject)
    if not fresh and _older_than(lock.generator, _GROUPS_HASHED_SINCE):
        fresh = recorded == poetry_content_hash(pyproject, with_dependency_groups=False)
    if not fresh:
        raise ResolveError(
            f"{lock_path}: out of date with {pyproject_path.name} (its content-hash does not match); "
            f"run `poetry lock` in {lock_path.parent}"
        )


def poetry_requirements(target: Target) -> str:
    """Packages of the ``main`` group and of the layer's ``groups`` whose markers hold for the
    target, with ``extra`` set to each of the layer's ``extras`` in turn (an optional package's
    marker names its extra)."""
    check_choices(target)
    lock_path = target.layer.root / "poetry.lock"
    lock = read_poetry_lock(lock_path)
    check_fresh(lock, lock_path, target.layer.pyproject)
    env = target_environment(target)
    envs = [env, *({**env, "extra": extra} for extra in target.settings.extras)]
    groups = ("main", *target.settings.groups)
    lines = [f"# generated by layerctl from {lock_path.name} for {target.id}\n"]
    for package in lock.package:
        markers = [_marker_for(package, group, lock_path) for group in groups if group in package.groups]
        if not any(marker is None or any(marker.evaluate(e) for e in envs) for marker in markers):
            continue
        lines.append(_requirement_line(package, target))
    # no index lines: the installers get the project's sources (with their credentials) from
    # indexes.py, a primary source as the default index, as Poetry uses them
    return "".join(lines[:1] + sorted(lines[1:]))


def _older_than(version: str | None, than: Version) -> bool:
    try:
        return version is not None and Version(version) < than
    except InvalidVersion:
        return False


def _table(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _describe(error: ErrorDetails, data: Mapping[str, Any]) -> str:
    """One pydantic error as a reader of the lock would put it: which table, which key, what."""
    loc = list(error["loc"])
    where = ""
    if len(loc) >= 2 and loc[0] == "package" and isinstance(loc[1], int):
        packages = data.get("package")
        entry = packages[loc[1]] if isinstance(packages, list) and loc[1] < len(packages) else None
        name = entry.get("name") if isinstance(entry, dict) else None
        where = f"[[package]] {name!r}" if isinstance(name, str) else f"[[package]] number {loc[1] + 1}"
        loc = loc[2:]
    key = "".join(f"[{part}]" if isinstance(part, int) else f".{part}" for part in loc).lstrip(".")
    if error["type"] == "missing":
        what = f"has no {key!r}"
    elif key:
        what = f"{key}: {error['msg'][0].lower()}{error['msg'][1:]}"
    else:
        what = f"is not a table ({error['msg']})"
    return f"{where} {what}" if where else what


def _marker_for(package: LockedPackage, group: str, lock_path: Path) -> Marker | None:
    raw = package.markers.get(group) if isinstance(package.markers, dict) else package.markers
    if not raw:
        return None
    try:
        return Marker(raw)
    except InvalidMarker as exc:
        raise ResolveError(
            f"{lock_path}: [[package]] {package.name!r}: bad marker {raw!r}: {str(exc).splitlines()[0]}; "
            f"run `poetry lock` in {lock_path.parent}"
        ) from None


def _requirement_line(package: LockedPackage, target: Target) -> str:
    name, version, source = package.name, package.version, package.source
    kind = source.type if source else None
    if source and kind in ("directory", "file"):
        path = (target.layer.root / source.url).resolve()
        return f"{name} @ {path.as_uri()}\n"
    if source and kind == "git":
        ref = source.resolved_reference or source.reference or ""
        sub = f"#subdirectory={source.subdirectory}" if source.subdirectory else ""
        return f"{name} @ git+{source.url}@{ref}{sub}\n"
    if source and kind == "url":
        return f"{name} @ {source.url}\n"
    if not package.files:  # without hashes the installer would take any file of that version
        raise ResolveError(
            f"{target.layer.root / 'poetry.lock'}: [[package]] {name!r} lists no files (hashes); "
            f"run `poetry lock` in {target.layer.root}"
        )
    hashes = "".join(f" \\\n    --hash={f.hash}" for f in sorted(package.files, key=lambda f: f.hash))
    return f"{name}=={version}{hashes}\n"
