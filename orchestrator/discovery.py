"""Finding the layer projects of a workspace and detecting the tool that manages each."""

from __future__ import annotations

import enum
import os
import re
import stat
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from fnmatch import fnmatchcase
from pathlib import Path, PurePosixPath
from typing import Any

from packaging.requirements import InvalidRequirement, Requirement
from packaging.specifiers import InvalidSpecifier, SpecifierSet

from .config import LAYER_KEYS, WORKSPACE_KEYS, WorkspaceConfig, check_keys, read_toml, tool_table, validate
from .errors import ConfigError
from .settings import NAME_PATTERN, LayerOnly, LayerSettings
from .uv_workspace import find_uv_workspace

__all__ = ["Layer", "Tool", "discover_layers", "load_layer"]


class Tool(str, enum.Enum):
    PIP = "pip"
    POETRY = "poetry"
    UV = "uv"

    def __str__(self) -> str:
        return self.value


# The lock file each locking tool needs, in detection order.
LOCK_FILES = {Tool.UV: "uv.lock", Tool.POETRY: "poetry.lock"}
_LOCK_COMMAND = {Tool.UV: "uv lock", Tool.POETRY: "poetry lock"}


@dataclass(frozen=True, kw_only=True)
class Layer:
    """One layer project: a directory with a pyproject.toml."""

    name: str
    root: Path
    pyproject: Path
    tool: Tool
    requires_python: SpecifierSet
    dependencies: tuple[str, ...]  # PEP 508 strings from [project.dependencies]
    settings: dict[str, Any] = field(default_factory=dict)  # the layer's own [tool.layerctl] keys


def discover_layers(workspace: WorkspaceConfig) -> list[Layer]:
    """Every layer project the workspace's ``layers`` globs match, sorted by name."""
    root = workspace.root
    where = str(workspace.source) if workspace.source else str(root)
    found: dict[Path, None] = {}
    for pattern in workspace.options.layers:
        matches = _expand(root, pattern)
        if not matches:
            raise ConfigError(f"{where}: 'layers' pattern {pattern!r} matches no pyproject.toml under {root}")
        found.update(dict.fromkeys(matches))
    layers = [load_layer(path) for path in found if path.resolve() != _resolved(workspace.source)]
    by_name: dict[str, Layer] = {}
    for layer in layers:
        if layer.name in by_name:
            raise ConfigError(
                f"{layer.pyproject}: layer name '{layer.name}' is also used by "
                f"{by_name[layer.name].pyproject}; set a unique [tool.layerctl] name"
            )
        by_name[layer.name] = layer
    return sorted(layers, key=lambda layer: layer.name)


def _resolved(path: Path | None) -> Path | None:
    return path.resolve() if path else None


def _expand(root: Path, pattern: str) -> list[Path]:
    if not _magic(pattern):
        path = root / pattern
        if _kind(path, pattern) == "dir" or not path.name.endswith(".toml"):
            path = path / "pyproject.toml"
        if _kind(path, pattern) != "file":
            raise ConfigError(f"{path}: no such file (listed in 'layers'); create it or fix the pattern")
        return [path]
    matches = []
    for path in sorted(_glob(root, PurePosixPath(pattern).parts, pattern)):
        if _kind(path, pattern) == "dir":
            path = path / "pyproject.toml"
        if path.name == "pyproject.toml" and _kind(path, pattern) == "file":
            matches.append(path)
    return matches


def _magic(text: str) -> bool:
    return any(ch in text for ch in "*?[")


def _glob(base: Path, parts: Sequence[str], pattern: str) -> Iterator[Path]:
    """``Path.glob`` semantics (``**`` never follows symlinks), except that a directory it cannot
    look into is an error naming it: pathlib skips it silently, and a layer would go missing."""
    if not parts:
        yield base
        return
    head, rest = parts[0], parts[1:]
    if head == "**":
        yield from _glob(base, rest, pattern)
        for entry in _entries(base, pattern):
            if entry.is_dir(follow_symlinks=False):
                yield from _glob(base / entry.name, parts, pattern)
    elif _magic(head):
        for entry in _entries(base, pattern):
            if fnmatchcase(entry.name, head):
                yield from _glob(base / entry.name, rest, pattern)
    else:
        yield from _glob(base / head, rest, pattern)


def _entries(directory: Path, pattern: str) -> list[os.DirEntry[str]]:
    try:
        with os.scandir(directory) as entries:
            return list(entries)
    except PermissionError as exc:
        raise _unreadable(directory, pattern, exc) from None
    except OSError:  # not a directory, gone, a symlink loop: nothing under it to match
        return []


def _kind(path: Path, pattern: str) -> str | None:
    """What is at ``path``: "dir", "file", "other" or None (nothing). A directory on the way that
    cannot be looked into is an error, not "nothing there"."""
    try:
        mode = path.stat().st_mode
    except PermissionError as exc:
        raise _unreadable(path.parent, pattern, exc) from None
    except (OSError, ValueError):
        return None
    return "dir" if stat.S_ISDIR(mode) else "file" if stat.S_ISREG(mode) else "other"


def _unreadable(directory: Path, pattern: str, exc: OSError) -> ConfigError:
    return ConfigError(
        f"{directory}: cannot look into this directory ({exc.strerror}), so layers there would be "
        f"missed ('layers' pattern {pattern!r}); fix its permissions or narrow the pattern"
    )


def load_layer(pyproject: Path) -> Layer:
    data = read_toml(pyproject)
    table = tool_table(data, pyproject)
    where = f"{pyproject} [tool.layerctl]"
    for key in table:
        if key in WORKSPACE_KEYS and key not in LAYER_KEYS:
            raise ConfigError(f"{where}: '{key}' is a workspace setting; set it in the workspace root")
    check_keys(table, LAYER_KEYS, where)
    settings = validate(LayerSettings, table, where)
    name = validate(LayerOnly, table, where).get("name") or _directory_name(pyproject)

    project = data.get("project")
    if not isinstance(project, dict):
        raise ConfigError(f"{pyproject}: no [project] table; a layer project declares its dependencies there")
    return Layer(
        name=name,
        root=pyproject.parent,
        pyproject=pyproject,
        tool=_detect_tool(pyproject, settings.get("tool", "auto")),
        requires_python=_requires_python(pyproject, project),
        dependencies=_dependencies(pyproject, project),
        settings=settings,
    )


def _directory_name(pyproject: Path) -> str:
    name = pyproject.parent.name
    if not re.fullmatch(NAME_PATTERN, name):
        raise ConfigError(
            f"{pyproject}: the directory name {name!r} cannot be a layer name (target ids are "
            "name:pyX.Y-arch, and a name is letters, digits, '.', '_' and '-', starting with a "
            'letter or digit); set [tool.layerctl] name = "..." in this file'
        )
    return name


def _detect_tool(pyproject: Path, choice: str) -> Tool:
    root = pyproject.parent
    if choice == "auto":
        for tool, lock in LOCK_FILES.items():
            if (root / lock).is_file():
                return tool
        return Tool.UV if find_uv_workspace(root) else Tool.PIP  # a member: the lock is the workspace's
    tool = Tool(choice)
    needed = LOCK_FILES.get(tool)
    if needed and not (root / needed).is_file() and not (tool is Tool.UV and find_uv_workspace(root)):
        raise ConfigError(
            f'{pyproject}: tool = "{tool}" but there is no {needed} next to it; '
            f"run `{_LOCK_COMMAND[tool]}` in {root} and commit the lock"
        )
    return tool


def _requires_python(pyproject: Path, project: dict[str, Any]) -> SpecifierSet:
    raw = project.get("requires-python", "")
    try:
        return SpecifierSet(str(raw))
    except InvalidSpecifier:
        raise ConfigError(
            f"{pyproject}: [project] requires-python {raw!r} is not a valid specifier"
        ) from None


def _dependencies(pyproject: Path, project: dict[str, Any]) -> tuple[str, ...]:
    deps = project.get("dependencies", [])
    if not isinstance(deps, list) or not all(isinstance(d, str) for d in deps):
        raise ConfigError(f"{pyproject}: [project] dependencies must be a list of requirement strings")
    for dep in deps:
        try:
            Requirement(dep)
        except InvalidRequirement as exc:
            raise ConfigError(f"{pyproject}: [project] dependency {dep!r} is invalid: {exc}") from None
    return tuple(deps)
