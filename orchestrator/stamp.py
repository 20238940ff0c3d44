"""The stamp of a target's last good build (``.layerctl-stamp.json``): its input key
(``inputkey.py``) with what the key is made of, and what the build made. A stamp of another
format (an older layerctl's) is read, and rebuilds once: "layerctl's stamp format changed"."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict

from .events import PackageSize
from .fileio import read_no_follow, write_atomic
from .inputkey import input_key
from .outputs import ARTIFACTS, STAMP_NAME, ZIP_NAME
from .package import sha256_file

__all__ = [
    "STAMP_FORMAT",
    "Offline",
    "Stamp",
    "StampResult",
    "read_stamp",
    "up_to_date",
    "write_stamp",
    "zip_problem",
]


class StampResult(BaseModel):
    """What the last good build made: the fields an up-to-date target reports again."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    zip_path: str
    files: int
    unzipped_size: int
    zipped_size: int
    sha256: str
    largest: list[PackageSize] = []
    elf_files: int
    max_glibc: str | None = None
    image: str | None = None
    image_id: str | None = None


# 1: layerctl before one input key (no ``format``); 2: the key of inputkey.py
STAMP_FORMAT = 2


class Offline(BaseModel):
    """What the check before any decision reads (``freshness.py``): what the key is made of
    (``inputkey.key_material``), how the set was found, the builder decided with its reason, and
    the zip's size, mtime and inode."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    material: dict[str, Any]
    requirements: dict[str, str] = {}  # name -> version (or specifier) applying to the target: diffs
    requirements_text: str = ""  # the set as the layer's lock gave it (a pip layer's pins)
    inputs: dict[str, str] = {}  # lock and project files -> sha256: a uv export is skipped when equal
    declared: str = ""  # a pip layer's declared dependencies, from which its pins were resolved
    builder: str
    builder_reason: str | None = None
    image: str | None = None  # a container build's image by name: its digest is in ``material``
    zip_stat: tuple[int, int, int] | None = None  # size, mtime_ns, inode of the zip when stamped


class Stamp(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)

    format: int = 1
    key: str
    sha256: str
    result: StampResult
    offline: Offline | None = None

    def result_at(self, out: Path) -> dict[str, Any]:
        """What the build made, as an up-to-date row reports it: the zip where it is now (the
        workspace may have been copied or moved since; the key knows no path)."""
        return {**self.result.model_dump(), "zip_path": str(out / ZIP_NAME)}


def read_stamp(out: Path) -> Stamp | None:
    """The stamp of the last good build; one that cannot be read, is a link, or has fields of
    the wrong type counts as none."""
    try:
        return Stamp.model_validate_json(read_no_follow(out / STAMP_NAME))
    except (OSError, ValueError):  # pydantic's ValidationError is a ValueError
        return None


def zip_problem(out: Path, stamp: Stamp, *, verify: bool = False) -> str | None:
    """Why the stamped zip cannot be trusted (None: intact). Its bytes are hashed only when its
    size, mtime or inode differ from the stamp's (or with ``verify``): a no-op run reads no zip."""
    zip_path = out / ZIP_NAME
    try:
        info = zip_path.lstat()
        if zip_path.is_symlink() or not (out / ARTIFACTS / "python").is_dir():
            return "zip altered" if zip_path.is_symlink() else "artifacts missing"
        recorded = stamp.offline.zip_stat if stamp.offline else None
        if not verify and recorded == (info.st_size, info.st_mtime_ns, info.st_ino):
            return None
        return None if sha256_file(zip_path) == stamp.sha256 else "zip altered"
    except FileNotFoundError:
        return "zip missing"
    except OSError:
        return "zip unreadable"


def up_to_date(out: Path, key: str, *, verify: bool = False) -> Stamp | None:
    """The last good build's stamp if its input key is ``key`` and its zip is intact."""
    stamp = read_stamp(out)
    if stamp is None or stamp.format != STAMP_FORMAT or stamp.key != key:
        return None
    return stamp if zip_problem(out, stamp, verify=verify) is None else None


def write_stamp(out: Path, made: StampResult, offline: Offline) -> None:
    """The stamp, written after the zip it describes (a run killed between the two leaves a zip
    whose inode differs from the old stamp's: it is hashed, found different and rebuilt)."""
    info = (out / ZIP_NAME).lstat()
    offline = offline.model_copy(update={"zip_stat": (info.st_size, info.st_mtime_ns, info.st_ino)})
    key = input_key(offline.material)
    stamp = Stamp(format=STAMP_FORMAT, key=key, sha256=made.sha256, result=made, offline=offline)
    write_atomic(out / STAMP_NAME, stamp.model_dump_json(indent=2))
