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
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import unquote, urlsplit

from packaging.requirements import InvalidRequirement, Requirement
from pathspec import GitIgnoreSpec

__all__ = ["LocalRef", "copy_sources", "key_text", "local_refs", "rewrite", "source_digest", "source_files"]

_SKIPPED_DIRS = frozenset(
    {".git", ".hg", ".svn", ".venv", "venv", "__pycache__", "build", "dist", ".tox", ".nox",
     ".pytest_cache", ".mypy_cache", ".ruff_cache", "node_modules", ".eggs"}
)  # fmt: skip
_OUTPUT_MARKER = ".layerctl-dir"  # outputs.MARKER: a directory layerctl writes into is no source


@dataclass(frozen=True)
class LocalRef:
    """One requirement installed from a directory: its line in the requirement set (None for
    the layer project itself) and the directory."""

    line: str | None
    path: Path
    marker: str = ""  # a PEP 508 marker the line carried (`` ; python_version < "3.12"``)


def local_refs(requirements: str) -> list[LocalRef]:
    """The lines of a requirement set that name a local directory: an absolute path (uv export,
    made absolute by the resolver) or ``name @ file:///dir``, with or without ``-e``."""
    found = []
    for line in requirements.splitlines():
        body = line.removeprefix("-e ").strip()
        if not body or body.startswith(("#", "-")) or line[:1].isspace():
            continue
        path, marker = _directory(body)
        if path is not None and path.is_dir():
            found.append(LocalRef(line=line, path=path, marker=marker))
    return found


def _directory(body: str) -> tuple[Path | None, str]:
    if body.startswith("/"):
        where, _, marker = body.partition(";")
        return Path(where.strip()), marker.strip()
    try:
        requirement = Requirement(body)
    except InvalidRequirement:
        return None, ""
    url = requirement.url
    if not url or not url.startswith("file:"):
        return None, ""
    return Path(unquote(urlsplit(url).path)), str(requirement.marker or "")


def source_files(root: Path) -> list[str]:
    """The project's source files, as sorted POSIX paths relative to ``root``."""
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


def key_text(requirements: str, digests: dict[Path, str], base: Path) -> str:
    """The requirement set as the input key sees it: each local line replaced by the project's
    path relative to ``base`` and its source digest, so the key follows the sources and not
    where the checkout is."""
    lines = {ref.line: ref for ref in local_refs(requirements)}
    out = []
    for line in requirements.splitlines():
        ref = lines.get(line)
        if ref is None:
            out.append(line)
        else:
            out.append(f"local {os.path.relpath(ref.path, base)} {digests[ref.path]} {ref.marker}".rstrip())
    return "\n".join(out) + "\n"


def rewrite(requirements: str, wheels: dict[Path, tuple[str, Path, str]]) -> str:
    """Each local line replaced by ``name @ file:///wheel``; ``wheels`` maps a project's
    directory to (its name, its wheel, the wheel's sha256). The hash is written when the set
    has hashes (a lock's): one hash turns on hash checking for every line, in pip and uv."""
    hashed = "--hash=" in requirements
    out = []
    for line in requirements.splitlines():
        body = line.removeprefix("-e ").strip()
        path, marker = _directory(body) if body and not line[:1].isspace() else (None, "")
        if path is not None and path in wheels:
            name, wheel, sha256 = wheels[path]
            suffix = f" ; {marker}" if marker else ""
            check = f" \\\n    --hash=sha256:{sha256}" if hashed else ""
            out.append(f"{name} @ {wheel.as_uri()}{suffix}{check}")
        else:
            out.append(line)
    return "\n".join(out) + "\n"
