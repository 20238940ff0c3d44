"""Finding the workspace root from any directory inside it, as uv and git do: upwards.

The root is the nearest directory (the start itself, then its parents) that holds workspace
settings — a ``layerctl.toml``, or a ``pyproject.toml`` with a ``[tool.layerctl]`` table — unless
an outer one lists it as a layer: a layer project may have a ``[tool.layerctl]`` table of its
own (its ``name``, its ``python`` list), and inside it the workspace is still the one above. With
no settings anywhere, the nearest ``pyproject.toml`` whose default ``layers`` glob finds layers
is the root (a workspace that takes every default); failing that, the nearest ``pyproject.toml``
that declares dependencies (a single project, its own layer: ``single.py``).
"""

from __future__ import annotations

from pathlib import Path

from ..core.errors import ConfigError
from ..core.fileio import ROOM, path_problem
from ..core.run_settings import WorkspaceOptions
from .config import WORKSPACE_FILE, read_toml, tool_table
from .globs import expand
from .single import declares_dependencies

__all__ = ["find_workspace"]

_DEFAULT_LAYERS: tuple[str, ...] = WorkspaceOptions.model_fields["layers"].default


def find_workspace(start: Path) -> Path:
    """The workspace root for a command started in ``start`` (``-C``, else the current directory)."""
    start = start.absolute()
    problem = path_problem(start, room=ROOM)
    if problem:
        raise ConfigError(f"-C {str(start)[:80]!r}...: {problem}; pass a shorter path to the workspace root")
    if not start.is_dir():
        raise ConfigError(f"{start}: no such directory; pass the workspace root with -C")
    here = (start, *start.parents)
    settings = [(d, layers) for d in here if (layers := _settings(d)) is not None]
    # a pyproject.toml above without settings is a workspace that takes every default
    defaults = [
        (d, _DEFAULT_LAYERS) for d in here if (d / "pyproject.toml").is_file() and _settings(d) is None
    ]
    for i, (candidate, _layers) in enumerate(settings):
        outers = settings[i + 1 :] + [(d, p) for d, p in defaults if d in candidate.parents]
        if not any(_lists(outer, patterns, candidate) for outer, patterns in outers):
            return candidate
    for directory in here:
        if (directory / "pyproject.toml").is_file() and _matches_any(directory, _DEFAULT_LAYERS):
            return directory
    for directory in here:  # a single project that is its own layer (single.py)
        if declares_dependencies(directory / "pyproject.toml"):
            return directory
    raise ConfigError(
        f"{start}: not inside a layerctl workspace (no {WORKSPACE_FILE}, no pyproject.toml with a "
        "[tool.layerctl] table and no project that declares dependencies, here or in any parent "
        "directory); run layerctl inside one or pass its root with -C"
    )


def _settings(directory: Path) -> tuple[str, ...] | None:
    """The ``layers`` patterns of the workspace settings in ``directory``, None if it has none.
    A file that cannot be read counts as none here: loading the workspace reports it."""
    try:
        if (directory / WORKSPACE_FILE).is_file():
            table = read_toml(directory / WORKSPACE_FILE)
        elif (directory / "pyproject.toml").is_file():
            pyproject = directory / "pyproject.toml"
            data = read_toml(pyproject)
            if "layerctl" not in (data.get("tool") or {}):
                return None
            table = tool_table(data, pyproject)
        else:
            return None
    except (ConfigError, AttributeError, TypeError):  # TypeError: `tool = 5`
        return None
    layers = table.get("layers", _DEFAULT_LAYERS)
    if isinstance(layers, str):
        layers = [layers]
    return tuple(p for p in layers if isinstance(p, str)) if isinstance(layers, list | tuple) else ()


def _lists(outer: Path, patterns: tuple[str, ...], inner: Path) -> bool:
    """Whether the workspace at ``outer`` has ``inner`` as one of its layer projects."""
    project = (inner / "pyproject.toml").resolve()
    return any(project in _found(outer, pattern) for pattern in patterns)


def _matches_any(root: Path, patterns: tuple[str, ...]) -> bool:
    return any(_found(root, pattern) for pattern in patterns)


def _found(root: Path, pattern: str) -> set[Path]:
    try:
        return {path.resolve() for path in expand(root, pattern)}
    except ConfigError:  # a pattern that names a missing file or an unreadable directory
        return set()
