"""Never destroy, never ship the wrong thing (issue 8): outputs stay inside what layerctl made,
symlinks are never followed out of a tree, leftovers of killed runs are cleaned, and one run at a
time works on a workspace. Each test reproduces a case that once deleted or overwrote a user's
files; a canary outside the workspace and the layer's own files must survive every command."""

from __future__ import annotations

import fcntl
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from orchestrator.package.zip import sha256_file

from .conftest import layerctl, report

pytestmark = pytest.mark.integration

SLUG = "py3.12-x86_64"
PROJECT_FILES = {"pyproject.toml", "data.csv", "src/app/__init__.py", "README.md"}


def workspace(
    tmp_path: Path,
    *,
    layer: str = "",
    root_settings: str = "",
    deps: str = '["six==1.16.0"]',
) -> tuple[Path, Path, Path]:
    """A workspace with one layer `p` (one target), its project files, and a canary outside it."""
    root = tmp_path / "ws"
    (root / "layers/p/src/app").mkdir(parents=True)
    (root / "pyproject.toml").write_text(
        '[tool.layerctl]\npython = ["3.12"]\narch = ["x86_64"]\nbuilder = "native"\n' + root_settings
    )
    p = root / "layers/p"
    (p / "pyproject.toml").write_text(
        f'[project]\nname = "p"\nversion = "1"\ndependencies = {deps}\n'
        + (f"\n[tool.layerctl]\n{layer}" if layer else "")
    )
    (p / "data.csv").write_text("a,b\n1,2\n")
    (p / "src/app/__init__.py").write_text("VALUE = 1\n")
    (p / "README.md").write_text("keep me\n")
    canary = tmp_path / "outside" / "canary.txt"
    canary.parent.mkdir()
    canary.write_text("canary\n")
    return root, p, canary


def assert_untouched(layer: Path, canary: Path) -> None:
    for name in PROJECT_FILES:
        assert (layer / name).is_file(), f"{name} was deleted"
    assert (layer / "README.md").read_text() == "keep me\n"
    assert canary.read_text() == "canary\n"
    assert sorted(p.name for p in canary.parent.iterdir()) == ["canary.txt"]


def one_line_error(result: subprocess.CompletedProcess[str], code: int, *words: str) -> None:
    assert result.returncode == code, result.stdout[-2000:] + result.stderr
    assert result.stderr.startswith("layerctl: error: ") and result.stderr.count("\n") == 1, result.stderr
    assert "Traceback" not in result.stderr
    for word in words:
        assert word in result.stderr, result.stderr


@pytest.mark.parametrize("output", [".", "./", "src", "src/app", "build/.."])
def test_clean_and_build_never_touch_project_files(tmp_path: Path, output: str) -> None:
    root, layer, canary = workspace(tmp_path, layer=f'output = "{output}"\n')
    cleaned = layerctl("-C", str(root), "clean")
    assert cleaned.returncode in (0, 2), cleaned.stderr
    assert "Traceback" not in cleaned.stderr
    assert_untouched(layer, canary)
    built = layerctl("-C", str(root), "build-all")
    if built.stderr:  # refused before the run
        one_line_error(built, 2, "output")
    else:  # the layer's own settings are invalid: its targets fail (exit 2), nothing is written
        assert built.returncode == 2, built.stdout
        assert all("output" in row["error"] for row in report(root)["targets"])
    assert_untouched(layer, canary)


def test_output_from_the_environment_is_checked_too(tmp_path: Path) -> None:
    root, layer, canary = workspace(tmp_path)
    env = {**os.environ, "LAYERCTL_OUTPUT": "."}
    assert layerctl("-C", str(root), "clean", env=env).returncode in (0, 2)
    assert_untouched(layer, canary)
    one_line_error(layerctl("-C", str(root), "build-all", env=env), 2, "output")
    assert_untouched(layer, canary)


@pytest.mark.parametrize("report_dir", ["/REPLACED", "../outside", ".", "layers", "layers/p"])
def test_report_dir_stays_inside_the_workspace(tmp_path: Path, report_dir: str) -> None:
    root, layer, canary = workspace(tmp_path)
    if report_dir == "/REPLACED":
        report_dir = str(canary.parent)
    (canary.parent / "report.json").write_text("{}")  # someone else's file named like ours
    with (root / "pyproject.toml").open("a") as fh:
        fh.write(f'report-dir = "{report_dir}"\n')
    one_line_error(layerctl("-C", str(root), "build-all"), 2, "report-dir")
    result = layerctl("-C", str(root), "clean")
    assert "Traceback" not in result.stderr
    assert (canary.parent / "report.json").read_text() == "{}"
    (canary.parent / "report.json").unlink()
    assert_untouched(layer, canary)


def test_cache_dir_must_not_hold_project_files(tmp_path: Path) -> None:
    root, layer, canary = workspace(tmp_path, root_settings='cache-dir = "layers/p"\n')
    one_line_error(layerctl("-C", str(root), "build-all"), 2, "cache-dir")
    assert_untouched(layer, canary)
    settings = (root / "pyproject.toml").read_text()
    for inside_or_around_a_layer in ("layers/p/cache", "layers", "."):
        (root / "pyproject.toml").write_text(
            settings.replace('cache-dir = "layers/p"', f'cache-dir = "{inside_or_around_a_layer}"')
        )
        one_line_error(layerctl("-C", str(root), "build-all"), 2, "cache-dir")
    assert_untouched(layer, canary)


def test_a_cache_dir_of_its_own_inside_the_workspace_is_fine(tmp_path: Path) -> None:
    root, layer, canary = workspace(tmp_path, root_settings='cache-dir = ".cache/layerctl"\n')
    result = layerctl("-C", str(root), "build-all")
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr
    assert (root / ".cache/layerctl/.layerctl-dir").is_file()
    assert_untouched(layer, canary)


def test_symlink_in_the_output_path_is_refused(tmp_path: Path) -> None:
    root, layer, canary = workspace(tmp_path, layer='output = "out/x"\n')
    elsewhere = tmp_path / "elsewhere"
    (elsewhere / "x" / SLUG).mkdir(parents=True)
    (elsewhere / "x" / SLUG / "layer.zip").write_text("not ours")
    (layer / "out").symlink_to(elsewhere)
    one_line_error(layerctl("-C", str(root), "build-all"), 2, "symlink", "out")
    result = layerctl("-C", str(root), "clean")
    assert "Traceback" not in result.stderr
    assert (elsewhere / "x" / SLUG / "layer.zip").read_text() == "not ours"
    assert_untouched(layer, canary)


def test_build_log_linked_outside_is_not_followed(tmp_path: Path) -> None:
    root, layer, canary = workspace(tmp_path)
    assert layerctl("-C", str(root), "build-all").returncode == 0
    out = layer / "build/lambda/layer" / SLUG
    (out / "build.log").unlink()
    (out / "build.log").symlink_to(canary)
    result = layerctl("-C", str(root), "build-all", "--force")
    assert result.returncode == 0, result.stdout + result.stderr
    assert_untouched(layer, canary)
    assert not (out / "build.log").is_symlink() and "zip:" in (out / "build.log").read_text()


def test_leftovers_of_a_killed_run_are_removed_and_up_to_date_keeps_the_log(tmp_path: Path) -> None:
    root, _layer, _canary = workspace(tmp_path)
    assert layerctl("-C", str(root), "build-all").returncode == 0
    out = root / "layers/p/build/lambda/layer" / SLUG
    log = (out / "build.log").read_text()
    assert "zip:" in log
    (out / ".staging-abc123" / "python").mkdir(parents=True)
    (out / ".staging-abc123" / "python" / "big.bin").write_bytes(b"x" * 1000)
    (out / ".layer.zip.k1ll3d.tmp").write_bytes(b"PK")
    (out / ".build.log.k1ll3d.tmp").write_text("partial")
    result = layerctl("-C", str(root), "build-all")
    assert result.returncode == 0
    assert report(root)["targets"][0]["status"] == "up-to-date"
    assert sorted(p.name for p in out.iterdir()) == [
        ".layerctl-stamp.json",
        "artifacts",
        "build.log",
        "layer.zip",
        "requirements.txt",
    ]
    assert (out / "build.log").read_text() == log


@pytest.mark.parametrize("stamp", ["[]", "null", '{"key": 1, "sha256": [], "result": "x"}', "{", ""])
def test_a_malformed_stamp_means_no_stamp(tmp_path: Path, stamp: str) -> None:
    root, _layer, _canary = workspace(tmp_path)
    assert layerctl("-C", str(root), "build-all").returncode == 0
    out = root / "layers/p/build/lambda/layer" / SLUG
    (out / ".layerctl-stamp.json").write_text(stamp)
    result = layerctl("-C", str(root), "build-all")
    assert result.returncode == 0, result.stdout + result.stderr
    assert report(root)["targets"][0]["status"] == "built"
    (out / ".layerctl-stamp.json").write_text(stamp)
    assert layerctl("-C", str(root), "build-all", "--force").returncode == 0
    assert report(root)["targets"][0]["status"] == "built"
    assert json.loads((out / ".layerctl-stamp.json").read_text())["sha256"] == sha256_file(out / "layer.zip")


@pytest.mark.parametrize("value", ["99999999999", "4354819200", "-5", "soon"])
def test_source_date_epoch_outside_the_zip_range(tmp_path: Path, value: str) -> None:
    root, _layer, _canary = workspace(tmp_path)
    env = {**os.environ, "SOURCE_DATE_EPOCH": value}
    one_line_error(layerctl("-C", str(root), "build-all", env=env), 2, "SOURCE_DATE_EPOCH")


def test_a_layer_whose_build_path_is_a_file(tmp_path: Path) -> None:
    root, layer, canary = workspace(tmp_path)
    (layer / "build").write_text("a file the user keeps\n")
    one_line_error(layerctl("-C", str(root), "build-all"), 2, "build")
    assert (layer / "build").read_text() == "a file the user keeps\n"
    assert_untouched(layer, canary)


def test_a_layer_that_installs_nothing_is_said(tmp_path: Path) -> None:
    root, _layer, _canary = workspace(tmp_path, deps="[]")
    result = layerctl("-C", str(root), "build-all", "--log-format", "plain")
    assert result.returncode == 0, result.stderr
    row = report(root)["targets"][0]
    assert row["status"] == "built"
    assert any("no dependencies" in w for w in row["warnings"]), row["warnings"]
    root2, _l2, _c2 = workspace(tmp_path / "excl", layer='exclude = ["*"]\n')
    assert layerctl("-C", str(root2), "build-all").returncode == 0
    row = report(root2)["targets"][0]
    assert any("exclude" in w and "every file" in w for w in row["warnings"]), row["warnings"]


def _lock_path(root: Path) -> Path:
    return root / "build/layerctl/.layerctl.lock"


def test_one_run_per_workspace_waits_or_exits(tmp_path: Path) -> None:
    root, _layer, _canary = workspace(tmp_path)
    assert layerctl("-C", str(root), "build-all").returncode == 0
    lock = _lock_path(root)
    assert lock.is_file()
    with lock.open("a") as held:
        fcntl.flock(held, fcntl.LOCK_EX)
        busy = layerctl("-C", str(root), "build-all", "--no-wait")
        assert busy.returncode == 75, busy.stdout + busy.stderr
        assert busy.stderr.count("\n") == 1 and "another layerctl run" in busy.stderr
        waiting = subprocess.Popen(
            [sys.executable, "-m", "orchestrator", "-C", str(root), "build-all"],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        time.sleep(3)
        assert waiting.poll() is None, "the second run must wait while the lock is held"
    out, err = waiting.communicate(timeout=120)
    assert waiting.returncode == 0, out + err
    assert "waiting" in err
    # a lock file a killed run left behind (no one holds it) never blocks
    lock.write_text("12345\n")
    assert layerctl("-C", str(root), "build-all", "--no-wait").returncode == 0
    assert layerctl("-C", str(root), "clean", "--no-wait").returncode == 0


def test_two_runs_at_once_agree_with_the_zips_on_disk(tmp_path: Path) -> None:
    root, _layer, _canary = workspace(tmp_path)
    argv = [sys.executable, "-m", "orchestrator", "-C", str(root), "build-all", "--force"]
    for _ in range(20):
        runs = [subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE) for _ in range(2)]
        codes = [run.wait(timeout=300) for run in runs]
        assert codes == [0, 0], [run.stderr.read() for run in runs if run.stderr]
        for row in report(root)["targets"]:
            assert row["sha256"] == sha256_file(Path(row["zip_path"]))


def test_another_report_dir_or_a_nested_workspace_still_waits(tmp_path: Path) -> None:
    """The lock is also on each layer's outputs: a run with another report-dir, or one started as
    a workspace of its own inside this one, cannot build the same layers at the same time."""
    root, layer, _canary = workspace(tmp_path)
    assert layerctl("-C", str(root), "build-all").returncode == 0
    lock = layer / "build/lambda/layer/.layerctl.lock"
    assert lock.is_file()
    (layer.parent / "layerctl.toml").write_text(
        'layers = ["*/pyproject.toml"]\npython = ["3.12"]\narch = ["x86_64"]\n'
    )
    with lock.open("a") as held:
        fcntl.flock(held, fcntl.LOCK_EX)
        env = {**os.environ, "LAYERCTL_REPORT_DIR": "build/other"}
        other = layerctl("-C", str(root), "build-all", "--no-wait", env=env)
        assert other.returncode == 75, other.stdout + other.stderr
        nested = layerctl("-C", str(layer.parent), "build-all", "--no-wait")
        assert nested.returncode == 75, nested.stdout + nested.stderr
        assert "another layerctl run" in nested.stderr and nested.stderr.count("\n") == 1


@pytest.mark.parametrize("kind", ["symlink", "directory"])
def test_a_lock_file_that_is_not_a_file_is_one_line(tmp_path: Path, kind: str) -> None:
    root, _layer, canary = workspace(tmp_path)
    assert layerctl("-C", str(root), "build-all").returncode == 0
    lock = root / "build/layerctl/.layerctl.lock"
    lock.unlink()
    if kind == "symlink":
        lock.symlink_to(canary)
    else:
        lock.mkdir()
    for command in ("build-all", "clean"):
        one_line_error(layerctl("-C", str(root), command), 2, ".layerctl.lock", kind)
    assert canary.read_text() == "canary\n"


def test_an_environment_setting_is_named_as_such(tmp_path: Path) -> None:
    root, layer, canary = workspace(tmp_path)
    env = {**os.environ, "LAYERCTL_OUTPUT": "."}
    one_line_error(layerctl("-C", str(root), "build-all", env=env), 2, "environment: LAYERCTL_OUTPUT")
    env = {**os.environ, "LAYERCTL_CACHE_DIR": str(layer)}
    one_line_error(layerctl("-C", str(root), "build-all", env=env), 2, "environment: LAYERCTL_CACHE_DIR")
    assert_untouched(layer, canary)


def test_a_directory_that_only_looks_like_old_outputs_is_not_taken(tmp_path: Path) -> None:
    root, layer, canary = workspace(tmp_path, layer='output = "dist"\n')
    mine = layer / "dist/py3.11-arm64/layer.zip"
    mine.parent.mkdir(parents=True)
    mine.write_bytes(b"a zip of the user's")
    result = layerctl("-C", str(root), "clean")
    assert result.returncode == 0 and "skipped" in result.stdout, result.stdout + result.stderr
    one_line_error(layerctl("-C", str(root), "build-all"), 2, "output")
    assert mine.read_bytes() == b"a zip of the user's"
    assert sorted(p.name for p in (layer / "dist").iterdir()) == ["py3.11-arm64"]
    assert_untouched(layer, canary)


def test_markers_that_leave_out_every_dependency_are_said(tmp_path: Path) -> None:
    root, _layer, _canary = workspace(tmp_path, deps='["pywin32; sys_platform == \\"win32\\""]')
    assert layerctl("-C", str(root), "build-all").returncode == 0
    row = report(root)["targets"][0]
    assert any("installs nothing" in w and "markers" in w for w in row["warnings"]), row["warnings"]


def test_a_failed_rebuild_keeps_the_requirements_of_the_zip_beside_them(tmp_path: Path) -> None:
    root, layer, _canary = workspace(tmp_path)
    assert layerctl("-C", str(root), "build-all").returncode == 0
    out = layer / "build/lambda/layer" / SLUG
    good = (out / "requirements.txt").read_text()
    assert "six==1.16.0" in good
    (layer / "pyproject.toml").write_text(
        '[project]\nname = "p"\nversion = "1"\ndependencies = ["layerctl-test-no-such-package-zz==1"]\n'
    )
    assert layerctl("-C", str(root), "build-all").returncode == 1
    assert (out / "requirements.txt").read_text() == good
    assert not [p.name for p in out.iterdir() if p.name.endswith(".tmp") or p.name.startswith(".staging")]


def test_a_run_killed_while_zipping_leaves_nothing_trusted(tmp_path: Path) -> None:
    """kill -9 in the middle of a target's zip, then a new run: that target builds again (its half
    zip is never trusted, the stamp still names the inputs of the zip on disk) and every other
    target stays up to date."""
    import signal

    root, layer, _canary = workspace(tmp_path)
    other = root / "layers/q"
    other.mkdir()
    (other / "pyproject.toml").write_text(
        '[project]\nname = "q"\nversion = "1"\ndependencies = ["six==1.16.0"]\n'
    )
    assert layerctl("-C", str(root), "build-all").returncode == 0
    (layer / "pyproject.toml").write_text(  # a big tree: its zip takes a while
        '[project]\nname = "p"\nversion = "1"\ndependencies = ["numpy==2.2.6"]\n'
    )
    process = subprocess.Popen(
        [sys.executable, "-m", "orchestrator", "-C", str(root), "build-all", "--log-format", "plain", "-v",
         "--only", "p:*"],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip
    assert process.stdout is not None
    seen = []
    for line in process.stdout:
        seen.append(line)
        if "-- zipping" in line:
            process.send_signal(signal.SIGKILL)
            break
    process.wait(timeout=60)
    assert process.returncode == -signal.SIGKILL, "".join(seen)
    out = layer / "build/lambda/layer" / SLUG
    assert [p.name for p in out.iterdir() if p.name.endswith(".tmp") or p.name.startswith(".staging")]
    result = layerctl("-C", str(root), "build-all")
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr
    rows = {r["id"]: r for r in report(root)["targets"]}
    assert rows[f"p:{SLUG}"]["status"] == "built" and rows[f"q:{SLUG}"]["status"] == "up-to-date"
    assert rows[f"p:{SLUG}"]["sha256"] == sha256_file(out / "layer.zip")
    assert not [p.name for p in out.iterdir() if p.name.endswith(".tmp") or p.name.startswith(".staging")]
