"""The package indexes a layer's own tool is configured with, read from its ``pyproject.toml``:
uv's ``[[tool.uv.index]]`` and Poetry's ``[[tool.poetry.source]]``.

``uv export`` and ``poetry.lock`` give the requirement set (pinned, with hashes) but no index
lines, so native and container installs are pointed at the same indexes the tool resolved
against: the default index (uv's ``default = true``; Poetry's first ``primary`` source, which
replaces the default as in Poetry) and the other indexes, in the tool's order of priority.
Explicit indexes (uv's ``explicit = true``, Poetry's ``explicit`` priority), which only the
packages pinned to them use, are passed as further indexes: the installers have no per-package
index, and the hashes of the lock make sure each file is the one that was locked.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from ..core.errors import ConfigError
from ..core.secrets import Index

__all__ = ["read_indexes"]


def read_indexes(data: dict[str, Any], pyproject: Path, tool: str) -> tuple[Index, ...]:
    """The indexes of ``tool`` ("uv" or "poetry"; "pip": whichever of the two is configured)."""
    tools = _table(data.get("tool"))
    uv, poetry = _table(tools.get("uv")), _table(tools.get("poetry"))
    if tool == "uv" or (tool == "pip" and uv.get("index")):
        return _uv_indexes(uv.get("index"), pyproject)
    if tool in ("poetry", "pip"):
        return _poetry_sources(poetry.get("source"), pyproject)
    return ()


def _table(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _entries(value: Any, where: str) -> list[dict[str, Any]]:
    if value is None:
        return []
    if not isinstance(value, list) or not all(isinstance(v, dict) for v in value):
        raise ConfigError(f"{where} must be an array of tables")
    return value


def _url(entry: dict[str, Any], where: str) -> str:
    url = entry.get("url")
    if (
        not isinstance(url, str)
        or urlsplit(url).scheme not in ("http", "https")
        or not urlsplit(url).hostname
    ):
        raise ConfigError(f"{where}: url must be the http(s) URL of a simple index (got {url!r})")
    return url


def _name(entry: dict[str, Any], where: str) -> str:
    name = entry.get("name")
    if not isinstance(name, str) or not name:
        raise ConfigError(f"{where}: every index needs a name (its credentials are found by it)")
    return name


def _uv_indexes(value: Any, pyproject: Path) -> tuple[Index, ...]:
    """uv: ``default = true`` replaces the default index; the others come first, in order."""
    found = []
    for entry in _entries(value, f"{pyproject}: [[tool.uv.index]]"):
        name = entry.get("name")
        where = (
            f"{pyproject}: [[tool.uv.index]] {name!r}"
            if isinstance(name, str)
            else f"{pyproject}: [[tool.uv.index]]"
        )
        if entry.get("format", "simple") != "simple":
            raise ConfigError(
                f"{where}: format {entry['format']!r} is not supported; layerctl uses simple indexes"
            )
        found.append(
            Index(
                name=name if isinstance(name, str) else "",
                url=_url(entry, where),
                default=entry.get("default") is True,
                explicit=entry.get("explicit") is True,
            )
        )
    return tuple(found)


# Poetry's priorities: "default" and "secondary" are Poetry 1's names for primary and supplemental.
_POETRY_PRIORITY = {"primary": 0, "default": 0, "supplemental": 1, "secondary": 1, "explicit": 2}


def _poetry_sources(value: Any, pyproject: Path) -> tuple[Index, ...]:
    """Poetry: primary sources (the default priority) replace the default index, the first of
    them becomes it; supplemental sources follow; a source named PyPI keeps the default."""
    sources = []
    for entry in _entries(value, f"{pyproject}: [[tool.poetry.source]]"):
        name = _name(entry, f"{pyproject}: [[tool.poetry.source]]")
        where = f"{pyproject}: [[tool.poetry.source]] {name!r}"
        priority = entry.get("priority", "primary")
        if not isinstance(priority, str) or priority not in _POETRY_PRIORITY:
            raise ConfigError(f"{where}: priority {priority!r} is not one of {', '.join(_POETRY_PRIORITY)}")
        url = None if name.lower() == "pypi" and "url" not in entry else _url(entry, where)
        sources.append((_POETRY_PRIORITY[priority], name, url))
    sources.sort(key=lambda s: s[0])  # stable: the file's order within a priority
    keeps_pypi = any(url is None for _p, _n, url in sources)
    primaries = [s for s in sources if s[0] == 0 and s[2] is not None]
    first = None if keeps_pypi or not primaries else primaries[0][1]
    return tuple(
        Index(name=name, url=url, default=name == first, explicit=priority == 2)
        for priority, name, url in sources
        if url is not None
    )
