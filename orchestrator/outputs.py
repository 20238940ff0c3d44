"""What layerctl may write and delete: only directories it made, and in them only its own entries.

Every output directory (a layer's ``output``, the workspace's ``report-dir``, a configured
``cache-dir``) is checked before anything is written: a relative path strictly inside its base
(never the base itself, never through ``..`` or a symlink), and either new, empty, or already
carrying the marker file layerctl writes into each directory it makes. ``clean`` deletes only in
marked directories and only the names layerctl creates there, so a user's files survive any
setting.
"""

from __future__ import annotations

import re
import shutil
from collections.abc import Callable, Iterable
from pathlib import Path

from .errors import ConfigError, EnvironmentProblem
from .fileio import ROOM, create_fresh, path_problem
from .runlock import LOCK_NAME

__all__ = [
    "ARTIFACTS",
    "BUILD_ENTRIES",
    "FAILED_ARTIFACTS",
    "LOG_NAME",
    "MARKER",
    "REPORT_ENTRIES",
    "REQUIREMENTS_NAME",
    "STAMP_NAME",
    "ZIP_NAME",
    "check_inside",
    "claim",
    "clean_output_dir",
    "clean_report_dir",
    "fit_path",
    "is_target_dir",
    "legacy_output",
    "legacy_report",
    "owned",
    "remove_leftovers",
]

MARKER = ".layerctl-dir"
ZIP_NAME = "layer.zip"
LOG_NAME = "build.log"
REQUIREMENTS_NAME = "requirements.txt"
STAMP_NAME = ".layerctl-stamp.json"
ARTIFACTS = "artifacts"
FAILED_ARTIFACTS = "failed-artifacts"  # the tree of a layer too large, kept until the next run
_MARKER_TEXT = "Made by layerctl. `layerctl clean` removes what layerctl wrote here, and nothing else.\n"
# What a target's directory holds: files layerctl writes (replaced atomically) and its trees.
BUILD_FILES = (ZIP_NAME, LOG_NAME, REQUIREMENTS_NAME, STAMP_NAME)
BUILD_TREES = (ARTIFACTS, FAILED_ARTIFACTS)
BUILD_ENTRIES = BUILD_FILES + BUILD_TREES
REPORT_ENTRIES = ("report.json", "report.html", ".layerctl.lock")
_SLUG = re.compile(r"^py\d+\.\d+-(?:x86_64|arm64)$")
# Left by a killed run (staging trees, temp files, swapped-out trees) or kept by the last one.
_LEFTOVER = re.compile(r"^(?:\.(?:staging-.+|(?:failed-)?artifacts-old-.+|.+\.tmp)|failed-artifacts)$")


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
    fit_path(base.joinpath(*parts), key=key, where=where)
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


def fit_path(path: Path, *, key: str, where: str) -> Path:
    """``path`` if the operating system takes it with room below for what layerctl writes there
    (fileio.path_problem: no NUL, parts of at most NAME_MAX, the whole within PATH_MAX)."""
    problem = path_problem(path.absolute(), room=ROOM)
    if problem:
        raise ConfigError(f"{where}: '{key}' {problem}")
    return path


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
        _mark(directory / MARKER)
    except OSError as exc:  # read-only, full, not ours to write: this machine's problem, not a setting's
        raise EnvironmentProblem(
            f"{directory}: cannot create it ({exc.strerror or exc}); make it writable or set another '{key}'"
        ) from None
    return directory


def _mark(marker: Path) -> None:
    """Write the marker unless a regular one is there; another run making it at the same moment
    is no conflict (whoever wins, the marker is layerctl's)."""
    if marker.is_symlink():
        marker.unlink()  # never followed; replaced by a file of ours below
    elif marker.is_file():
        return
    try:
        with create_fresh(marker) as fh:
            fh.write(_MARKER_TEXT)
    except FileExistsError:
        if marker.is_symlink() or not marker.is_file():
            raise


def legacy_output(entries: list[Path]) -> bool:
    """An output directory written before markers: nothing but target directories of ours, each
    with layerctl's stamp (a `layer.zip` alone in a `py3.12-x86_64/` could be anyone's)."""
    return bool(entries) and all(is_target_dir(e) and (e / STAMP_NAME).is_file() for e in entries)


def legacy_report(entries: list[Path]) -> bool:
    return bool(entries) and all(e.name in REPORT_ENTRIES and e.is_file() for e in entries)


def _remove(path: Path) -> None:
    """Remove one entry layerctl created: a link is removed itself, never followed."""
    shutil.rmtree(path) if path.is_dir() and not path.is_symlink() else path.unlink(missing_ok=True)


def remove_leftovers(target_dir: Path) -> list[str]:
    """Remove what a killed run left in a target's directory, and a failed build's kept tree."""
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
        return True
    except OSError:
        return False


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
    if any(entry.name not in (MARKER, LOCK_NAME) for entry in directory.iterdir()):
        return False
    (directory / LOCK_NAME).unlink(missing_ok=True)  # held by this run: waiters start over
    (directory / MARKER).unlink(missing_ok=True)
    return _rmdir_if_empty(directory)
