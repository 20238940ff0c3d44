"""Finding the layer projects of a workspace and detecting the tool that manages each.

A layer whose project cannot be read (bad TOML, an unknown key, a bad value, no dependencies
table) is still a layer: it carries its one-line ``problem``, its targets fail with it and the
other layers build. Only what concerns the whole workspace (a ``layers`` pattern that matches
nothing, two layers of one name) stops every command.
"""

from __future__ import annotations

import enum
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from packaging.requirements import InvalidRequirement, Requirement
from packaging.specifiers import InvalidSpecifier, SpecifierSet

from ..core.errors import ConfigError
from ..core.secrets import Index
from ..core.settings import NAME_PATTERN, LayerOnly, LayerSettings
from .config import (
    LAYER_KEYS,
    WORKSPACE_KEYS,
    WorkspaceConfig,
    check_keys,
    read_toml,
    tool_table,
    validate,
)
from .globs import expand
from .indexes import read_indexes
from .poetry_deps import poetry_dependencies, poetry_requires_python
from .single import check_layer_only_keys, literal, project_name, root_project
from .tables import publish_table
from .uv_workspace import find_uv_workspace, remembered

__all__ = ["Layer", "Tool", "discover_layers", "load_layer"]


class Tool(str, enum.Enum):
    PIP = "pip"
    POETRY = "poetry"
    PYLOCK = "pylock"
    UV = "uv"

    def __str__(self) -> str:
        return self.value


# The lock file each locking tool needs, in detection order.
LOCK_FILES = {Tool.UV: "uv.lock", Tool.POETRY: "poetry.lock", Tool.PYLOCK: "pylock.toml"}
_LOCK_COMMAND = {
    Tool.UV: "`uv lock`",
    Tool.POETRY: "`poetry lock`",
    Tool.PYLOCK: "`pip lock` (or `uv export --format pylock.toml`)",
}


@dataclass(frozen=True, kw_only=True)
class Layer:
    """One layer project: a directory with a pyproject.toml."""

    name: str
    root: Path
    pyproject: Path
    tool: Tool
    requires_python: SpecifierSet
    dependencies: tuple[str, ...]  # PEP 508 strings ([project] or [tool.poetry] dependencies)
    settings: dict[str, Any] = field(default_factory=dict)  # the layer's own [tool.layerctl] keys
    problem: str | None = None  # why the project cannot be used (its targets fail with this line)
    indexes: tuple[Index, ...] = ()  # the package indexes its tool is configured with
    publish: dict[str, Any] = field(default_factory=dict)  # its own [tool.layerctl.publish] keys


def discover_layers(
    workspace: WorkspaceConfig, *, layers_globs: Sequence[str] | None = None, tool: str | None = None
) -> list[Layer]:
    """Every layer project the ``layers`` globs (the workspace's, or as the environment or the
    command line set them) match, sorted by name; a layer that cannot be read is one with a
    ``problem``. ``tool``: the environment's or command line's, over each layer's own."""
    root = workspace.root
    default_tool = str(workspace.layer_defaults.get("tool", "auto"))
    where = str(workspace.source) if workspace.source else str(root)
    found: dict[Path, None] = {}
    single = root_project(workspace, layers_globs)  # the root's project, if it can be the layer
    own: set[Path] = set()  # the root's project, when it is a layer (single.py)
    for pattern in workspace.options.layers if layers_globs is None else layers_globs:
        matches = expand(root, pattern)
        if not matches and not single:
            raise ConfigError(f"{where}: 'layers' pattern {pattern!r} matches no pyproject.toml under {root}")
        if literal(pattern):  # "." or "pyproject.toml": the root's project named as a layer
            own.update(p.resolve() for p in matches if p.resolve() == (root / "pyproject.toml").resolve())
        found.update(dict.fromkeys(matches))
    if single and not found:  # a single project: no layers setting, none found, it is the layer
        found[single] = None
        own.add(single.resolve())
    real = {path: path.resolve() for path in found}  # each path resolved once
    _one_layer_per_project(real)
    source = _resolved(workspace.source)
    with remembered():  # the directories above the layers read once, not once per layer
        layers = [
            _load_or_broken(path, default_tool, tool, shared=real[path] in own)
            for path in found
            if real[path] != source or real[path] in own
        ]
    if not own:
        check_layer_only_keys(workspace)
    by_name: dict[str, Layer] = {}
    for layer in layers:
        if layer.name in by_name:
            raise ConfigError(
                f"{layer.pyproject}: layer name '{layer.name}' is also used by "
                f"{by_name[layer.name].pyproject}; set a unique [tool.layerctl] name"
            )
        by_name[layer.name] = layer
    return sorted(layers, key=lambda layer: layer.name)


def _one_layer_per_project(found: Mapping[Path, Path]) -> None:
    """A project found under two paths (a link to a layer's directory) would be two layers
    building into one output directory (``found``: each path and where it resolves): refused,
    naming both."""
    seen: dict[Path, Path] = {}
    for path in sorted(found, key=lambda p: (found[p] != p, str(p))):  # the path without a link first
        real = found[path]
        if real in seen:
            raise ConfigError(
                f"{seen[real]}: found twice by 'layers', also as {path}; one project is one layer: "
                "remove the link or narrow the pattern"
            )
        seen[real] = path


def _resolved(path: Path | None) -> Path | None:
    return path.resolve() if path else None


def _load_or_broken(pyproject: Path, default_tool: str, tool: str | None, *, shared: bool) -> Layer:
    try:
        return load_layer(pyproject, default_tool=default_tool, tool=tool, shared=shared)
    except ConfigError as exc:
        return Layer(
            name=_best_name(pyproject, own=shared),
            root=pyproject.parent,
            pyproject=pyproject,
            tool=Tool.PIP,
            requires_python=SpecifierSet(),
            dependencies=(),
            problem=exc.message,
        )


def _best_name(pyproject: Path, *, own: bool = False) -> str:
    """A broken layer's name in target ids: its own ``name`` if that much can be read (for the
    root's project, also its project name), else its directory's name (made fit for an id)."""
    try:
        data = read_toml(pyproject)
        name = tool_table(data, pyproject).get("name") or (project_name(data) if own else None)
    except ConfigError:
        name = None
    if isinstance(name, str) and re.fullmatch(NAME_PATTERN, name):
        return name
    return re.sub(r"[^A-Za-z0-9._-]", "-", pyproject.parent.name).lstrip("._-") or "layer"


def load_layer(
    pyproject: Path, *, default_tool: str = "auto", tool: str | None = None, shared: bool = False
) -> Layer:
    """``shared``: the workspace root's project as a layer (single.py), whose table also holds
    the workspace's settings (checked when the workspace was loaded); its name may also come
    from the project's own."""
    data = read_toml(pyproject)
    table = tool_table(data, pyproject)
    where = f"{pyproject} [tool.layerctl]"
    if shared:
        table = {key: value for key, value in table.items() if key in LAYER_KEYS}
    for key in table:
        if key in WORKSPACE_KEYS and key not in LAYER_KEYS:
            raise ConfigError(f"{where}: '{key}' is a workspace setting; set it in the workspace root")
    check_keys(table, LAYER_KEYS, where)
    settings = validate(LayerSettings, table, where)
    name = validate(LayerOnly, table, where).get("name")
    name = name or (project_name(data) if shared else None) or _directory_name(pyproject)

    requires_python, dependencies = _project(pyproject, data)
    tool_ = _detect_tool(pyproject, tool or settings.get("tool") or default_tool)
    return Layer(
        name=name,
        root=pyproject.parent,
        pyproject=pyproject,
        tool=tool_,
        requires_python=requires_python,
        dependencies=dependencies,
        settings=settings,
        indexes=read_indexes(data, pyproject, tool_.value),
        publish=publish_table(table, where),
    )


def _project(pyproject: Path, data: dict[str, Any]) -> tuple[SpecifierSet, tuple[str, ...]]:
    """requires-python and the dependencies: from [project] (PEP 621), or from [tool.poetry]
    for a Poetry-style project; [project] wins where both say something, as in Poetry 2."""
    project = data.get("project")
    tool = data.get("tool")
    poetry = tool.get("poetry") if isinstance(tool, dict) else None
    if not isinstance(poetry, dict) or not isinstance(poetry.get("dependencies"), dict):
        poetry = None
    if not isinstance(project, dict) and poetry is None:
        raise ConfigError(
            f"{pyproject}: no [project] table and no [tool.poetry.dependencies]; a layer project "
            "declares its dependencies in one of them"
        )
    project = project if isinstance(project, dict) else {}
    if "requires-python" not in project and poetry is not None:
        project = {**project, "requires-python": poetry_requires_python(poetry, pyproject)}
    if "dependencies" not in project and poetry is not None:
        return _requires_python(pyproject, project), poetry_dependencies(poetry, pyproject)
    return _requires_python(pyproject, project), _dependencies(pyproject, project)


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
            f"run {_LOCK_COMMAND[tool]} in {root} and commit the lock"
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
