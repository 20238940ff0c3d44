"""The CLI's error boundary: whatever happens, one line on stderr and a documented exit code;
a traceback only when asked for (--debug, LAYERCTL_DEBUG=1)."""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from orchestrator.core.errors import EXIT_BUG, EXIT_ENVIRONMENT, EXIT_INTERRUPTED, EXIT_USAGE, ConfigError
from orchestrator.workspace import config
from tests.support.cli import invoke

if sys.version_info < (3, 11):
    from exceptiongroup import BaseExceptionGroup, ExceptionGroup


def failing(exc: BaseException) -> Callable[..., object]:
    def load_workspace(root: Path) -> object:
        raise exc

    return load_workspace


@pytest.mark.parametrize(
    ("exc", "code", "line"),
    [
        (ConfigError("pyproject.toml: bad"), EXIT_USAGE, "layerctl: error: pyproject.toml: bad"),
        (KeyboardInterrupt(), EXIT_INTERRUPTED, "layerctl: interrupted"),
        (
            RuntimeError("boom"),
            EXIT_BUG,
            "layerctl: error: this is a bug in layerctl, please report it: RuntimeError: boom "
            "(--debug or LAYERCTL_DEBUG=1 shows the traceback)",
        ),
        (ExceptionGroup("g", [ConfigError("inside a group")]), EXIT_USAGE, "error: inside a group"),
        (
            ExceptionGroup("outer", [ExceptionGroup("inner", [ValueError("deep")])]),
            EXIT_BUG,
            "bug in layerctl, please report it: ValueError: deep",
        ),
        (BaseExceptionGroup("g", [ValueError("x"), KeyboardInterrupt()]), EXIT_INTERRUPTED, "interrupted"),
        (
            ExceptionGroup("g", [RuntimeError("other"), ConfigError("the real one")]),
            EXIT_USAGE,
            "error: the real one",
        ),
        (RuntimeError("two\nlines"), EXIT_BUG, "RuntimeError: two\\nlines"),
    ],
)
def test_every_error_is_one_line_with_its_exit_code(
    make_workspace: Callable[..., Path],
    monkeypatch: pytest.MonkeyPatch,
    exc: BaseException,
    code: int,
    line: str,
) -> None:
    root = make_workspace()
    monkeypatch.setattr(config, "load_workspace", failing(exc))
    result = invoke(["-C", str(root), "list", "--no-decide"])
    assert result.exit_code == code
    assert line in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1, result.stderr
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize(("args", "env"), [(["--debug"], {}), ([], {"LAYERCTL_DEBUG": "1"})])
def test_debug_shows_the_traceback_of_a_bug(
    make_workspace: Callable[..., Path],
    monkeypatch: pytest.MonkeyPatch,
    args: list[str],
    env: dict[str, str],
) -> None:
    root = make_workspace()
    monkeypatch.setattr(config, "load_workspace", failing(RuntimeError("boom")))
    result = invoke([*args, "-C", str(root), "list", "--no-decide"], env=env)
    assert result.exit_code == EXIT_BUG
    assert "Traceback (most recent call last)" in result.stderr
    assert "RuntimeError: boom" in result.stderr
    assert result.stderr.rstrip().splitlines()[-1].startswith("layerctl: error: this is a bug in layerctl")


def test_debug_variable_does_not_stop_a_normal_run(make_workspace: Callable[..., Path]) -> None:
    result = invoke(["-C", str(make_workspace()), "list", "--no-decide"], env={"LAYERCTL_DEBUG": "1"})
    assert result.exit_code == 0, result.stderr
    assert "a:py3.12-x86_64" in result.stdout


def test_environment_error_names_the_variable(make_workspace: Callable[..., Path]) -> None:
    result = invoke(["-C", str(make_workspace()), "list", "--no-decide"], env={"LAYERCTL_JOBS": "x"})
    assert result.exit_code == EXIT_USAGE
    assert result.stderr.strip() == "layerctl: error: environment: LAYERCTL_JOBS: 'x' is not an integer"


def test_exit_codes_are_documented() -> None:
    guide = (Path(__file__).resolve().parents[2] / "docs" / "guide.md").read_text()
    for code in (0, 1, 2, EXIT_ENVIRONMENT, EXIT_BUG, EXIT_INTERRUPTED):
        assert f"\n| {code} | " in guide


def _layerctl_catches_signals(pid: int) -> bool:
    """Whether the process has installed layerctl's own start-up handler (it catches SIGTERM, which
    Python leaves alone; before it, Ctrl-C ends the interpreter's own start-up as it would any
    Python program's, which no code of layerctl's can change)."""
    import signal

    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return True  # gone already: its exit code will tell
    caught = next(line for line in status.splitlines() if line.startswith("SigCgt:"))
    return bool(int(caught.split()[1], 16) & (1 << (signal.SIGTERM - 1)))


@pytest.mark.parametrize("after", [0.0, 0.05, 0.15, 0.4])
def test_ctrl_c_while_starting_is_one_line_and_130(make_workspace: Callable[..., Path], after: float) -> None:
    """Importing layerctl takes a moment: a Ctrl-C then must not print a Python traceback.
    ``after`` counts from the moment layerctl's entry point has taken the signals, so that a
    loaded machine, slow to start the interpreter, does not send it before there is a layerctl."""
    import signal
    import subprocess
    import sys
    import time

    root = make_workspace()
    process = subprocess.Popen(
        [sys.executable, "-m", "orchestrator", "-C", str(root), "list", "--no-decide"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    deadline = time.monotonic() + 60
    while not _layerctl_catches_signals(process.pid) and time.monotonic() < deadline:
        time.sleep(0.002)
    time.sleep(after)
    process.send_signal(signal.SIGINT)
    _out, err = process.communicate(timeout=60)
    if process.returncode == 0:
        pytest.skip("the command ended before the signal came")
    assert process.returncode == 130 and "Traceback" not in err
    assert err.strip().splitlines()[-1] == "layerctl: interrupted"


_LATE_SIGNAL = r"""
import os, signal, sys, time
from orchestrator.__main__ import main

SIGNUM = getattr(signal, sys.argv.pop(1))


class Late:
    # Collected as the interpreter tears its modules down: after Python has put back the
    # default action of every signal it handled (a slow exit on a loaded machine).
    def __del__(self):
        os.kill(os.getpid(), SIGNUM)
        time.sleep(0.2)


late = Late()
sys.argv[0] = "layerctl"
main()
"""


@pytest.mark.parametrize("late", ["SIGINT", "SIGTERM"])
def test_a_signal_while_the_interpreter_exits_changes_nothing(late: str) -> None:
    """The outcome is decided and printed: a Ctrl-C or SIGTERM while Python exits (its signal
    handlers gone) neither kills the process (exit 143 for SIGTERM) nor changes its code."""
    import subprocess

    done = subprocess.run(
        [sys.executable, "-c", _LATE_SIGNAL, late, "--version"], capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, (done.returncode, done.stderr)
    assert done.stdout.startswith("layerctl ")
