"""``fileio.temp_file`` / ``temp_dir``: what ``tempfile.mkstemp`` / ``mkdtemp`` promise — a new
entry made exclusively, private, never through a link, a taken name tried again — with names a
killed run's sweep recognises as its leftovers."""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest

from orchestrator.core.fileio import temp_dir, temp_file
from orchestrator.core.outputs import remove_leftovers


def test_a_temp_file_is_new_private_and_open_for_reading_and_writing(tmp_path: Path) -> None:
    fd, path = temp_file(tmp_path, ".layer.zip.", ".tmp")
    try:
        os.write(fd, b"zip")
        os.lseek(fd, 0, os.SEEK_SET)
        assert os.read(fd, 3) == b"zip"
    finally:
        os.close(fd)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert path.parent == tmp_path and path.name.startswith(".layer.zip.") and path.name.endswith(".tmp")
    assert len(path.name) == len(".layer.zip.") + 8 + len(".tmp")


def test_a_temp_dir_is_new_and_private(tmp_path: Path) -> None:
    path = temp_dir(tmp_path, ".staging-")
    assert path.is_dir() and stat.S_IMODE(path.stat().st_mode) == 0o700
    assert path.name.startswith(".staging-") and len(path.name) == len(".staging-") + 8


def test_the_names_are_swept_as_leftovers(tmp_path: Path) -> None:
    os.close(temp_file(tmp_path, ".layer.zip.", ".tmp")[0])
    os.close(temp_file(tmp_path, "..layerctl-stamp.json.", ".tmp")[0])
    temp_dir(tmp_path, ".staging-")
    assert len(remove_leftovers(tmp_path)) == 3
    assert list(tmp_path.iterdir()) == []


def test_a_taken_name_or_a_link_at_it_is_passed_over(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    outside = tmp_path / "outside"
    outside.write_text("keep\n")
    (tmp_path / ".f.00000000.tmp").write_text("someone's\n")
    os.symlink(outside, tmp_path / ".f.01010101.tmp")
    draws: Iterator[bytes] = iter([b"\0\0\0\0", b"\1\1\1\1", b"\2\2\2\2"])
    monkeypatch.setattr(os, "urandom", lambda n: next(draws))
    fd, path = temp_file(tmp_path, ".f.", ".tmp")
    os.close(fd)
    assert path.name == ".f.02020202.tmp"
    assert (tmp_path / ".f.00000000.tmp").read_text() == "someone's\n"
    assert outside.read_text() == "keep\n"
