"""The up-to-date check: a target's input key (everything that decides its zip's bytes) and the
stamp of its last good build (``.layerctl-stamp.json``: the key and what the build made)."""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict

from . import __version__
from .events import PackageSize
from .fileio import read_no_follow, write_atomic
from .outputs import ARTIFACTS, STAMP_NAME, ZIP_NAME
from .package import sha256_file
from .plan import Target

__all__ = [
    "Offline",
    "Stamp",
    "StampResult",
    "input_key",
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


class Offline(BaseModel):
    """What the check before any decision compares (``freshness.py``): the inputs as they are
    known offline, the builder decided with its reason, and the zip's size, mtime and inode."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    material: dict[str, Any]
    requirements: dict[str, str] = {}  # name -> version (or specifier) applying to the target: diffs
    requirements_text: str = ""  # the set as the layer's lock gave it (a pip layer's pins)
    inputs: dict[str, str] = {}  # lock and project files -> sha256: a uv export is skipped when equal
    declared: str = ""  # a pip layer's declared dependencies, from which its pins were resolved
    builder: str
    builder_reason: str | None = None
    zip_stat: tuple[int, int, int] | None = None  # size, mtime_ns, inode of the zip when stamped


class Stamp(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)

    key: str
    sha256: str
    result: StampResult
    offline: Offline | None = None


def input_key(target: Target, fingerprint: str, requirements: str) -> str:
    """Everything that decides the zip's bytes; equal keys mean an identical build."""
    material = {
        "layerctl": __version__,
        "runtime": target.runtime.model_dump(),
        "arch": target.arch.value,
        "builder": target.builder,
        "executor": fingerprint,
        "tool": target.layer.tool.value,
        "settings": target.settings.model_dump(mode="json", exclude={"python", "arch", "output", "builder"}),
        "requirements": requirements,
        "source_date_epoch": os.environ.get("SOURCE_DATE_EPOCH", ""),
    }
    return hashlib.sha256(json.dumps(material, sort_keys=True).encode()).hexdigest()


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
    """The last good build's stamp if its inputs equal ``key`` and its zip is intact."""
    stamp = read_stamp(out)
    if stamp is None or stamp.key != key or zip_problem(out, stamp, verify=verify) is not None:
        return None
    return stamp


def write_stamp(out: Path, key: str, made: StampResult, offline: Offline | None = None) -> None:
    """The stamp, written after the zip it describes (a run killed between the two leaves a zip
    whose inode differs from the old stamp's: it is hashed, found different and rebuilt)."""
    if offline is not None:
        info = (out / ZIP_NAME).lstat()
        offline = offline.model_copy(update={"zip_stat": (info.st_size, info.st_mtime_ns, info.st_ino)})
    stamp = Stamp(key=key, sha256=made.sha256, result=made, offline=offline)
    write_atomic(out / STAMP_NAME, stamp.model_dump_json(indent=2))
