"""Finding the layer projects of a workspace and detecting the tool that manages each."""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from packaging.requirements import InvalidRequirement, Requirement
from packaging.specifiers import InvalidSpecifier, SpecifierSet

from .config import (
    LAYER_KEYS,
    WORKSPACE_KEYS,
    LayerOnly,
    LayerSettings,
    WorkspaceConfig,
    check_keys,
    read_toml,
    tool_table,
    validate,
)
from .errors import ConfigError

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
    if not any(ch in pattern for ch in "*?["):
        path = root / pattern
        if path.is_dir() or not path.name.endswith(".toml"):
            path = path / "pyproject.toml"
        if not path.is_file():
            raise ConfigError(f"{path}: no such file (listed in 'layers'); create it or fix the pattern")
        return [path]
    matches = []
    for path in sorted(root.glob(pattern)):
        if path.is_dir():
            path = path / "pyproject.toml"
        if path.is_file() and path.name == "pyproject.toml":
            matches.append(path)
    return matches


def load_layer(pyproject: Path) -> Layer:
    data = read_toml(pyproject)
    table = tool_table(data, pyproject)
    where = f"{pyproject} [tool.layerctl]"
    for key in table:
        if key in WORKSPACE_KEYS and key not in LAYER_KEYS:
            raise ConfigError(f"{where}: '{key}' is a workspace setting; set it in the workspace root")
    check_keys(table, LAYER_KEYS, where)
    settings = validate(LayerSettings, table, where)
    name = validate(LayerOnly, table, where).get("name") or pyproject.parent.name

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


def _detect_tool(pyproject: Path, choice: str) -> Tool:
    root = pyproject.parent
    if choice == "auto":
        for tool, lock in LOCK_FILES.items():
            if (root / lock).is_file():
                return tool
        return Tool.PIP
    tool = Tool(choice)
    needed = LOCK_FILES.get(tool)
    if needed and not (root / needed).is_file():
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
