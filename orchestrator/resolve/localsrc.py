"""In-repo projects a requirement set installs from a directory: path dependencies (uv sources,
Poetry path dependencies, PEP 508 ``file:`` URLs, editable or not) and, with ``include-project``,
the layer project itself.

Their files are what a build of them reads: every file under the project's directory except
build outputs and tool caches (``build/``, ``dist/``, ``*.egg-info``, ``.venv``, ``__pycache__``,
VCS directories, layerctl's own output directories) and what the project's ``.gitignore``
ignores. The same list is hashed into the target's input key and copied to build the wheel from,
so what was hashed is exactly what was built.
"""

from __future__ import annotations

import hashlib
import os
import shutil
from collections.abc import Mapping
from pathlib import Path

from .reqset import Entry, RequirementSet

__all__ = ["copy_sources", "key_text", "rewrite", "source_digest", "source_files"]

_SKIPPED_DIRS = frozenset(
    {".git", ".hg", ".svn", ".venv", "venv", "__pycache__", "build", "dist", ".tox", ".nox",
     ".pytest_cache", ".mypy_cache", ".ruff_cache", "node_modules", ".eggs"}
)  # fmt: skip
_OUTPUT_MARKER = ".layerctl-dir"  # outputs.MARKER: a directory layerctl writes into is no source


def source_files(root: Path) -> list[str]:
    """The project's source files, as sorted POSIX paths relative to ``root``."""
    # pathspec is imported when a target has in-repo projects to list: a no-op run of a workspace
    # without any imports this module but lists nothing
    from pathspec import GitIgnoreSpec

    ignore = root / ".gitignore"
    spec = GitIgnoreSpec.from_lines(ignore.read_text("utf-8").splitlines()) if ignore.is_file() else None
    found = []
    for current, dirs, files in os.walk(root):
        rel_dir = Path(current).relative_to(root)
        keep = []
        for name in sorted(dirs):
            rel = (rel_dir / name).as_posix()
            if (
                name in _SKIPPED_DIRS
                or name.endswith(".egg-info")
                or (Path(current) / name / _OUTPUT_MARKER).exists()
            ):
                continue
            if spec is not None and spec.match_file(rel + "/"):
                continue
            keep.append(name)
        dirs[:] = keep  # os.walk never follows directory links (followlinks=False)
        for name in files:
            rel = (rel_dir / name).as_posix()
            if name.endswith((".pyc", ".pyo")) or (spec is not None and spec.match_file(rel)):
                continue
            found.append(rel)
    return sorted(found)


def source_digest(root: Path) -> str:
    """sha256 over the project's source files: their paths, contents and executable bits."""
    digest = hashlib.sha256()
    for rel in source_files(root):
        path = root / rel
        content = hashlib.sha256(path.read_bytes()).hexdigest()
        executable = os.access(path, os.X_OK)
        digest.update(f"{rel}\0{content}\0{int(executable)}\n".encode())
    return digest.hexdigest()


def copy_sources(root: Path, dest: Path) -> None:
    """The project's source files copied to ``dest`` (a new directory): a build there never
    writes into the repository (setuptools leaves ``build/`` and ``*.egg-info`` behind)."""
    dest.mkdir(parents=True)
    for rel in source_files(root):
        target = dest / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(root / rel, target)
        shutil.copymode(root / rel, target)


def key_text(requirements: RequirementSet, digests: Mapping[Path, str], base: Path) -> RequirementSet:
    """The requirement set as the input key sees it: each in-repo project's (or local file's)
    line replaced by its path relative to ``base`` and its source digest, so the key follows the
    sources and not where the checkout is."""

    def keyed(entry: Entry) -> str | None:
        if entry.path is None or entry.path not in digests:
            return None
        return f"local {os.path.relpath(entry.path, base)} {digests[entry.path]} {entry.marker}".rstrip()

    return requirements.replaced(keyed)


def rewrite(requirements: RequirementSet, wheels: Mapping[Path, tuple[str, Path, str]]) -> RequirementSet:
    """Each in-repo project's line replaced by ``name @ file:///wheel``; ``wheels`` maps a
    project's directory to (its name, its wheel, the wheel's sha256). The hash is written when
    the set has hashes (a lock's): one hash turns on hash checking for every line, in pip and uv."""
    hashed = requirements.hashed

    def wheel(entry: Entry) -> str | None:
        if entry.path is None or entry.path not in wheels:
            return None
        name, path, sha256 = wheels[entry.path]
        suffix = f" ; {entry.marker}" if entry.marker else ""
        check = f" \\\n    --hash=sha256:{sha256}" if hashed else ""
        return f"{name} @ {path.as_uri()}{suffix}{check}"

    return requirements.replaced(wheel)
