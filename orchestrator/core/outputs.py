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

from .errors import BuildError, ConfigError, EnvironmentProblem
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
    "check_build_names",
    "check_claim",
    "check_inside",
    "claim",
    "clean_output_dir",
    "clean_report_dir",
    "fit_path",
    "is_target_dir",
    "kind_of",
    "legacy_output",
    "legacy_report",
    "owned",
    "remove_leftovers",
    "writes_tree",
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
    check_claim(directory, key=key, where=where, legacy=legacy)
    try:
        directory.mkdir(parents=True, exist_ok=True)
        _mark(directory / MARKER)
    except OSError as exc:  # read-only, full, not ours to write: this machine's problem, not a setting's
        raise EnvironmentProblem(
            f"{directory}: cannot create it ({exc.strerror or exc}); make it writable or set another '{key}'"
        ) from None
    return directory


def check_claim(
    directory: Path,
    *,
    key: str,
    where: str,
    legacy: Callable[[list[Path]], bool] | None = None,
) -> None:
    """Refuse what ``claim`` would refuse, writing nothing: a directory that exists, holds
    anything and is not layerctl's."""
    if not directory.is_dir():
        return
    # what it holds first, then whose: a run that has just made it (then marks it) is no stranger
    entries = sorted(p.name for p in directory.iterdir())
    if entries and not owned(directory, legacy):
        raise ConfigError(
            f"{where}: '{key}' names {directory}, which layerctl did not make (it holds "
            f"{entries[0]}{', ...' if len(entries) > 1 else ''}); layerctl writes only into "
            f"a new or empty directory: set another '{key}'"
        )


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


def _remove(path: Path, tree: bool) -> bool:
    """Remove an entry at a name layerctl writes, if it is of the kind layerctl writes there (a
    directory: ``tree``, else a file); a link is removed itself, never followed (a build replaces
    it). False: something else is there, kept (a user's directory named ``layer.zip``, say)."""
    if path.is_symlink():
        path.unlink()
    elif tree and path.is_dir():
        shutil.rmtree(path)
    elif not tree and path.is_file():
        path.unlink()
    return not os.path.lexists(path)


def writes_tree(name: str) -> bool:
    """Whether layerctl writes a directory at this name (its trees, staging and swapped-out
    trees), else a file (its files, temp files, the report's)."""
    return name in BUILD_TREES or (bool(_LEFTOVER.match(name)) and not name.endswith(".tmp"))


def _sweep(target_dir: Path, left: list[Path]) -> list[str]:
    """Remove what a killed run left in a target's directory (temp files, staging and swapped-out
    trees) and a failed build's kept tree; what is not of their kind is added to ``left``."""
    removed = []
    if target_dir.is_dir() and not target_dir.is_symlink():
        for entry in sorted(target_dir.iterdir()):
            if _LEFTOVER.match(entry.name):
                if _remove(entry, tree=writes_tree(entry.name)):
                    removed.append(entry.name)
                else:
                    left.append(entry)
    return removed


def remove_leftovers(target_dir: Path) -> list[str]:
    """Remove what a killed run left in a target's directory, and a failed build's kept tree."""
    return _sweep(target_dir, [])


def _clean_target_dir(target_dir: Path, left: list[Path]) -> None:
    _sweep(target_dir, left)
    for name in BUILD_ENTRIES:
        path = target_dir / name
        if not _remove(path, tree=writes_tree(name)) and path not in left:
            left.append(path)
    _rmdir_if_empty(target_dir)


def _rmdir_if_empty(directory: Path) -> bool:
    try:
        directory.rmdir()
        return True
    except OSError:
        return False


def clean_output_dir(directory: Path) -> list[Path] | None:
    """Delete layerctl's entries of every target in an output directory; None when the directory
    is not layerctl's (nothing is touched), else what was kept at layerctl's names because it is
    not of the kind layerctl writes there."""
    if not owned(directory, legacy_output):
        return None
    left: list[Path] = []
    for entry in sorted(directory.iterdir()):
        if is_target_dir(entry):
            _clean_target_dir(entry, left)
    _unclaim(directory)
    return left


def clean_report_dir(
    directory: Path, names: Iterable[str] = REPORT_ENTRIES
) -> tuple[list[str], list[Path]] | None:
    """Delete the report files (and the run lock) of a report directory layerctl made: the
    names removed, and what was kept (not a file, so not layerctl's)."""
    if not owned(directory, legacy_report):
        return None
    removed, left = [], []
    for name in names:
        path = directory / name
        if not os.path.lexists(path):
            continue
        if _remove(path, tree=False):
            removed.append(name)
        else:
            left.append(path)
    _unclaim(directory)
    return removed, left


def check_build_names(target_dir: Path) -> None:
    """Before a build writes: a user's entry at a name layerctl writes a file at (a directory
    called layer.zip) fails the target with one line; it is not layerctl's to remove."""
    for name in BUILD_FILES:
        path = target_dir / name
        if os.path.lexists(path) and not path.is_symlink() and not path.is_file():
            raise BuildError(
                f"{path}: {kind_of(path)} where layerctl writes its {name}; move it away "
                "(layerctl removes only what it made)"
            )


def kind_of(path: Path) -> str:
    """What is at ``path``, for a line about it: "a directory", "a file" or "something else"."""
    return "a directory" if path.is_dir() else "a file" if path.is_file() else "something else"


def _unclaim(directory: Path) -> bool:
    """Remove the marker and the directory once nothing else is left in it (anything else found
    there keeps both: the directory stays layerctl's)."""
    if any(entry.name not in (MARKER, LOCK_NAME) for entry in directory.iterdir()):
        return False
    (directory / LOCK_NAME).unlink(missing_ok=True)  # held by this run: waiters start over
    (directory / MARKER).unlink(missing_ok=True)
    return _rmdir_if_empty(directory)
