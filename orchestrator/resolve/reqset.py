"""A requirement set (requirements.txt text, as a resolver or a lock export writes it), parsed once.

Each logical line is one :class:`Entry`: a requirement with its ``\\`` continuation lines and
``--hash=`` options, an option line (``--index-url``, ``-e <path>``), an in-repo project (an
absolute path or a ``file:`` URL to a directory), or a blank or comment line. The physical lines
are kept as written, so ``parse(text).text == text``. Requirements are read with ``packaging``;
a line it cannot read is kept as it is (the installer decides).

What callers ask of a set: the lines that apply to a target (markers evaluated for its Lambda
runtime), their digest and pins, what changed between two of them (``+orjson 3.10.1``,
``urllib3 2.2.0 -> 2.3.0``), the hashes a lock allows, the in-repo projects, direct references
that are not wheels, and the text to write with some entries replaced."""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from urllib.parse import unquote, urlsplit

from packaging.markers import InvalidMarker, Marker, UndefinedComparison, UndefinedEnvironmentName
from packaging.requirements import InvalidRequirement, Requirement
from packaging.utils import (
    InvalidSdistFilename,
    InvalidWheelFilename,
    canonicalize_name,
    parse_sdist_filename,
    parse_wheel_filename,
)

from ..plan.targets import Target

__all__ = ["Applied", "Entry", "Line", "LocalRef", "RequirementSet", "describe_changes", "target_environment"]

Line = tuple[str, str, str]  # name, version (or specifier), the line without its marker


def target_environment(target: Target) -> dict[str, str]:
    """PEP 508 marker variables of the Lambda runtime the target runs on."""
    return {
        "implementation_name": "cpython",
        "platform_python_implementation": "CPython",
        "os_name": "posix",
        "sys_platform": "linux",
        "platform_system": "Linux",
        "platform_machine": target.arch.machine,
        "python_version": target.python,
        "python_full_version": f"{target.python}.0",
        "implementation_version": f"{target.python}.0",
        "extra": "",
    }


@dataclass(frozen=True)
class Entry:
    """One logical line. ``body`` is the line without its comment and hashes ("" for a blank or
    comment line); ``name`` (as written), ``version`` (a pin's version, else the specifier, else
    the URL), ``plain`` (the requirement without its marker) and ``marker`` are set when
    ``packaging`` reads it as a requirement; ``path`` when it names a local path (a directory: an
    in-repo project; a file: an sdist or wheel)."""

    lines: tuple[str, ...]  # the physical lines as written, with their line endings
    body: str = ""
    hashes: tuple[str, ...] = ()  # what follows each ``--hash=`` (``sha256:<hex>``)
    name: str = ""
    version: str = ""
    url: str = ""
    plain: str = ""
    marker: str = ""
    path: Path | None = None  # an absolute path line or a ``file:`` URL, ``-e`` or not

    @property
    def is_option(self) -> bool:
        return self.body.startswith("-")

    @property
    def installs(self) -> bool:
        """A line naming something to install (not an option, a blank or a comment)."""
        return bool(self.body) and not self.is_option


@dataclass(frozen=True)
class LocalRef:
    """An in-repo project the set installs from a directory: its entry (None for the layer
    project itself, ``include-project``), its directory and the marker the line carried."""

    entry: Entry | None
    path: Path
    marker: str = ""


@dataclass(frozen=True)
class Applied:
    """The lines of a set that apply to one target, sorted."""

    lines: tuple[Line, ...]

    @property
    def digest(self) -> str:
        return hashlib.sha256("\n".join(line for _, _, line in self.lines).encode()).hexdigest()

    @property
    def pins(self) -> dict[str, str]:
        """name -> version (or specifier, or URL): what ``describe_changes`` compares."""
        return {name: version for name, version, _ in self.lines}


@dataclass(frozen=True)
class RequirementSet:
    entries: tuple[Entry, ...]

    @classmethod
    def parse(cls, text: str) -> RequirementSet:
        entries: list[Entry] = []
        pending: list[str] = []
        logical = ""
        for raw in text.splitlines(keepends=True):
            stripped = raw.rstrip("\r\n")
            line = stripped.split(" #")[0].rstrip() if not stripped.lstrip().startswith("#") else ""
            pending.append(raw)
            if line.endswith("\\"):
                logical += line[:-1].strip() + " "
                continue
            entries.append(_entry(tuple(pending), (logical + line.strip()).strip()))
            pending, logical = [], ""
        if pending:
            entries.append(_entry(tuple(pending), logical.strip()))
        return cls(tuple(entries))

    @property
    def text(self) -> str:
        """The set as written (and as it is to be written: a requirements.txt)."""
        return "".join(line for entry in self.entries for line in entry.lines)

    @property
    def hashed(self) -> bool:
        """Whether any line carries a hash: then pip and uv check every line's."""
        return any(entry.hashes for entry in self.entries)

    @property
    def installs_something(self) -> bool:
        return any(entry.installs for entry in self.entries)

    def applicable(self, target: Target) -> Applied:
        """The lines that apply to ``target``, sorted: options (``--index-url``) and lines
        ``packaging`` cannot read (in-repo keys) kept as they are, each requirement without its
        marker, with its hashes sorted."""
        out: list[Line] = []
        for entry in self.applicable_entries(target):
            if not entry.name:
                out.append((entry.body, "", " ".join([entry.body, *(f"--hash={h}" for h in entry.hashes)])))
                continue
            line = " ".join([entry.plain, *sorted(entry.hashes)])  # as stamps have it: keys stay the same
            out.append((canonicalize_name(entry.name), entry.version, line))
        return Applied(tuple(sorted(out)))

    def applicable_entries(self, target: Target) -> list[Entry]:
        """The entries with a body whose marker holds for ``target`` (one it cannot evaluate
        is kept: the installer decides)."""
        environment = target_environment(target)
        out: list[Entry] = []
        for entry in self.entries:
            if entry.body and entry.name and entry.marker:
                try:
                    if not Marker(entry.marker).evaluate(environment):
                        continue
                except (InvalidMarker, UndefinedComparison, UndefinedEnvironmentName):
                    pass
            if entry.body:
                out.append(entry)
        return out

    def locked_hashes(self) -> dict[str, set[str]]:
        """The sha256 hashes the set allows per package (canonical name; a lock's, none for pip)."""
        found: dict[str, set[str]] = {}
        for entry in self.entries:
            sha256 = {h.removeprefix("sha256:").lower() for h in entry.hashes if h.startswith("sha256:")}
            if entry.name and sha256:
                found.setdefault(canonicalize_name(entry.name), set()).update(sha256)
        return found

    def in_repo(self) -> list[LocalRef]:
        """The entries that name a local directory that exists (an in-repo project)."""
        return [
            LocalRef(entry, entry.path, entry.marker)
            for entry in self.entries
            if entry.path is not None and entry.path.is_dir()
        ]

    def local_files(self) -> list[Path]:
        """The local files the set installs by path (an sdist or a wheel kept in the repository)."""
        return [entry.path for entry in self.entries if entry.path is not None and entry.path.is_file()]

    def not_wheels(self) -> list[str]:
        """The names of direct references to anything but a wheel (an sdist, a directory, a
        VCS URL): a resolver reads their metadata without building them."""
        return [
            entry.name
            for entry in self.entries
            if entry.url and not entry.url.split("#")[0].strip().endswith(".whl")
        ]

    def replaced(self, new: Callable[[Entry], str | None]) -> RequirementSet:
        """The set with each entry for which ``new`` gives a text replaced by that text (the
        others kept as written); the result ends with a newline."""
        out = []
        for entry in self.entries:
            text = new(entry)
            out.append("".join(entry.lines) if text is None else text.rstrip("\n") + "\n")
        joined = "".join(out)
        return RequirementSet.parse(joined if joined.endswith("\n") else joined + "\n")

    def absolute_paths(self, base: Path) -> RequirementSet:
        """Path lines (``./libs/x``, ``-e ../x``) made absolute against ``base`` (uv export
        writes them relative to the lock's directory); a path to an sdist or a wheel becomes a
        named direct reference (``x @ file:///...``), as every other step reads packages by name."""

        def absolute(entry: Entry) -> str | None:
            first = entry.lines[0]
            prefix = "-e " if first.startswith("-e ") else ""
            path, sep, tail = first[len(prefix) :].rstrip("\r\n").partition(" ")
            if not (path in (".", "..") or path.startswith(("./", "../"))):
                return None
            where = (base / path).resolve()
            name = None if prefix else _archive_name(where.name)
            line = str(where) if name is None else f"{name} @ {where.as_uri()}"
            return prefix + line + sep + tail + "\n" + "".join(entry.lines[1:])

        return self.replaced(absolute)


def _entry(lines: tuple[str, ...], logical: str) -> Entry:
    words = logical.split(" --hash=")
    body, hashes = words[0].strip(), tuple(h.strip() for h in words[1:])
    if not body:
        return Entry(lines)
    path, marker = _directory(body.removeprefix("-e ").strip())
    parsed = None if body.startswith("-") else _parsed(body)
    if parsed is None:
        return Entry(lines, body, hashes, path=path, marker=marker)
    name, version, url, plain, marker = parsed
    return Entry(
        lines, body, hashes, name=name, version=version, url=url, plain=plain, marker=marker, path=path
    )


@lru_cache(maxsize=4096)
def _parsed(body: str) -> tuple[str, str, str, str, str] | None:
    """A requirement's name, version (or specifier, or URL), URL, line without its marker, and
    marker; None: not a requirement. Parsed once per distinct line (a matrix's targets share
    most of their pins)."""
    try:
        requirement = Requirement(body)
    except InvalidRequirement:
        return None
    marker = str(requirement.marker or "")
    requirement.marker = None
    version = str(requirement.specifier) or (requirement.url or "")
    return requirement.name, version.removeprefix("=="), requirement.url or "", str(requirement), marker


def _archive_name(file_name: str) -> str | None:
    """The project a wheel's or an sdist's file name names, else None."""
    try:
        if file_name.endswith(".whl"):
            return str(parse_wheel_filename(file_name)[0])
        if file_name.endswith((".tar.gz", ".zip")):
            return str(parse_sdist_filename(file_name)[0])
    except (InvalidWheelFilename, InvalidSdistFilename):
        return None
    return None


def _directory(body: str) -> tuple[Path | None, str]:
    """The local directory a line names (an absolute path, a ``file:`` URL) and its marker."""
    if body.startswith("/"):
        where, _, marker = body.partition(";")
        return Path(where.strip()), marker.strip()
    parsed = _parsed(body)
    if parsed is None or not parsed[2].startswith("file:"):
        return None, ""
    return Path(unquote(urlsplit(parsed[2]).path)), parsed[4]


def describe_changes(old: Mapping[str, str], new: Mapping[str, str], *, limit: int = 6) -> str:
    """``+orjson 3.10.1, -six 1.16.0, urllib3 2.2.0 -> 2.3.0`` (the first ``limit``, then a count)."""
    changes = [f"+{name} {new[name]}".rstrip() for name in sorted(new.keys() - old.keys())]
    changes += [f"-{name} {old[name]}".rstrip() for name in sorted(old.keys() - new.keys())]
    changes += [
        f"{name} {old[name]} -> {new[name]}"
        for name in sorted(old.keys() & new.keys())
        if old[name] != new[name]
    ]
    if len(changes) > limit:
        return ", ".join(changes[:limit]) + f" and {len(changes) - limit} more"
    return ", ".join(changes)
