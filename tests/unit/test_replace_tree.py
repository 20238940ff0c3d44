"""``fileio.replace_tree``: the staging tree takes the name in one rename whatever was there —
nothing, an empty or a full directory, a file, a link (replaced, never followed) — and nothing
of the old tree or of the staging tree is left beside it."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from orchestrator.core.fileio import replace_tree


def _staging(root: Path) -> Path:
    staging = root / ".staging-x"
    (staging / "python").mkdir(parents=True)
    (staging / "python" / "new.py").write_text("NEW = 1\n")
    staging.chmod(0o700)
    return staging


def _old_dir(dest: Path, *, full: bool) -> None:
    dest.mkdir()
    if full:
        (dest / "python").mkdir()
        (dest / "python" / "old.py").write_text("OLD = 1\n")


def _old_file(dest: Path) -> None:
    dest.write_text("a file\n")


@pytest.mark.parametrize("old", ["nothing", "empty", "full", "file", "link"])
def test_the_staging_tree_takes_the_name_whatever_was_there(tmp_path: Path, old: str) -> None:
    outside = tmp_path / "outside"
    _old_dir(outside, full=True)
    out = tmp_path / "out"
    out.mkdir()
    dest = out / "artifacts"
    if old in ("empty", "full"):
        _old_dir(dest, full=old == "full")
    elif old == "file":
        _old_file(dest)
    elif old == "link":
        os.symlink(outside, dest)
    staging = _staging(out)

    replace_tree(staging, dest)

    assert not dest.is_symlink()
    assert sorted(p.name for p in (dest / "python").iterdir()) == ["new.py"]
    assert dest.stat().st_mode & 0o777 == 0o755
    left = sorted(p.name for p in out.iterdir() if p.name != "artifacts")
    if old == "file":  # moved aside under a leftover's name (the next run's sweep removes it)
        assert len(left) == 1 and left[0].startswith(".artifacts-old-")
    else:
        assert left == []  # no old tree, no staging
    assert (outside / "python" / "old.py").read_text() == "OLD = 1\n"  # a link is never followed
