"""Console scripts installed into a layer name the interpreter that installed them in their
shebang: a path on the build machine, which does not exist on Lambda and makes the zip differ
from one machine (or checkout path) to the next. They are pointed at the runtime's interpreter
instead, and the RECORD files that hash them are updated to match, with the csv module (a path
may be quoted). RECORD paths that ``pip --target`` leaves pointing outside the install root are
set to where the files are."""

from __future__ import annotations

import base64
import csv
import hashlib
import io
import json
import os
import posixpath
from collections.abc import Callable, Collection
from pathlib import Path
from urllib.parse import unquote, urlsplit

__all__ = ["LAMBDA_PYTHON", "dist_infos", "fix_scripts", "forget_direct_urls", "forget_local_files"]

LAMBDA_PYTHON = "/var/lang/bin/python{python}"  # where every Lambda Python runtime has it
_MAX_SHEBANG = 4096
_PIP_TARGET_LIB = "lib/python"  # where pip --target installs packages before moving them
_PROVENANCE = ("direct_url.json", "uv_cache.json")  # where an installed distribution came from


def fix_scripts(root: Path, python: str) -> list[str]:
    """Rewrite python shebangs under ``root/bin`` and make every RECORD true to the tree;
    return the rewritten paths (relative)."""
    bin_dir = root / "bin"
    shebang = f"#!{LAMBDA_PYTHON.format(python=python)}\n".encode()
    rewritten: dict[str, bytes] = {}
    for path in sorted(bin_dir.iterdir()) if bin_dir.is_dir() else ():
        if not path.is_file() or path.is_symlink():
            continue
        with path.open("rb") as fh:
            first = fh.readline(_MAX_SHEBANG)
            if not (first.startswith(b"#!") and b"python" in first) or first == shebang:
                continue
            content = shebang + fh.read()
        mode = path.stat().st_mode & 0o7777
        path.unlink()  # never write in place: installers hard-link files from their caches
        path.write_bytes(content)
        path.chmod(mode)
        rewritten[os.path.normpath(path)] = content
    _update_records(root, rewritten)
    return sorted(os.path.relpath(p, root) for p in rewritten)


def dist_infos(root: Path) -> list[Path]:
    """The ``*.dist-info`` directories of a tree (links to directories too), sorted: what
    ``root.glob("*.dist-info")`` finds that is a directory, in one ``scandir``."""
    try:
        with os.scandir(root) as scan:
            names = sorted(item.name for item in scan if item.name.endswith(".dist-info") and item.is_dir())
    except OSError:  # as glob: a tree that cannot be listed has none
        return []
    return [root / name for name in names]


def _update_records(root: Path, rewritten: dict[str, bytes]) -> None:
    for record in (info / "RECORD" for info in dist_infos(root)):
        if not record.exists():
            continue
        data = record.read_bytes()
        if not rewritten and b"../" not in data:
            continue
        newline = "\r\n" if b"\r\n" in data else "\n"  # pip writes CRLF (the csv default), uv LF
        rows = list(csv.reader(io.StringIO(data.decode("utf-8"), newline="")))
        changed = False
        for row in rows:
            if not row:
                continue
            rel = _installed_path(row[0])
            if rel != row[0]:
                row[0], changed = rel, True
            content = rewritten.get(os.path.normpath(root / rel))
            if content is not None and len(row) == 3:
                digest = base64.urlsafe_b64encode(hashlib.sha256(content).digest()).rstrip(b"=").decode()
                row[1:] = [f"sha256={digest}", str(len(content))]
                changed = True
        if changed:
            out = io.StringIO(newline="")
            csv.writer(out, lineterminator=newline).writerows(rows)
            record.unlink()  # never write in place: installers hard-link files from their caches
            record.write_bytes(out.getvalue().encode("utf-8"))


def _installed_path(path: str) -> str:
    """A RECORD path relative to the install root. ``pip --target`` installs into a temporary
    home (packages in ``<home>/lib/python``, scripts in ``<home>/bin``), then moves both into the
    target but leaves RECORD naming scripts from the old place, ``../../bin/x`` (pypa/pip#7658):
    such a path is mapped to where the file now is, ``bin/x``."""
    if not path.startswith("../"):
        return path
    home = posixpath.normpath(posixpath.join(_PIP_TARGET_LIB, path))
    if home.startswith("../"):
        return path  # outside even pip's temporary home: not ours to guess
    return home.removeprefix(_PIP_TARGET_LIB + "/")


def forget_direct_urls(root: Path, came_from: Path | Collection[str]) -> list[str]:
    """Remove what installers record about where a distribution came from when layerctl named
    its wheel itself: one under a directory (in-repo projects, built for this run: a path of
    this run on the build machine) or one of these URLs (a wheel chosen among a runtime's exact
    tags: an index's address, which an index install never records). ``direct_url.json``
    (PEP 610) and uv's ``uv_cache.json`` (a timestamp) go, with their RECORD rows: either would
    make the zip differ from one run, one index or one machine to the next."""
    if isinstance(came_from, Path):
        prefix = came_from.resolve().as_uri() + "/"

        def ours(url: str) -> bool:
            return url.startswith(prefix)
    else:
        urls = set(came_from)

        def ours(url: str) -> bool:
            return url in urls

    return _forget(root, ours)


def forget_local_files(root: Path, files: Collection[Path]) -> list[str]:
    """``forget_direct_urls`` of distributions installed from these local files (an sdist or a
    wheel the set names by path, each at a path of this checkout): a ``file:`` URL, as written
    in the set or as the installer spelled it, naming one of them."""
    paths = {os.path.normpath(path) for path in files}

    def ours(url: str) -> bool:
        parts = urlsplit(url)
        return parts.scheme == "file" and os.path.normpath(unquote(parts.path)) in paths

    return _forget(root, ours) if paths else []


def _forget(root: Path, ours: Callable[[str], bool]) -> list[str]:
    removed = []
    for direct in sorted(root.glob("*.dist-info/direct_url.json")):
        try:
            url = json.loads(direct.read_text("utf-8")).get("url", "")
        except (ValueError, AttributeError):
            continue
        if not isinstance(url, str) or not ours(url):
            continue
        info = direct.parent
        gone = {f"{info.name}/{name}" for name in _PROVENANCE if (info / name).is_file()}
        for name in _PROVENANCE:
            (info / name).unlink(missing_ok=True)
        record = info / "RECORD"
        if record.is_file():
            data = record.read_bytes()
            newline = "\r\n" if b"\r\n" in data else "\n"
            rows = list(csv.reader(io.StringIO(data.decode("utf-8"), newline="")))
            out = io.StringIO(newline="")
            csv.writer(out, lineterminator=newline).writerows(
                row for row in rows if row and row[0] not in gone
            )
            record.unlink()  # never write in place: installers hard-link files from their caches
            record.write_bytes(out.getvalue().encode("utf-8"))
        removed.append(info.name)
    return removed
