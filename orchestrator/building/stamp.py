"""The stamp of a target's last good build (``.layerctl-stamp.json``): its input key
(``inputkey.py``) with what the key is made of, and what the build made. A stamp of another
format (an older layerctl's) is read, and rebuilds once: "layerctl's stamp format changed".

The models only: a stamp is the record of a build cache's entry (``buildcache/``), and stamps
are read and written in one place, ``buildcache/local.py``."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict

from ..core.events import PackageSize
from ..core.outputs import ZIP_NAME

__all__ = ["STAMP_FORMAT", "Offline", "Stamp", "StampResult"]


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
    engine: str | None = None  # the Docker engine a container build ran on


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
