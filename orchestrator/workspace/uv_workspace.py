"""uv workspaces: the workspace a layer project is a member of, found as uv finds it.

A member has no ``uv.lock`` of its own: the lock lives at the workspace root, the nearest
directory above the member whose ``pyproject.toml`` has a ``[tool.uv.workspace]`` table whose
``members`` globs match the member (and whose ``exclude`` globs do not). Pure: reads TOML only,
so discovery can ask it without importing the resolvers.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..core.errors import ConfigError
from .config import read_toml

__all__ = ["UvWorkspace", "find_uv_workspace", "remembered"]

LOCK = "uv.lock"

# Within ``remembered()``: what was read of a directory above the layers (its workspace table,
# its members), once for all the layers below it, not once per layer.
_SEEN: ContextVar[dict[tuple[str, Path], Any] | None] = ContextVar("uv_workspace_seen", default=None)


@contextmanager
def remembered() -> Iterator[None]:
    """Within: each directory's ``[tool.uv.workspace]`` table (and its members) is read once
    (discovery asks for every layer, and the layers share the directories above them)."""
    token = _SEEN.set({})
    try:
        yield
    finally:
        _SEEN.reset(token)


def _once(kind: str, path: Path, read: Callable[[], Any]) -> Any:
    seen = _SEEN.get()
    if seen is None:
        return read()
    key = (kind, path)
    if key not in seen:
        seen[key] = read()
    return seen[key]


@dataclass(frozen=True)
class UvWorkspace:
    root: Path  # the directory holding the workspace's pyproject.toml and uv.lock
    member: str  # the member's [project] name, for `uv export --package`

    @property
    def lock(self) -> Path:
        return self.root / LOCK


def find_uv_workspace(project: Path) -> UvWorkspace | None:
    """The uv workspace whose lock holds the project at ``project`` (a directory), when the
    project has no ``uv.lock`` of its own and a workspace above it lists it as a member;
    otherwise None (a pip project, or one with its own lock). A member of a workspace that has
    no lock is a ConfigError."""
    project = project.resolve()
    if (project / LOCK).is_file():
        return None
    for root in project.parents:
        pyproject = root / "pyproject.toml"
        table = _once("table", root, functools.partial(_table_at, pyproject))
        if table is None:
            continue
        # uv takes the nearest workspace root; a member it does not list is no member of any
        if not _is_member(root, project, table, pyproject):
            return None
        if not (root / LOCK).is_file():  # never built unpinned as if it were a pip project
            raise ConfigError(
                f"{project / 'pyproject.toml'}: a member of the uv workspace at {root}, which has no "
                f"{LOCK}; run `uv lock` in {root} and commit the lock"
            )
        return UvWorkspace(root=root, member=_project_name(project / "pyproject.toml"))
    return None


def _table_at(pyproject: Path) -> dict[str, Any] | None:
    return _workspace_table(pyproject) if pyproject.is_file() else None


def _workspace_table(pyproject: Path) -> dict[str, Any] | None:
    try:
        data = read_toml(pyproject)
    except ConfigError:
        return None  # not this function's business: a broken file above the layer is no workspace
    tool = data.get("tool")
    uv = tool.get("uv") if isinstance(tool, dict) else None
    workspace = uv.get("workspace") if isinstance(uv, dict) else None
    return workspace if isinstance(workspace, dict) else None


def _globs(table: dict[str, Any], key: str, pyproject: Path) -> list[str]:
    value = table.get(key, [])
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ConfigError(f"{pyproject}: [tool.uv.workspace] {key} must be a list of glob strings")
    return value


def _is_member(root: Path, project: Path, table: dict[str, Any], pyproject: Path) -> bool:
    def matches(key: str) -> bool:
        return project in _once(key, root, lambda: _matched(root, _globs(table, key, pyproject)))

    return matches("members") and not matches("exclude")


def _matched(root: Path, patterns: list[str]) -> frozenset[Path]:
    return frozenset(path.resolve() for pattern in patterns for path in root.glob(pattern))


def _project_name(pyproject: Path) -> str:
    project = read_toml(pyproject).get("project")
    name = project.get("name") if isinstance(project, dict) else None
    if not isinstance(name, str) or not name:
        raise ConfigError(f"{pyproject}: [project] name is missing; a uv workspace member needs one")
    return name
