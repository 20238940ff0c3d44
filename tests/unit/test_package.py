"""Deterministic, atomic layer zips."""

from __future__ import annotations

import os
import stat
import zipfile
from pathlib import Path

import pytest

from orchestrator.core.errors import PackageError
from orchestrator.package import zip as package
from orchestrator.package.zip import collect, exclude_patterns, write_zip


def make_tree(root: Path) -> Path:
    files = {
        "pkg/__init__.py": "x = 1\n",
        "pkg/native.so": "\0" * 1000,
        "pkg/__pycache__/__init__.cpython-312.pyc": "junk",
        "pkg/data/big.txt": "abc" * 100_000,
        "pkg-1.0.dist-info/RECORD": "",
        "boto3/__init__.py": "",
        "boto3-1.0.dist-info/METADATA": "",
        "botocore/data.json": "{}",
        "bin/tool": "#!/bin/sh\n",
        ".lock": "",
    }
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    (root / "bin/tool").chmod(0o700)
    (root / "pkg/__init__.py").chmod(0o600)
    return root


def zip_names(path: Path) -> list[str]:
    with zipfile.ZipFile(path) as zf:
        return zf.namelist()


def test_same_tree_gives_identical_bytes_whatever_the_mtimes(tmp_path: Path) -> None:
    tree = make_tree(tmp_path / "a")
    patterns = exclude_patterns([], runtime_provided=False, keep_bytecode=False)
    first = write_zip(collect(tree, patterns), tmp_path / "1.zip")
    for path in tree.rglob("*"):
        os.utime(path, (1_700_000_000, 1_700_000_000))
    second = write_zip(collect(tree, patterns), tmp_path / "2.zip")
    assert first.sha256 == second.sha256
    assert (tmp_path / "1.zip").read_bytes() == (tmp_path / "2.zip").read_bytes()


def test_entries_sorted_prefixed_timestamps_and_modes_normalised(tmp_path: Path) -> None:
    tree = make_tree(tmp_path / "t")
    result = write_zip(
        collect(tree, exclude_patterns([], runtime_provided=False, keep_bytecode=False)), tmp_path / "l.zip"
    )
    with zipfile.ZipFile(result.path) as zf:
        infos = zf.infolist()
        names = [i.filename for i in infos]
        assert names == sorted(names) and all(n.startswith("python/") for n in names)
        assert {i.date_time for i in infos} == {(1980, 1, 1, 0, 0, 0)}
        modes = {i.filename: stat.S_IMODE(i.external_attr >> 16) for i in infos}
        assert modes["python/bin/tool"] == 0o755
        assert modes["python/pkg/__init__.py"] == 0o644
        assert zf.read("python/pkg/data/big.txt") == b"abc" * 100_000
    assert "python/pkg/__pycache__/__init__.cpython-312.pyc" not in names
    assert "python/.lock" not in names
    assert result.unzipped_size == sum(e.size for e in collect(tree, ["__pycache__/", "/.lock"]))


def test_source_date_epoch(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    tree = make_tree(tmp_path / "t")
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "1700000000")
    result = write_zip(collect(tree, []), tmp_path / "l.zip")
    with zipfile.ZipFile(result.path) as zf:
        assert {i.date_time for i in zf.infolist()} == {(2023, 11, 14, 22, 13, 20)}


def test_runtime_provided_preset_and_user_excludes(tmp_path: Path) -> None:
    tree = make_tree(tmp_path / "t")
    patterns = exclude_patterns(["*.txt", "bin/"], runtime_provided=True, keep_bytecode=False)
    names = [e.name for e in collect(tree, patterns)]
    assert names == ["pkg-1.0.dist-info/RECORD", "pkg/__init__.py", "pkg/native.so"]


def test_bytecode_kept_when_asked(tmp_path: Path) -> None:
    tree = make_tree(tmp_path / "t")
    names = [e.name for e in collect(tree, exclude_patterns([], runtime_provided=False, keep_bytecode=True))]
    assert "pkg/__pycache__/__init__.cpython-312.pyc" in names


def test_over_the_unzipped_limit_is_an_error_and_writes_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    tree = make_tree(tmp_path / "t")
    monkeypatch.setattr(package, "UNZIPPED_LIMIT", 1000)
    with pytest.raises(PackageError, match="over Lambda's limit of 1,000"):
        write_zip(collect(tree, []), tmp_path / "l.zip")
    assert list(tmp_path.glob("*.zip*")) == []


def test_direct_upload_warning_flag(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    tree = make_tree(tmp_path / "t")
    result = write_zip(collect(tree, []), tmp_path / "l.zip")
    assert not result.over_direct_upload_limit
    monkeypatch.setattr(package, "DIRECT_UPLOAD_LIMIT", 10)
    assert result.over_direct_upload_limit


def test_a_failed_write_keeps_the_previous_zip(tmp_path: Path) -> None:
    tree = make_tree(tmp_path / "t")
    dest = tmp_path / "layer.zip"
    good = write_zip(collect(tree, []), dest)
    calls = 0

    def cancel_midway() -> None:
        nonlocal calls
        calls += 1
        if calls == 3:
            raise KeyboardInterrupt

    (tree / "pkg/new.py").write_text("changed")
    with pytest.raises(KeyboardInterrupt):
        write_zip(collect(tree, []), dest, check_cancelled=cancel_midway)
    assert package.sha256_file(dest) == good.sha256
    assert sorted(p.name for p in tmp_path.iterdir()) == ["layer.zip", "t"]  # no temp file left


def test_stored_when_level_zero(tmp_path: Path) -> None:
    tree = make_tree(tmp_path / "t")
    result = write_zip(collect(tree, []), tmp_path / "l.zip", level=0)
    with zipfile.ZipFile(result.path) as zf:
        assert {i.compress_type for i in zf.infolist()} == {zipfile.ZIP_STORED}


def test_a_link_inside_the_tree_is_stored_as_what_it_points_to(tmp_path: Path) -> None:
    tree = tmp_path / "t"
    (tree / "pkg/sub").mkdir(parents=True)
    (tree / "pkg/real.py").write_text("x = 1\n")
    (tree / "pkg/sub/data.txt").write_text("data\n")
    (tree / "pkg/alias.py").symlink_to("real.py")
    (tree / "pkg/subalias").symlink_to("sub", target_is_directory=True)
    result = write_zip(collect(tree, []), tmp_path / "l.zip")
    with zipfile.ZipFile(result.path) as zf:
        assert zf.read("python/pkg/alias.py") == b"x = 1\n"
        assert zf.read("python/pkg/subalias/data.txt") == b"data\n"  # no longer silently dropped
        info = zf.getinfo("python/pkg/alias.py")
        assert stat.S_ISREG(info.external_attr >> 16)


@pytest.mark.parametrize("kind", ["file", "dir", "dangling", "absolute"])
def test_a_link_out_of_the_tree_fails_with_its_path(tmp_path: Path, kind: str) -> None:
    outside = tmp_path / "outside"
    (outside / "d").mkdir(parents=True)
    (outside / "secret.txt").write_text("not for the zip\n")
    (outside / "d/key.pem").write_text("not for the zip\n")
    tree = tmp_path / "t"
    (tree / "pkg").mkdir(parents=True)
    link = tree / "pkg/link"
    if kind == "file":
        link.symlink_to("../../outside/secret.txt")
    elif kind == "dir":
        link.symlink_to("../../outside/d", target_is_directory=True)
    elif kind == "dangling":
        link.symlink_to("missing.txt")
    else:
        link.symlink_to(outside / "secret.txt")
    with pytest.raises(PackageError) as caught:
        collect(tree, [])
    assert "pkg/link" in str(caught.value)
    assert ("missing" if kind == "dangling" else "outside") in str(caught.value)


def test_a_link_loop_fails_instead_of_recursing(tmp_path: Path) -> None:
    tree = tmp_path / "t"
    (tree / "pkg").mkdir(parents=True)
    (tree / "pkg/up").symlink_to("..", target_is_directory=True)
    with pytest.raises(PackageError, match="pkg/up"):
        collect(tree, [])


def test_excluded_links_are_not_followed(tmp_path: Path) -> None:
    tree = tmp_path / "t"
    (tree / "pkg").mkdir(parents=True)
    (tree / "pkg/a.py").write_text("")
    (tree / "pkg/link").symlink_to("/etc/passwd")
    names = [e.name for e in collect(tree, ["pkg/link"])]
    assert names == ["pkg/a.py"]


@pytest.mark.parametrize("value", ["99999999999", "4354819200", "-1", "1e9", "soon"])
def test_source_date_epoch_outside_the_zip_range_is_one_line(
    value: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from orchestrator.core.errors import ConfigError

    monkeypatch.setenv("SOURCE_DATE_EPOCH", value)
    with pytest.raises(ConfigError, match="SOURCE_DATE_EPOCH"):
        package.zip_date_time()


def test_source_date_epoch_before_1980_is_clamped(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "0")
    assert package.zip_date_time() == (1980, 1, 1, 0, 0, 0)
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "4354819199")
    assert package.zip_date_time()[0] == 2107


@pytest.mark.parametrize("level", [1, 6, 9])
def test_each_entry_is_deflated_at_the_level_asked(tmp_path: Path, level: int) -> None:
    """compression-level was ignored: every zip was deflated at zlib's default whatever the
    setting (levels 1, 6 and 9 gave identical bytes)."""
    import random
    import zlib

    tree = tmp_path / "t"
    rng = random.Random(1)  # a text whose sizes differ at 1, 6 and 9
    words = ["".join(rng.choice("abcdefghij") for _ in range(rng.randint(3, 9))) for _ in range(400)]
    text = " ".join(rng.choice(words) for _ in range(40_000))
    (tree / "pkg").mkdir(parents=True)
    (tree / "pkg" / "words.txt").write_text(text)
    result = write_zip(collect(tree, []), tmp_path / "l.zip", level=level)
    deflate = zlib.compressobj(level, zlib.DEFLATED, -15)
    expected = len(deflate.compress(text.encode()) + deflate.flush())
    with zipfile.ZipFile(result.path) as zf:
        assert [i.compress_size for i in zf.infolist()] == [expected]
