"""The real CLI against the machine: unreadable directories, a closed or full stdout, a report
directory that cannot be written. Permission cases run as an unprivileged user (root ignores
file modes); they skip when this machine cannot switch users."""

from __future__ import annotations

import io
import json
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import anyio
import pytest

from orchestrator.core.errors import EXIT_ENVIRONMENT, EXIT_USAGE
from tests.support.cli import NOBODY as NOBODY_ID
from tests.support.cli import as_nobody, layerctl

NOBODY = as_nobody()
needs_nobody = pytest.mark.skipif(NOBODY is None, reason="cannot run a command as an unprivileged user here")

LAYER = '[project]\nname = "{name}"\nversion = "1"\ndependencies = []\n'


@pytest.fixture
def workspace() -> Iterator[Path]:
    """A workspace any user can read (pytest's own temporary directories are private to root)."""
    root = Path(tempfile.mkdtemp(prefix="layerctl-io-"))
    root.chmod(0o755)
    (root / "pyproject.toml").write_text("[tool.layerctl]\n")
    for name in ("a", "b"):
        (root / "layers" / name).mkdir(parents=True)
        (root / "layers" / name / "pyproject.toml").write_text(LAYER.format(name=name))
    yield root
    for path in root.rglob("*"):
        if path.is_dir() and not path.is_symlink():
            path.chmod(0o755)
    shutil.rmtree(root)


def no_traceback(result: object) -> None:
    stderr = getattr(result, "stderr", "")
    assert "Traceback" not in stderr, stderr


@needs_nobody
@pytest.mark.parametrize("pattern", ["layers/*/pyproject.toml", "layers/*", "layers/**/pyproject.toml"])
def test_unreadable_layer_directory_is_an_error_naming_it(workspace: Path, pattern: str) -> None:
    (workspace / "pyproject.toml").write_text(f'[tool.layerctl]\nlayers = ["{pattern}"]\n')
    (workspace / "layers" / "b").chmod(0o000)
    result = layerctl("list", "--no-decide", cwd=workspace, prefix=NOBODY or [])
    no_traceback(result)
    assert result.returncode == EXIT_USAGE, result.stdout + result.stderr
    assert result.stdout == ""
    [line] = result.stderr.splitlines()
    assert line.startswith(f"layerctl: error: {workspace / 'layers' / 'b'}: cannot look into this directory")
    assert "Permission denied" in line and repr(pattern) in line


@needs_nobody
def test_unreadable_layers_parent_is_an_error_naming_it(workspace: Path) -> None:
    (workspace / "layers").chmod(0o311)  # can pass through it, cannot list it
    result = layerctl("list", "--no-decide", cwd=workspace, prefix=NOBODY or [])
    no_traceback(result)
    assert result.returncode == EXIT_USAGE
    assert f"error: {workspace / 'layers'}: cannot look into this directory" in result.stderr


# Builds here never reach an index: layers have no dependencies (or one the closed index cannot have).
OFFLINE = {"UV_HTTP_RETRIES": "0", "LAYERCTL_INDEX_URL": "http://127.0.0.1:9/simple"}


def offline(root: Path) -> dict[str, str]:
    return {**OFFLINE, "UV_CACHE_DIR": str(root / ".uv-cache"), "HOME": str(root)}


def test_list_to_a_full_stdout(workspace: Path) -> None:
    result = layerctl("list", "--no-decide", cwd=workspace, shell_redirect=">/dev/full")
    no_traceback(result)
    assert result.stderr == "layerctl: error: cannot write to stdout (No space left on device)\n"
    assert result.returncode == EXIT_ENVIRONMENT


def test_list_to_a_closed_stdout(workspace: Path) -> None:
    result = layerctl("list", "--no-decide", cwd=workspace, shell_redirect=">&-")
    assert (result.returncode, result.stderr) == (0, "")


def test_list_to_a_reader_that_went_away(workspace: Path) -> None:
    root = Path(__file__).resolve().parents[2]
    process = subprocess.Popen(
        [sys.executable, "-m", "orchestrator", "list", "--no-decide"],
        cwd=workspace,
        env={**os.environ, "PYTHONPATH": str(root)},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    assert process.stdout is not None and process.stderr is not None
    process.stdout.close()  # before it writes: its first line meets a closed pipe
    stderr = process.stderr.read().decode()
    assert process.wait(timeout=60) == 0
    assert stderr == ""


@pytest.mark.parametrize("log_format", ["plain", "json", "github"])
@pytest.mark.parametrize(("redirect", "code"), [(">&-", 0), (">/dev/full", EXIT_ENVIRONMENT)])
def test_build_all_with_stdout_closed_or_full(
    workspace: Path, log_format: str, redirect: str, code: int
) -> None:
    result = layerctl(
        "build-all",
        "--builder",
        "native",
        "--python",
        "3.12",
        "--arch",
        "x86_64",
        "--log-format",
        log_format,
        cwd=workspace,
        env=offline(workspace),
        shell_redirect=redirect,
    )
    no_traceback(result)
    assert result.returncode == code, result.stderr
    if code:
        assert result.stderr == "layerctl: error: cannot write to stdout (No space left on device)\n"
    report = json.loads((workspace / "build/layerctl/report.json").read_text())
    assert report["counts"] == {"built": 2}  # the output stopped, not the builds


def chown_to_nobody(root: Path) -> None:
    if os.geteuid() == 0:
        for path in [root, *root.rglob("*")]:
            os.chown(path, NOBODY_ID, NOBODY_ID, follow_symlinks=False)


@needs_nobody
def test_read_only_report_directory(workspace: Path) -> None:
    """The report directory also holds the run lock: a read-only one is refused before anything
    is built, in one line naming it, as a problem of this machine (exit 3)."""
    report_dir = workspace / "build" / "layerctl"
    report_dir.mkdir(parents=True)
    chown_to_nobody(workspace)
    report_dir.chmod(0o555)
    result = layerctl(
        "build-all", "--builder", "native", "--arch", "x86_64", "--keep-going", "--log-format", "plain",
        cwd=workspace, env=offline(workspace), prefix=NOBODY or [],
    )  # fmt: skip
    no_traceback(result)
    assert result.returncode == EXIT_ENVIRONMENT, result.stdout + result.stderr
    [line] = result.stderr.splitlines()
    assert line == (
        f"layerctl: error: {report_dir}: cannot create it (Permission denied); make it writable or set "
        "another 'report-dir'"
    )
    assert list(report_dir.iterdir()) == []


def test_report_directory_on_a_full_disk(workspace: Path) -> None:
    unshare = shutil.which("unshare")
    if os.geteuid() != 0 or unshare is None:
        pytest.skip("needs root and unshare to mount a tiny file system")
    report_dir = workspace / "build" / "layerctl"
    report_dir.mkdir(parents=True)
    root = Path(__file__).resolve().parents[2]
    # a tiny file system for build/: the report directory (layerctl's, with its marker) is made
    # there, then the disk is filled, so the run starts and the report cannot be written
    script = (
        'mount -t tmpfs -o size=16k tmpfs "$1" || exit 99; mkdir "$1/layerctl"; '
        'touch "$1/layerctl/.layerctl-dir"; head -c 1048576 /dev/zero > "$1/fill" 2>/dev/null; shift; exec "$@"'
    )
    argv = [unshare, "--mount", "--propagation", "private", "sh", "-c", script, "sh", str(report_dir.parent)]
    argv += [
        sys.executable,
        "-m",
        "orchestrator",
        "build-all",
        "--builder",
        "native",
        "--log-format",
        "plain",
    ]
    result = subprocess.run(
        argv,
        cwd=workspace,
        env={**os.environ, **offline(workspace), "PYTHONPATH": str(root), "NO_COLOR": "1"},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    if result.returncode == 99:
        pytest.skip(f"cannot mount a tmpfs here: {result.stderr.strip()}")
    no_traceback(result)
    assert result.returncode == EXIT_ENVIRONMENT, result.stdout + result.stderr
    assert "summary" in result.stdout
    assert result.stderr.splitlines() == [
        f"layerctl: error: {report_dir / 'report.json'}: cannot write the run report "
        "(No space left on device); free some space or point report-dir elsewhere"
    ]


def test_github_step_summary_that_cannot_be_written(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from orchestrator.core.events import RunFinished
    from orchestrator.report.reporters.github import GitHubReporter

    summary = tmp_path / "no-such-dir" / "summary.md"
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(summary))
    out = io.StringIO()
    anyio.run(GitHubReporter(out).handle, RunFinished((), 1.0))
    warning = out.getvalue().splitlines()[-1]
    assert warning.startswith("::warning title=layerctl::cannot append the run summary to ")
    assert str(summary) in warning and "No such file or directory" in warning


@needs_nobody
def test_unreadable_workspace_root(workspace: Path) -> None:
    workspace.chmod(0o711)  # can pass through it, cannot list it
    result = layerctl(
        "-C",
        str(workspace),
        "list",
        "--no-decide",
        cwd=Path("/"),
        prefix=NOBODY or [],
        env={"COLUMNS": "300"},
    )
    no_traceback(result)
    assert result.returncode == EXIT_USAGE  # typer checks -C: a usage error
    assert "is not readable" in result.stderr


@needs_nobody
def test_clean_that_cannot_remove_the_outputs(workspace: Path) -> None:
    built = layerctl(
        "build-all", "--builder", "native", "--arch", "x86_64", cwd=workspace, env=offline(workspace)
    )
    assert built.returncode == 0, built.stderr
    chown_to_nobody(workspace)
    layer_out = workspace / "layers/a/build/lambda/layer"
    (layer_out / "py3.12-x86_64").chmod(0o555)  # its zip cannot be removed
    result = layerctl("clean", cwd=workspace, prefix=NOBODY or [], env=offline(workspace))
    no_traceback(result)
    assert result.returncode == EXIT_ENVIRONMENT, result.stdout + result.stderr
    assert result.stderr.splitlines() == [
        f"layerctl: error: {layer_out}: cannot remove layerctl's files there (Permission denied)"
    ]
    assert (layer_out / "py3.12-x86_64" / "layer.zip").exists()
