"""What layerctl may write and delete: only directories it made, and in them only its own entries.

Every output directory (a layer's ``output``, the workspace's ``report-dir``, a configured
``cache-dir``) is checked before anything is written: a relative path strictly inside its base
(never the base itself, never through ``..`` or a symlink), and either new, empty, or already
carrying the marker file layerctl writes into each directory it makes. ``clean`` deletes only in
marked directories and only the names layerctl creates there, so a user's files survive any
setting.
"""

from __future__ import annotations

import os
import re
import shutil
from collections.abc import Callable, Iterable
from pathlib import Path

from .errors import ConfigError

__all__ = [
    "BUILD_ENTRIES",
    "MARKER",
    "REPORT_ENTRIES",
    "check_inside",
    "claim",
    "clean_output_dir",
    "clean_report_dir",
    "is_target_dir",
    "legacy_output",
    "legacy_report",
    "owned",
    "remove_leftovers",
]

MARKER = ".layerctl-dir"
_MARKER_TEXT = "Made by layerctl. `layerctl clean` removes what layerctl wrote here, and nothing else.\n"
# What a target's directory holds: files layerctl writes (replaced atomically) and its trees.
BUILD_FILES = ("layer.zip", "build.log", "requirements.txt", ".layerctl-stamp.json")
BUILD_TREES = ("artifacts",)
BUILD_ENTRIES = BUILD_FILES + BUILD_TREES
REPORT_ENTRIES = ("report.json", "report.html", ".layerctl.lock")
_SLUG = re.compile(r"^py\d+\.\d+-(?:x86_64|arm64)$")
# Left by a run that was killed: staging trees, temp files of atomic writes, swapped-out trees.
_LEFTOVER = re.compile(r"^\.(?:staging-.+|artifacts-old-.+|.+\.tmp)$")


def is_target_dir(path: Path) -> bool:
    return bool(_SLUG.match(path.name)) and path.is_dir() and not path.is_symlink()


def check_inside(base: Path, value: str, *, key: str, where: str) -> Path:
    """``base / value``, refusing an absolute path, ``..``, ``base`` itself, a symlink on the way
    and a file where a directory must be. ``key`` and ``where`` name the setting in errors."""
    rel = Path(value)
    if rel.is_absolute() or ".." in rel.parts:
        raise ConfigError(
            f"{where}: '{key}' = {value!r} must be a relative path inside {base} (no '..', not absolute)"
        )
    parts = [part for part in rel.parts if part not in ("", ".")]
    if not parts:
        raise ConfigError(
            f"{where}: '{key}' = {value!r} is {base} itself; layerctl writes only into a directory of "
            "its own inside it (the default is build/...)"
        )
    current = base
    for part in parts:
        current = current / part
        if current.is_symlink():
            raise ConfigError(
                f"{current}: is a symlink ('{key}' = {value!r}); layerctl never writes or deletes "
                f"through a link: remove it or set another '{key}'"
            )
        if current.exists() and not current.is_dir():
            raise ConfigError(
                f"{current}: is a file, not a directory ('{key}' = {value!r}); layerctl keeps its outputs "
                f"there: move the file or set another '{key}'"
            )
    return current


def owned(directory: Path, legacy: Callable[[list[Path]], bool] | None = None) -> bool:
    """Whether ``directory`` (a real directory, not a link) is layerctl's: it carries the marker,
    or it holds only what an earlier layerctl (before markers) wrote there."""
    if directory.is_symlink() or not directory.is_dir():
        return False
    if (directory / MARKER).is_file() and not (directory / MARKER).is_symlink():
        return True
    return legacy is not None and legacy(list(directory.iterdir()))


def claim(
    directory: Path,
    *,
    key: str,
    where: str,
    legacy: Callable[[list[Path]], bool] | None = None,
) -> Path:
    """Make ``directory`` layerctl's: create it (and its parents) and write the marker. A
    directory that exists, holds anything and is not layerctl's is refused."""
    if directory.is_dir() and not owned(directory, legacy):
        entries = sorted(p.name for p in directory.iterdir())
        if entries:
            raise ConfigError(
                f"{where}: '{key}' names {directory}, which layerctl did not make (it holds "
                f"{entries[0]}{', ...' if len(entries) > 1 else ''}); layerctl writes only into "
                f"a new or empty directory: set another '{key}'"
            )
    try:
        directory.mkdir(parents=True, exist_ok=True)
        marker = directory / MARKER
        if not marker.is_file() or marker.is_symlink():
            _write_new(marker, _MARKER_TEXT)
    except OSError as exc:
        raise ConfigError(
            f"{directory}: cannot create it ({exc.strerror or exc}); set another '{key}'"
        ) from None
    return directory


def _write_new(path: Path, text: str) -> None:
    """Write a file layerctl names, replacing a link or stale file there without following it."""
    if path.is_symlink() or path.exists():
        path.unlink()
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC, 0o644)
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        fh.write(text)


def legacy_output(entries: list[Path]) -> bool:
    """An output directory written before markers: nothing but target directories of ours."""
    return bool(entries) and all(
        is_target_dir(entry) and any((entry / name).is_file() for name in BUILD_FILES) for entry in entries
    )


def legacy_report(entries: list[Path]) -> bool:
    return bool(entries) and all(e.name in REPORT_ENTRIES and e.is_file() for e in entries)


def _remove(path: Path) -> None:
    """Remove one entry layerctl created: a link is removed itself, never followed."""
    if path.is_symlink() or not path.is_dir():
        path.unlink(missing_ok=True)
    else:
        shutil.rmtree(path)


def remove_leftovers(target_dir: Path) -> list[str]:
    """Remove what a killed run left in a target's directory (staging trees, temp files)."""
    removed = []
    if target_dir.is_dir() and not target_dir.is_symlink():
        for entry in sorted(target_dir.iterdir()):
            if _LEFTOVER.match(entry.name):
                _remove(entry)
                removed.append(entry.name)
    return removed


def _clean_target_dir(target_dir: Path) -> None:
    remove_leftovers(target_dir)
    for name in BUILD_ENTRIES:
        _remove(target_dir / name)
    _rmdir_if_empty(target_dir)


def _rmdir_if_empty(directory: Path) -> bool:
    try:
        directory.rmdir()
    except OSError:
        return False
    return True


def clean_output_dir(directory: Path) -> bool | None:
    """Delete layerctl's entries of every target in an output directory; None when the directory
    is not layerctl's (nothing is touched), True when it is gone afterwards."""
    if not owned(directory, legacy_output):
        return None
    for entry in sorted(directory.iterdir()):
        if is_target_dir(entry):
            _clean_target_dir(entry)
    return _unclaim(directory)


def clean_report_dir(directory: Path, names: Iterable[str] = REPORT_ENTRIES) -> list[str] | None:
    """Delete the report files (and the run lock) of a report directory layerctl made."""
    if not owned(directory, legacy_report):
        return None
    removed = []
    for name in names:
        path = directory / name
        if path.is_symlink() or path.is_file():
            path.unlink()
            removed.append(name)
    _unclaim(directory)
    return removed


def _unclaim(directory: Path) -> bool:
    """Remove the marker and the directory once nothing else is left in it (anything else found
    there keeps both: the directory stays layerctl's)."""
    if any(entry.name != MARKER for entry in directory.iterdir()):
        return False
    (directory / MARKER).unlink(missing_ok=True)
    return _rmdir_if_empty(directory)
