"""What takes the room in a layer: the unzipped size of each package, and the help a layer gets
when it is over Lambda's limit, over the direct-upload limit, or ships the AWS SDK that every
Lambda Python runtime already has.

Files are counted for the distribution whose ``RECORD`` lists them (a wheel's files, its
``.libs`` and ``.dist-info``), bytecode for the distribution of its source, anything else for
the distribution that owns its top-level directory, else under its own top-level name (the
layer's own modules). Only what goes into the zip is counted: excludes are already applied."""

from __future__ import annotations

import csv
import posixpath
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from ..core.errors import PackageError
from ..core.events import PackageSize
from ..core.fileio import replace_tree
from ..core.outputs import FAILED_ARTIFACTS
from .scripts_fix import dist_infos
from .zip import UNZIPPED_LIMIT, Entry, collect, compiled_patterns, runtime_provided_patterns

__all__ = [
    "LARGEST",
    "LayerTooLarge",
    "Sizes",
    "collect_measured",
    "keep_failed_tree",
    "listing",
    "measure",
    "too_large",
]

LARGEST = 10  # packages a report row names, and a size failure or warning lists
SDK = ("boto3", "botocore")

_Dist = tuple[str, str | None]  # name, version


@dataclass(frozen=True)
class Sizes:
    total: int
    packages: tuple[PackageSize, ...]  # every package, largest first
    runtime_provided: int  # bytes that exclude-runtime-provided would leave out
    provided: tuple[str, ...]  # the runtime-provided top-level packages the layer ships

    @property
    def largest(self) -> list[PackageSize]:
        return list(self.packages[:LARGEST])

    def warnings(self) -> list[str]:
        """A layer that ships boto3 or botocore: what leaving the runtime's SDK out would save."""
        if not set(SDK) & set(self.provided):
            return []
        return [
            f"the layer ships {', '.join(self.provided)}, which every Lambda Python runtime provides: "
            f"exclude-runtime-provided = true would save {self.runtime_provided:,} bytes unzipped "
            f"({_mb(self.runtime_provided)}), unless the functions need newer versions than the runtime's"
        ]

    def upload_warning(self, zip_name: str, zipped_size: int) -> str:
        return (
            f"{zip_name} is {zipped_size:,} bytes zipped, over the 50 MB direct-upload limit: publish it "
            f"through S3, or leave out what the functions do not need: {_shrink(self)}; largest "
            f"packages (unzipped): {listing(self.largest)}"
        )


class LayerTooLarge(PackageError):
    """The layer unzips to more than Lambda allows; it carries its size and largest packages."""

    def __init__(self, message: str, *, hint: str, unzipped_size: int, largest: list[PackageSize]) -> None:
        super().__init__(message, hint=hint)
        self.unzipped_size, self.largest = unzipped_size, largest


def collect_measured(root: Path, patterns: Sequence[str]) -> tuple[list[Entry], Sizes]:
    """The files the zip holds (``package.collect``) and their sizes, in one go."""
    entries = collect(root, patterns)
    return entries, measure(root, entries)


def measure(root: Path, entries: Sequence[Entry]) -> Sizes:
    """The size of each package of the tree ``root`` among ``entries`` (what the zip holds)."""
    files, tops = _owners(root)
    totals: dict[_Dist, list[int]] = {}
    for entry in entries:
        top = entry.name.split("/", 1)[0]
        dist = files.get(entry.name) or files.get(_source_of(entry.name)) or tops.get(top)
        counted = totals.setdefault(dist or (_module_name(top), None), [0, 0])
        counted[0] += entry.size
        counted[1] += 1
    packages = sorted(
        (
            PackageSize(name=name, version=version, size=size, files=n)
            for (name, version), (size, n) in totals.items()
        ),
        key=lambda p: (-p.size, p.name),
    )
    spec = compiled_patterns(tuple(runtime_provided_patterns()))
    dirs = {e.name.split("/", 1)[0] for e in entries if "/" in e.name}
    provided_dirs = {top for top in dirs if spec.match_file(f"{top}/x")}
    saved = sum(e.size for e in entries if "/" in e.name and e.name.split("/", 1)[0] in provided_dirs)
    provided = tuple(sorted(top for top in provided_dirs if "." not in top and "-" not in top))
    return Sizes(sum(e.size for e in entries), tuple(packages), saved, provided)


def listing(packages: Sequence[PackageSize]) -> str:
    return ", ".join(f"{p.name}{f' {p.version}' if p.version else ''} {_mb(p.size)}" for p in packages)


def keep_failed_tree(staging: Path, out: Path) -> Path:
    """Move a failed attempt's staging tree to the target's ``failed-artifacts`` (replacing an
    older one); the next run of the target removes it. Returns where its ``python/`` is."""
    replace_tree(staging, out / FAILED_ARTIFACTS)
    return out / FAILED_ARTIFACTS / "python"


def too_large(sizes: Sizes, kept: Path) -> LayerTooLarge:
    return LayerTooLarge(
        f"the layer unzips to {sizes.total:,} bytes, over Lambda's limit of {UNZIPPED_LIMIT:,}; "
        f"its tree is kept in {kept} until the next run",
        hint=f"leave out what the functions do not need: {_shrink(sizes)}; the largest packages are "
        "listed above (and in report.html)",
        unzipped_size=sizes.total,
        largest=sizes.largest,
    )


def _shrink(sizes: Sizes) -> str:
    patterns = 'exclude patterns (e.g. exclude = ["*/tests/"])'
    if not sizes.runtime_provided:
        return patterns
    return f"exclude-runtime-provided = true (saves {sizes.runtime_provided:,} bytes) and {patterns}"


def _owners(root: Path) -> tuple[dict[str, _Dist], dict[str, _Dist]]:
    """Which distribution installed each file (by its RECORD), and each top-level name."""
    files: dict[str, _Dist] = {}
    tops: dict[str, _Dist] = {}
    for info in dist_infos(root):
        dist = _identity(info)
        tops.setdefault(info.name, dist)
        for path in _record(info):
            files.setdefault(path, dist)
            tops.setdefault(path.split("/", 1)[0], dist)
    return files, tops


def _record(info: Path) -> list[str]:
    try:
        rows = list(csv.reader((info / "RECORD").read_text("utf-8", "replace").splitlines()))
    except (OSError, csv.Error):
        return []
    paths = (posixpath.normpath(row[0]) for row in rows if row and row[0])
    return [path for path in paths if not path.startswith(("../", "/")) and path != ".."]


def _identity(info: Path) -> _Dist:
    """The distribution's name and version from its METADATA (the directory's name otherwise)."""
    name, _, version = info.name.removesuffix(".dist-info").partition("-")
    found: dict[str, str] = {}
    try:
        with (info / "METADATA").open(encoding="utf-8", errors="replace") as fh:
            for line in fh:
                if not line.strip():
                    break  # the headers end at the first blank line
                key, sep, value = line.partition(":")
                if sep and key in ("Name", "Version"):
                    found.setdefault(key, value.strip())
    except OSError:
        pass
    return found.get("Name", name), found.get("Version", version or None)


def _source_of(name: str) -> str:
    """``pkg/__pycache__/mod.cpython-312.pyc`` → ``pkg/mod.py`` (compiled after the install)."""
    head, _, tail = name.rpartition("__pycache__/")
    return f"{head}{tail.split('.', 1)[0]}.py" if tail else name


def _module_name(top: str) -> str:
    return top.removesuffix(".py")


def _mb(size: int) -> str:
    return f"{size / 1e6:.1f} MB"
