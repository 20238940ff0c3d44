"""A single project that is its own layer: the simplest layout, one ``pyproject.toml`` (with a
``uv.lock``, a ``poetry.lock`` or neither) that *is* the layer, its outputs under
``build/lambda/layer/`` next to it.

The workspace root's project is a layer when ``layers`` names it (``"."`` or ``"pyproject.toml"``:
a pattern without glob characters), or when nothing sets ``layers``, the default pattern finds
no layer and the project declares dependencies. Its ``[tool.layerctl]`` table then holds both the
workspace's settings and the layer's own (``name``). Its name in target ids: that ``name``, else
the project's own name, else its directory's.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from ..core.errors import ConfigError
from ..core.settings import NAME_PATTERN
from .config import WorkspaceConfig, read_toml

__all__ = ["check_layer_only_keys", "declares_dependencies", "literal", "project_name", "root_project"]


def declares_dependencies(pyproject: Path) -> bool:
    """Whether ``pyproject`` declares dependencies (PEP 621's or Poetry's): a project that can be
    a layer. A file that cannot be read counts as no: loading it reports the problem."""
    if not pyproject.is_file():
        return False
    try:
        data = read_toml(pyproject)
    except ConfigError:
        return False
    project, tool = data.get("project"), data.get("tool")
    poetry = tool.get("poetry") if isinstance(tool, dict) else None
    return (isinstance(project, dict) and "dependencies" in project) or (
        isinstance(poetry, dict) and isinstance(poetry.get("dependencies"), dict)
    )


def literal(pattern: str) -> bool:
    """A ``layers`` pattern without glob characters names one project (it may be the root's)."""
    return not any(ch in pattern for ch in "*?[")


def root_project(workspace: WorkspaceConfig, layers_globs: Sequence[str] | None) -> Path | None:
    """The root's ``pyproject.toml`` when the workspace is a single project: nothing sets
    ``layers`` (the workspace, the environment or the command line) and it declares dependencies."""
    if layers_globs is not None or "layers" in workspace.options.model_fields_set:
        return None
    pyproject = workspace.root / "pyproject.toml"
    return pyproject if declares_dependencies(pyproject) else None


def project_name(data: dict[str, Any]) -> str | None:
    """The project's own name ([project] or [tool.poetry]) when it fits a target id."""
    project, tool = data.get("project"), data.get("tool")
    poetry = tool.get("poetry") if isinstance(tool, dict) else None
    for table in (project, poetry):
        name = table.get("name") if isinstance(table, dict) else None
        if isinstance(name, str) and re.fullmatch(NAME_PATTERN, name):
            return name
    return None


def check_layer_only_keys(workspace: WorkspaceConfig) -> None:
    """A root that is no layer has no layer-only settings (``name``) in its table."""
    if workspace.layer_only:
        where = f"{workspace.source} [tool.layerctl]"
        key = workspace.layer_only[0]
        raise ConfigError(
            f"{where}: '{key}' is a layer's own setting, and this workspace root is no layer (its "
            "'layers' find other projects); remove it, or list the root in 'layers' (\".\")"
        )
