"""``fileio.write_new``: a file of this run's own written once — mode 0644 whatever the umask
(as ``write_atomic`` leaves a file, so a staged requirements.txt is the same either way), never
over an existing file and never through a link."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from orchestrator.core.fileio import write_atomic, write_new


def test_the_file_has_the_text_and_write_atomics_mode_under_a_strict_umask(tmp_path: Path) -> None:
    old = os.umask(0o077)
    try:
        write_new(tmp_path / "new.txt", "six==1.17.0\n")
        write_atomic(tmp_path / "atomic.txt", "six==1.17.0\n")
    finally:
        os.umask(old)
    assert (tmp_path / "new.txt").read_text() == "six==1.17.0\n"
    modes = {stat.S_IMODE((tmp_path / name).stat().st_mode) for name in ("new.txt", "atomic.txt")}
    assert modes == {0o644}


def test_an_existing_file_or_a_link_at_the_name_is_refused(tmp_path: Path) -> None:
    (tmp_path / "there").write_text("keep")
    (tmp_path / "elsewhere").write_text("keep too")
    (tmp_path / "link").symlink_to(tmp_path / "elsewhere")
    for name in ("there", "link"):
        with pytest.raises(FileExistsError):
            write_new(tmp_path / name, "new")
    assert (tmp_path / "there").read_text() == "keep"
    assert (tmp_path / "elsewhere").read_text() == "keep too"
