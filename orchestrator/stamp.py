"""The up-to-date check: a target's input key (everything that decides its zip's bytes) and the
stamp of its last good build (``.layerctl-stamp.json``: the key and what the build made)."""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

from pydantic import BaseModel, ConfigDict

from . import __version__
from .events import PackageSize
from .fileio import read_no_follow, write_atomic
from .outputs import ARTIFACTS, STAMP_NAME, ZIP_NAME
from .package import sha256_file
from .plan import Target

__all__ = ["Stamp", "StampResult", "input_key", "up_to_date", "write_stamp"]


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


class Stamp(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)

    key: str
    sha256: str
    result: StampResult


def input_key(target: Target, fingerprint: str, requirements: str) -> str:
    """Everything that decides the zip's bytes; equal keys mean an identical build."""
    material = {
        "layerctl": __version__,
        "runtime": target.runtime.model_dump(),
        "arch": target.arch.value,
        "builder": target.builder,
        "executor": fingerprint,
        "tool": target.layer.tool.value,
        "settings": target.settings.model_dump(mode="json", exclude={"python", "arch", "output"}),
        "requirements": requirements,
        "source_date_epoch": os.environ.get("SOURCE_DATE_EPOCH", ""),
    }
    return hashlib.sha256(json.dumps(material, sort_keys=True).encode()).hexdigest()


def up_to_date(out: Path, key: str) -> Stamp | None:
    """The last good build's stamp if its inputs equal ``key`` and its zip is intact. A stamp
    that cannot be read, is a link, or has fields of the wrong type counts as no stamp."""
    try:
        stamp = Stamp.model_validate_json(read_no_follow(out / STAMP_NAME))
        zip_path = out / ZIP_NAME
        if stamp.key != key or zip_path.is_symlink() or not (out / ARTIFACTS / "python").is_dir():
            return None
        if sha256_file(zip_path) != stamp.sha256:
            return None
    except (OSError, ValueError):  # pydantic's ValidationError is a ValueError
        return None
    return stamp


def write_stamp(out: Path, key: str, made: StampResult) -> None:
    write_atomic(out / STAMP_NAME, Stamp(key=key, sha256=made.sha256, result=made).model_dump_json(indent=2))
