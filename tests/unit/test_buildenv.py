"""A local sdist's build system, read on the host without extracting anything (buildenv.py): its
pyproject.toml's ``[build-system]``, pip's legacy assumptions without one, and None (pip builds
it as it would) for whatever layerctl should not guess about."""

from __future__ import annotations

import io
import tarfile
from pathlib import Path

import pytest

from orchestrator.building.buildenv import LEGACY, BuildSystem, read_build_system


def sdist(tmp_path: Path, files: dict[str, str], name: str = "pkg-1.0.tar.gz") -> Path:
    out = tmp_path / name
    with tarfile.open(out, "w:gz") as tar:
        for path, text in files.items():
            data = text.encode()
            info = tarfile.TarInfo(path)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return out


@pytest.mark.parametrize(
    ("pyproject", "expected"),
    [
        (
            '[build-system]\nrequires = ["setuptools>=61", "cython"]\nbuild-backend = "setuptools.build_meta"\n',
            BuildSystem(("setuptools>=61", "cython"), "setuptools.build_meta"),
        ),
        (
            '[build-system]\nrequires = ["flit_core"]\nbuild-backend = "backend:hooks"\nbackend-path = ["_b"]\n',
            BuildSystem(("flit_core",), "backend:hooks", ("_b",)),
        ),
        # PEP 518 without a backend: the legacy setuptools backend with these requirements
        ('[build-system]\nrequires = ["setuptools<60"]\n', BuildSystem(("setuptools<60",), LEGACY.backend)),
        ('[project]\nname = "pkg"\n', LEGACY),  # no [build-system]
        ('[build-system]\nrequires = "setuptools"\n', None),  # not a list
        ('[build-system]\nrequires = []\nbuild-backend = "x; import os"\n', None),  # not a module path
        ('[build-system]\nrequires = []\nbuild-backend = "b"\nbackend-path = ["../up"]\n', None),
        ("[build-system\n", None),  # not TOML
    ],
)
def test_the_build_system_is_read_from_pyproject(tmp_path: Path, pyproject: str, expected: object) -> None:
    path = sdist(tmp_path, {"pkg-1.0/pyproject.toml": pyproject, "pkg-1.0/setup.py": ""})
    assert read_build_system(path) == expected


def test_without_pyproject_it_is_a_legacy_setuptools_build(tmp_path: Path) -> None:
    assert read_build_system(sdist(tmp_path, {"pkg-1.0/setup.py": ""})) == LEGACY


def test_what_is_not_one_readable_tar_gz_tree_is_left_to_pip(tmp_path: Path) -> None:
    two_tops = sdist(tmp_path, {"a/setup.py": "", "b/setup.py": ""})
    assert read_build_system(two_tops) is None
    zipped = tmp_path / "pkg-1.0.zip"
    zipped.write_bytes(b"PK\x05\x06" + b"\0" * 18)
    assert read_build_system(zipped) is None
    broken = tmp_path / "pkg-2.0.tar.gz"
    broken.write_bytes(b"not gzip")
    assert read_build_system(broken) is None
