"""The layer's choices of optional dependencies (``extras``) and dependency groups (``groups``),
checked against its ``pyproject.toml`` before any tool runs: a name the project does not define
is one line naming the file and the setting, whichever tool manages the layer."""

from __future__ import annotations

from typing import Any

from packaging.utils import canonicalize_name

from ..core.errors import ConfigError
from ..plan.targets import Target
from ..workspace.config import read_toml

__all__ = ["check_choices", "dependency_groups", "optional_dependencies"]


def optional_dependencies(pyproject: dict[str, Any]) -> dict[str, list[str]]:
    project = pyproject.get("project")
    table = project.get("optional-dependencies") if isinstance(project, dict) else None
    return table if isinstance(table, dict) else {}


def dependency_groups(pyproject: dict[str, Any], *, poetry: bool) -> dict[str, Any]:
    """PEP 735 ``[dependency-groups]``, and for Poetry also ``[tool.poetry.group.<name>]``."""
    groups = pyproject.get("dependency-groups")
    found: dict[str, Any] = dict(groups) if isinstance(groups, dict) else {}
    if poetry:
        tool = pyproject.get("tool")
        poetry_table = tool.get("poetry") if isinstance(tool, dict) else None
        more = poetry_table.get("group") if isinstance(poetry_table, dict) else None
        if isinstance(more, dict):
            found.update({name: value for name, value in more.items() if name not in found})
    return found


def check_choices(target: Target) -> dict[str, Any]:
    """The layer's parsed ``pyproject.toml``, once its ``extras`` and ``groups`` are known there."""
    path = target.layer.pyproject
    data = read_toml(path)
    settings = target.settings
    _check(path, "extras", settings.extras, optional_dependencies(data), "[project.optional-dependencies]")
    poetry = target.layer.tool.value == "poetry"
    where = "[dependency-groups] or [tool.poetry.group]" if poetry else "[dependency-groups]"
    _check(path, "groups", settings.groups, dependency_groups(data, poetry=poetry), where)
    return data


def _check(path: object, key: str, chosen: tuple[str, ...], defined: dict[str, Any], where: str) -> None:
    known = {canonicalize_name(name): name for name in defined}
    for name in chosen:
        if canonicalize_name(name) not in known:
            has = ", ".join(sorted(defined)) or "nothing"
            raise ConfigError(f"{path}: {key} names {name!r}, which {where} does not define (it has: {has})")
