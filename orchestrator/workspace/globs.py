"""The ``layers`` globs of a workspace: ``Path.glob`` semantics, except that a directory that
cannot be looked into is an error naming it (pathlib skips it silently, and a layer would go
missing), and that nothing in a directory layerctl made (marked ``.layerctl-dir``: an output
directory, the report or cache directory) is ever a layer: an installed package there may ship
its own ``pyproject.toml``. Those trees are pruned while globbing, never looked into."""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator, Sequence
from fnmatch import fnmatchcase
from pathlib import Path, PurePosixPath

from ..core.errors import ConfigError
from ..core.outputs import MARKER

__all__ = ["expand"]


def expand(root: Path, pattern: str) -> list[Path]:
    if not _magic(pattern):
        path = root / pattern
        if _kind(path, pattern) == "dir" or not path.name.endswith(".toml"):
            path = path / "pyproject.toml"
        if _kind(path, pattern) != "file":
            raise ConfigError(f"{path}: no such file (listed in 'layers'); create it or fix the pattern")
        if (made := _made_by_layerctl(root, path)) is not None:
            raise ConfigError(
                f"{path}: listed in 'layers' but inside {made}, which layerctl made (it holds {MARKER}); "
                "a layer is a project of yours: fix the pattern"
            )
        return [path]
    matches = []
    for path in sorted(_glob(root, PurePosixPath(pattern).parts, pattern)):
        if _kind(path, pattern) == "dir":
            path = path / "pyproject.toml"
        if path.name == "pyproject.toml" and _kind(path, pattern) == "file":
            matches.append(path)
    # pruned while globbing; a pattern's literal parts may still lead into one
    return [path for path in matches if _made_by_layerctl(root, path) is None]


def _made_by_layerctl(root: Path, path: Path) -> Path | None:
    """The directory layerctl made that ``path`` is in, below ``root``, if any."""
    for directory in path.parents:
        if directory == root or root not in directory.parents:
            return None
        if _marked(directory):
            return directory
    return None


def _marked(directory: Path) -> bool:
    try:
        return stat.S_ISREG((directory / MARKER).lstat().st_mode)
    except OSError:
        return False


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
        entries = _entries(base, pattern)
        if _holds_marker(entries):
            return
        yield from _glob(base, rest, pattern)
        for entry in entries:
            if entry.is_dir(follow_symlinks=False):
                yield from _glob(base / entry.name, parts, pattern)
    elif _magic(head):
        entries = _entries(base, pattern)
        if _holds_marker(entries):
            return
        for entry in entries:
            if fnmatchcase(entry.name, head):
                yield from _glob(base / entry.name, rest, pattern)
    else:
        yield from _glob(base / head, rest, pattern)


def _holds_marker(entries: list[os.DirEntry[str]]) -> bool:
    """Whether the directory of ``entries`` is layerctl's (its marker, a file, not a link)."""
    return any(entry.name == MARKER and entry.is_file(follow_symlinks=False) for entry in entries)


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
