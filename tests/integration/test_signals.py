"""Signals to the end of a run: Ctrl-C twice, then SIGTERM, while a target is being zipped or
while the report is being written, end the real `layerctl build-all` with exit 130 and a
report.json that says interrupted (never a process killed by SIGTERM, the previous run's report
left in place).

A driver runs the real command line in its own process, with two pauses: the zip step and the
report each wait for a file the test writes, and every signal the run receives is noted in a
file. So each signal is sent at a known point and the test waits on files, never on time."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from orchestrator.package.zip import sha256_file

from .conftest import layerctl, report

pytestmark = pytest.mark.integration

DRIVER = r"""
import sys, time
from pathlib import Path

import orchestrator.core.fanout as fanout
import orchestrator.building.steps as steps  # the zipping step, run by the pipeline
import orchestrator.report.document as report
from orchestrator.__main__ import main
from orchestrator.report.reporters.plain import PlainReporter

here, pauses = Path(sys.argv.pop(1)), sys.argv.pop(1).split(",")


def paused(name, original):
    def wrapper(*args, **kwargs):
        if name not in pauses:
            return original(*args, **kwargs)
        (here / name).touch()
        while not (here / (name + ".go")).exists():
            time.sleep(0.01)
        return original(*args, **kwargs)

    return wrapper


def noted(self, fire=fanout.Interrupt.fire):
    with open(here / "signals", "a") as log:
        log.write("signal\n")
    fire(self)


steps.write_zip = paused("zipping", steps.write_zip)
steps.SMALL_ENTRIES = 0  # a paused zip stands for a long one: a large tree's, zipped off the event loop
report.write_report = paused("reporting", report.write_report)
PlainReporter.close = paused("closing", PlainReporter.close)
fanout.Interrupt.fire = noted
sys.argv[0] = "layerctl"
main()
"""


def _start(here: Path, pauses: str, *args: str) -> subprocess.Popen[bytes]:
    here.mkdir()
    with (here / "output.txt").open("w") as out:
        return subprocess.Popen(
            [sys.executable, "-c", DRIVER, str(here), pauses, *args, "--log-format", "plain"],
            stdout=out,
            stderr=subprocess.STDOUT,
        )


def _workspace(root: Path) -> Path:
    (root / "layers/a").mkdir(parents=True)
    (root / "pyproject.toml").write_text("[tool.layerctl]\n")
    (root / "layers/a/pyproject.toml").write_text(
        '[project]\nname = "a"\nversion = "1"\ndependencies = ["six"]\n'
        '[tool.layerctl]\npython = ["3.12"]\narch = ["x86_64"]\n'
    )
    return root


def _wait(process: subprocess.Popen[bytes], done: Callable[[], bool], what: str, output: Path) -> bool:
    """Wait until ``done``; False when the process ended first."""
    deadline = time.monotonic() + 300
    while not done():
        if process.poll() is not None:
            return False
        assert time.monotonic() < deadline, f"waited 300 s for {what}:\n{output.read_text()}"
        time.sleep(0.01)
    return True


@pytest.mark.parametrize("sigterm_at", ["zipping", "reporting"])
def test_ctrl_c_twice_then_sigterm_exits_130_with_an_interrupted_report(
    tmp_path: Path, sigterm_at: str
) -> None:
    root = _workspace(tmp_path / "ws")
    first = layerctl("-C", str(root), "build-all", "--log-format", "plain")
    assert first.returncode == 0, first.stdout + first.stderr
    good = sha256_file(root / "layers/a/build/lambda/layer/py3.12-x86_64/layer.zip")
    assert report(root)["interrupted"] is False

    here = tmp_path / "driver"
    output = here / "output.txt"
    process = _start(here, "zipping,reporting", "-C", str(root), "build-all", "--force")

    def received(count: int) -> Callable[[], bool]:
        log = here / "signals"
        return lambda: log.exists() and len(log.read_text().splitlines()) >= count

    def at(name: str) -> Callable[[], bool]:
        return (here / name).exists

    try:
        assert _wait(process, at("zipping"), "the zip step", output), output.read_text()
        for count in (1, 2):  # Ctrl-C, Ctrl-C
            process.send_signal(signal.SIGINT)
            assert _wait(process, received(count), f"SIGINT {count}", output), output.read_text()
        if sigterm_at == "zipping":
            process.send_signal(signal.SIGTERM)
            _wait(process, received(3), "SIGTERM", output)
        (here / "zipping.go").touch()
        _wait(process, at("reporting"), "the report", output)
        if sigterm_at == "reporting":
            process.send_signal(signal.SIGTERM)
            _wait(process, received(3), "SIGTERM", output)
        (here / "reporting.go").touch()
        process.wait(timeout=300)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()

    assert process.returncode == 130, output.read_text()
    written = json.loads((root / "build/layerctl/report.json").read_text())
    assert written["interrupted"] is True and written["exit_code"] == 130
    assert [row["status"] for row in written["targets"]] == ["cancelled"]
    assert sha256_file(root / "layers/a/build/lambda/layer/py3.12-x86_64/layer.zip") == good
    assert "Traceback" not in output.read_text()


@pytest.mark.parametrize("late", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_a_signal_after_the_report_changes_nothing(tmp_path: Path, late: signal.Signals) -> None:
    """The report is written: the outcome is decided, a late signal (here while the reporter
    closes) neither kills the process nor changes its exit code."""
    root = _workspace(tmp_path / "ws")
    here = tmp_path / "driver"
    output = here / "output.txt"
    process = _start(here, "closing", "-C", str(root), "build-all")
    try:
        assert _wait(process, (here / "closing").exists, "the reporter to close", output), output.read_text()
        process.send_signal(late)
        (here / "closing.go").touch()
        process.wait(timeout=300)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()

    assert process.returncode == 0, output.read_text()
    assert report(root)["exit_code"] == 0 and report(root)["interrupted"] is False
