"""Issue 16, item 6: input the operating system or the parsers refuse is one line and a documented
exit code, never exit 70: paths with a NUL or too long as a whole, files nested deeper than any
real one, a report.json that is no regular file or is too large, image templates that reach into
their values."""

from __future__ import annotations

import json
import os
import signal
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from orchestrator.building.buildcache.local import LocalCache
from orchestrator.core.errors import EXIT_USAGE, ConfigError
from orchestrator.core.fileio import MAX_DEPTH, MAX_READ, read_json, read_no_follow
from orchestrator.core.settings import LayerSettings
from orchestrator.workspace.config import read_toml, validate
from tests.support.cli import invoke

DEEP_TOML = "x = " + "[" * 3000 + "]" * 3000 + "\n"
DEEP_TABLE = "x = " + "{a = " * 3000 + "1" + "}" * 3000 + "\n"
DEEP_JSON = "[" * 100_000 + "]" * 100_000
LONG = "a/" * 2100 + "x"  # every part short, the whole past PATH_MAX (4096)
BUILD = ["build-all", "--builder", "native", "--arch", "x86_64", "--index-url", "http://127.0.0.1:9/simple"]


@contextmanager
def within(seconds: int) -> Iterator[None]:
    def alarm(signum: int, frame: object) -> None:
        raise AssertionError(f"no answer after {seconds} s")

    previous = signal.signal(signal.SIGALRM, alarm)
    signal.alarm(seconds)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)


def one_line(result: object, exit_code: int = EXIT_USAGE) -> str:
    stderr: str = result.stderr  # type: ignore[attr-defined]
    assert result.exit_code == exit_code, stderr  # type: ignore[attr-defined]
    lines = stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("layerctl: error: "), stderr
    assert "bug in layerctl" not in stderr
    return lines[0]


# --- paths ---------------------------------------------------------------------------------


@pytest.mark.parametrize("key", ["output", "report-dir", "cache-dir", "ca-bundle"])
@pytest.mark.parametrize(("value", "words"), [("a\x00b", "NUL"), (LONG, "4095 bytes"), ("x" * 300, "255")])
def test_a_path_setting_the_os_refuses_is_one_line(
    make_workspace: Callable[..., Path], key: str, value: str, words: str
) -> None:
    root = make_workspace(f"{key} = {json.dumps(value)}\n", {"a": "[project]\nname='a'\nversion='1'\n"})
    line = one_line(invoke(["-C", str(root), *BUILD]))
    assert f"'{key}'" in line and words in line and "pyproject.toml" in line


@pytest.mark.parametrize("key", ["report-dir", "cache-dir", "ca-bundle"])
def test_a_path_variable_too_long_is_one_line(make_workspace: Callable[..., Path], key: str) -> None:
    root = make_workspace()
    variable = "LAYERCTL_" + key.upper().replace("-", "_")
    line = one_line(invoke(["-C", str(root), *BUILD], env={variable: LONG}))
    assert variable in line and "4095 bytes" in line


def test_a_ca_bundle_flag_too_long_is_one_line(make_workspace: Callable[..., Path]) -> None:
    line = one_line(invoke(["-C", str(make_workspace()), *BUILD, "--ca-bundle", LONG]))
    assert "--ca-bundle" in line and "4095 bytes" in line


def test_a_directory_with_no_room_below_it_is_refused(make_workspace: Callable[..., Path]) -> None:
    """A value short enough on its own, but too long once under the workspace with room for the
    files layerctl writes inside."""
    value = "b/" * 1700 + "x"
    root = make_workspace(f"report-dir = {json.dumps(value)}\n", {"a": "[project]\nname='a'\nversion='1'\n"})
    line = one_line(invoke(["-C", str(root), *BUILD]))
    assert "'report-dir'" in line and "bytes" in line


@pytest.mark.parametrize("start", [LONG, "/" + LONG, "x" * 300])
def test_a_start_directory_the_os_refuses_is_one_line(start: str) -> None:
    line = one_line(invoke(["-C", start, "list"]))
    assert "-C" in line


# --- nesting --------------------------------------------------------------------------------


@pytest.mark.parametrize("deep", [DEEP_TOML, DEEP_TABLE, "x = " + "[" * 150 + "]" * 150 + "\n"])
def test_toml_nested_too_deeply_is_a_config_error(tmp_path: Path, deep: str) -> None:
    path = tmp_path / "x.toml"
    path.write_text(deep)
    with pytest.raises(ConfigError, match=rf"x\.toml: not valid TOML: nested more than {MAX_DEPTH} levels"):
        read_toml(path)


def test_toml_nested_a_little_is_read(tmp_path: Path) -> None:
    path = tmp_path / "x.toml"
    path.write_text("x = " + "[" * 20 + "]" * 20 + "\n")
    assert "x" in read_toml(path)


@pytest.mark.parametrize("deep", [DEEP_TOML, DEEP_TABLE])
def test_the_workspace_file_nested_too_deeply_is_one_line(
    make_workspace: Callable[..., Path], deep: str
) -> None:
    root = make_workspace(deep)
    assert "nested more than" in one_line(invoke(["-C", str(root), "list", "--no-decide"]))


@pytest.mark.parametrize("name", ["pyproject.toml", "uv.lock", "poetry.lock", "pylock.toml"])
def test_a_layer_file_nested_too_deeply_breaks_only_that_layer(
    make_workspace: Callable[..., Path], name: str
) -> None:
    root = make_workspace("", {"bad": "", "good": "[project]\nname='good'\nversion='1'\ndependencies=[]\n"})
    bad = root / "layers" / "bad" / name
    bad.write_text((bad.read_text() if bad.exists() else "") + DEEP_TOML)
    result = invoke(["-C", str(root), *BUILD, "--keep-going"])
    assert result.exit_code in (1, EXIT_USAGE), result.stderr
    assert "bug in layerctl" not in result.stderr and "Traceback" not in result.output
    rows = {
        row["id"]: row for row in json.loads((root / "build/layerctl/report.json").read_text())["targets"]
    }
    assert rows["good:py3.12-x86_64"]["status"] == "built"
    assert rows["bad:py3.12-x86_64"]["status"] == "failed"
    error = rows["bad:py3.12-x86_64"]["error"]
    assert f"layers/bad/{name}: " in error
    assert name == "uv.lock" or "nested more than 100 levels" in error  # uv reads its lock itself


# --- report.json and other read files -------------------------------------------------------


def _report_dir(root: Path) -> Path:
    path = root / "build" / "layerctl"
    path.mkdir(parents=True)
    return path


@pytest.mark.parametrize(
    ("make", "words"),
    [
        (lambda p: p.write_text(DEEP_JSON), "nested more than"),
        (
            lambda p: p.write_text('{"schema": "layerctl-report/2", "x": ' + DEEP_JSON + "}"),
            "nested more than",
        ),
        (lambda p: p.mkdir(), "not a regular file"),
        (lambda p: os.mkfifo(p), "not a regular file"),
        (lambda p: p.symlink_to("/dev/zero"), "not a regular file"),
        (lambda p: os.truncate(p.open("w").name, MAX_READ + 1), "larger than"),
    ],
    ids=["deep", "deep-inside", "directory", "fifo", "device", "huge"],
)
def test_a_report_that_is_no_json_file_is_one_line(
    make_workspace: Callable[..., Path], make: Callable[[Path], object], words: str
) -> None:
    root = make_workspace()
    make(_report_dir(root) / "report.json")
    with within(20):
        line = one_line(invoke(["-C", str(root), "report"]))
    assert "report.json" in line and words in line


def test_a_device_named_as_the_report_is_one_line() -> None:
    with within(20):
        assert "not a regular file" in one_line(invoke(["report", "/dev/zero"]))


def test_read_json_reads_a_plain_file(tmp_path: Path) -> None:
    (tmp_path / "x.json").write_text('{"a": [[1]]}')
    assert read_json(tmp_path / "x.json") == {"a": [[1]]}


@pytest.mark.parametrize("make", [lambda p: os.mkfifo(p), lambda p: p.mkdir()], ids=["fifo", "directory"])
def test_a_stamp_that_is_no_regular_file_counts_as_none(
    tmp_path: Path, make: Callable[[Path], object]
) -> None:
    make(tmp_path / ".layerctl-stamp.json")
    with within(20):
        assert LocalCache(tmp_path).last() is None
        with pytest.raises(OSError, match="not a regular file"):
            read_no_follow(tmp_path / ".layerctl-stamp.json")


def test_a_toml_file_that_is_a_fifo_does_not_hang(tmp_path: Path) -> None:
    os.mkfifo(tmp_path / "uv.lock")
    with within(20), pytest.raises(ConfigError, match=r"uv\.lock: cannot read it \(not a regular file"):
        read_toml(tmp_path / "uv.lock")


# --- image templates ------------------------------------------------------------------------


@pytest.mark.parametrize(
    "template",
    [
        "{python.x}",
        "{python.__class__}",
        "{arch:>300}",
        "{python!r}",
        "{python[0]}",
        "{0}",
        "{}",
        "{nope}",
        "{",
    ],
)
@pytest.mark.parametrize("key", ["image", "verify-image"])
def test_an_image_template_takes_plain_placeholders_only(key: str, template: str) -> None:
    with pytest.raises(ConfigError, match=r"may use only the placeholders \{python\}, \{arch\}"):
        validate(LayerSettings, {key: template}, "here")


def test_an_image_template_with_attribute_access_is_one_line(make_workspace: Callable[..., Path]) -> None:
    root = make_workspace('image = "img:{python.x}"\n')
    line = one_line(invoke(["-C", str(root), "list", "--no-decide", "--builder", "container"]))
    assert "'image'" in line
    assert "{python.x}" in one_line(invoke(["-C", str(root), "verify", "--image", "{python.x}"]))


def test_a_plain_image_template_is_kept() -> None:
    assert validate(LayerSettings, {"image": "reg/img:{python}-{arch}"}, "here") == {
        "image": "reg/img:{python}-{arch}"
    }


@pytest.mark.parametrize(
    "url", ["http://127.0.0.1:9/\x00", "http://127.0.0.1:9/a b", "http://127.0.0.1:9/\n"]
)
def test_an_index_url_with_a_space_or_control_character_is_refused(url: str) -> None:
    with pytest.raises(ConfigError, match="'index-url': must be a URL without spaces or control characters"):
        validate(LayerSettings, {"index-url": url}, "here")


def test_a_path_setting_that_is_not_utf8_is_one_line(make_workspace: Callable[..., Path]) -> None:
    """Bytes a path may hold but no UTF-8 report or log can (an environment's undecodable bytes)."""
    root = make_workspace("", {"a": "[project]\nname='a'\nversion='1'\n"})
    line = one_line(invoke(["-C", str(root), *BUILD], env={"LAYERCTL_OUTPUT": "\udced\udca0\udc80"}))
    assert "LAYERCTL_OUTPUT" in line and "UTF-8" in line
    assert not (root / "layers" / "a" / os.fsdecode(b"\xed\xa0\x80")).exists()


UV_LOCK = 'version = 1\nrequires-python = ">=3.10"\n\n[[package]]\nname = "a"\nversion = "1"\nsource = { virtual = "." }\n'


@pytest.mark.parametrize("kind", ["fifo", "directory"])
def test_a_uv_input_that_is_no_regular_file_fails_its_target_at_once(
    make_workspace: Callable[..., Path], kind: str
) -> None:
    """The files of a uv layer hashed for freshness: a FIFO hung the run (and would hang uv)."""
    root = make_workspace("", {"a": "[project]\nname='a'\nversion='1'\ndependencies=[]\n"})
    (root / "layers/a/uv.lock").write_text(UV_LOCK)
    path = root / "layers/a/uv.toml"
    os.mkfifo(path) if kind == "fifo" else path.mkdir()
    with within(60):
        result = invoke(["-C", str(root), *BUILD])
    assert result.exit_code == EXIT_USAGE, result.output
    assert "layers/a/uv.toml: cannot read it (not a regular file" in result.output
