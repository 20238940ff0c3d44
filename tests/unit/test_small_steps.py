"""``steps.small``: the bounded walk that decides whether a step's file work runs on the event
loop. A tree of a few files is small; one entry or one byte over the bounds, a symlink, or an
old zip that is too large is not; a missing path holds nothing."""

from __future__ import annotations

import os
from pathlib import Path

from orchestrator.building.steps import SMALL_BYTES, SMALL_ENTRIES, small


def _files(root: Path, count: int, size: int = 10) -> Path:
    (root / "pkg").mkdir(parents=True)
    for i in range(count - 1):  # the directory is an entry too
        (root / "pkg" / f"m{i}.py").write_bytes(b"x" * size)
    return root


def test_a_tree_at_the_bounds_is_small_and_one_entry_more_is_not(tmp_path: Path) -> None:
    assert small(_files(tmp_path / "a", SMALL_ENTRIES))
    assert not small(_files(tmp_path / "b", SMALL_ENTRIES + 1))


def test_bytes_over_the_bound_are_not_small(tmp_path: Path) -> None:
    tree = _files(tmp_path / "a", 2, size=SMALL_BYTES)
    assert small(tree)
    (tree / "pkg" / "one-more").write_bytes(b"x")
    assert not small(tree)


def test_an_empty_or_missing_tree_is_small(tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    assert small(tmp_path / "empty", tmp_path / "missing")


def test_a_symlink_is_never_small(tmp_path: Path) -> None:
    tree = _files(tmp_path / "a", 2)
    os.symlink("pkg", tree / "link")
    assert not small(tree)


def test_the_trees_and_files_count_together(tmp_path: Path) -> None:
    tree = _files(tmp_path / "a", 2, size=SMALL_BYTES // 2)
    old_zip = tmp_path / "layer.zip"
    old_zip.write_bytes(b"x" * (SMALL_BYTES // 2))
    assert small(tree, old_zip)
    old_zip.write_bytes(b"x" * (SMALL_BYTES // 2 + 10))
    assert not small(tree, old_zip)
