"""The operator's view, as a user meets it: the live view in a real terminal (tmux), prefixed
lines in a pipe, GitHub Actions groups and step summary, a failing target with --keep-going,
timeouts and retries against misbehaving indexes, and report.html rendered by Chromium."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from orchestrator.core.tools import uv_bin
from tests.integration.conftest import layerctl, report
from tests.support.fixtures import copy_example
from tests.support.servers import silent_index, unavailable_index

pytestmark = pytest.mark.integration

MISSING = "layerctl-no-such-package-xyz"
IDS = ["bad:py3.11-x86_64", "bad:py3.11-arm64", "good:py3.11-x86_64", "good:py3.11-arm64"]


def failing_workspace(root: Path) -> Path:
    """Two layers x py3.11 x both arches; `bad` depends on a package that does not exist."""
    (root / "layers/good").mkdir(parents=True)
    (root / "layers/bad").mkdir(parents=True)
    (root / "layerctl.toml").write_text('python = ["3.11"]\narch = ["x86_64", "arm64"]\nbuilder = "native"\n')
    (root / "layers/good/pyproject.toml").write_text(
        '[project]\nname = "good"\nversion = "1"\ndependencies = ["six==1.16.0"]\n'
    )
    (root / "layers/bad/pyproject.toml").write_text(
        f'[project]\nname = "bad"\nversion = "1"\ndependencies = [\n    "six==1.16.0",\n    "{MISSING}==1.0",\n]\n'
    )
    return root


@pytest.fixture(scope="module")
def failing_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, subprocess.CompletedProcess[str]]:
    root = failing_workspace(tmp_path_factory.mktemp("failing"))
    return root, layerctl("-C", str(root), "build-all", "--keep-going", "--jobs", "2")


def test_failing_target_shows_tail_and_hint_and_others_finish(
    failing_run: tuple[Path, subprocess.CompletedProcess[str]],
) -> None:
    root, result = failing_run
    assert result.returncode == 1, result.stderr  # documented: 1 = at least one target failed
    rows = {t["id"]: t for t in report(root)["targets"]}
    assert [rows[i]["status"] for i in IDS] == ["failed", "failed", "built", "built"]
    bad = rows["bad:py3.11-x86_64"]
    assert MISSING in bad["error"] and "pyproject.toml" in bad["hint"]
    assert (bad["error_file"], bad["error_line"]) == ("layers/bad/pyproject.toml", 6)
    assert bad["log_tail"] and any(MISSING in line for line in bad["log_tail"]) and bad["attempts"] == 1
    assert report(root)["schema"] == "layerctl-report/3"
    out = result.stdout
    block = out[out.index("\nbad:py3.11-x86_64 FAILED") :]
    assert "last " in block and "| error:" in block
    assert f"full log: {root}/layers/bad/build/lambda/layer/py3.11-x86_64/build.log" in block
    assert "hint: check the dependency's name" in block


def test_piped_output_prefixes_every_line_with_its_target(
    failing_run: tuple[Path, subprocess.CompletedProcess[str]],
) -> None:
    _root, result = failing_run
    stream = result.stdout.split("\n\n", 1)[0].splitlines()  # the live part, before failure blocks
    assert stream[0].startswith("layerctl: building 4 targets")
    prefixes = {line.split(" | ", 1)[0].strip() for line in stream[1:]}
    assert prefixes <= {*IDS, "layerctl"}, prefixes
    for target in IDS:  # each target's own lines, in order, carry its id
        mine = [line.split(" | ", 1)[1] for line in stream[1:] if line.startswith(target + " ")]
        assert mine[0] == "started (native)" and mine[-1].startswith(("built", "FAILED"))


def test_github_actions_groups_errors_and_step_summary(tmp_path: Path) -> None:
    root = failing_workspace(tmp_path / "ws")
    summary = tmp_path / "summary.md"
    env = {
        **os.environ,
        "GITHUB_ACTIONS": "true",
        "GITHUB_STEP_SUMMARY": str(summary),
        "GITHUB_WORKSPACE": str(root),
    }
    result = layerctl("-C", str(root), "build-all", "--keep-going", "--jobs", "4", env=env)
    assert result.returncode == 1
    groups: dict[str, list[str]] = {}
    current = None
    outside: list[str] = []
    for line in result.stdout.splitlines():
        if line.startswith("::group::"):
            assert current is None, "groups never nest or interleave"
            current = line.removeprefix("::group::").split(": ", 1)[0]
            assert current not in groups
            groups[current] = []
        elif line == "::endgroup::":
            current = None
        elif current is not None:
            groups[current].append(line)
        else:
            outside.append(line)
    assert sorted(groups) == sorted(IDS)
    for target, lines in groups.items():
        layer, rest = target.split(":")
        log = (root / f"layers/{layer}/build/lambda/layer/{rest}/build.log").read_text()
        token = lines[0].removeprefix("::stop-commands::")
        assert lines[-1] == f"::{token}::"
        assert lines[1:-1] == log.splitlines(), f"{target}: its group is exactly its own build.log"
    assert not any(line.startswith("$ uv pip install") for line in outside)
    errors = [line for line in outside if line.startswith("::error ")]
    assert len(errors) == 2
    assert errors[0].startswith(
        "::error file=layers/bad/pyproject.toml,line=6,title=layerctl%3A bad%3Apy3.11-"
    )
    table = summary.read_text()
    assert "| target | builder | status |" in table
    assert all(f"`{target}`" in table for target in IDS) and "**FAILED**" in table


def test_json_log_format_is_one_event_per_line(tmp_path: Path) -> None:
    root = failing_workspace(tmp_path)
    result = layerctl("-C", str(root), "build", "good", "--log-format", "json")
    assert result.returncode == 0, result.stderr
    events = [json.loads(line) for line in result.stdout.splitlines()]
    assert events[0]["event"] == "run-started" and events[-1]["event"] == "run-finished"
    assert {e["target"] for e in events if e["event"] == "log"} == {"good:py3.11-x86_64", "good:py3.11-arm64"}


def test_report_command_rerenders_the_html(
    failing_run: tuple[Path, subprocess.CompletedProcess[str]],
) -> None:
    root, _ = failing_run
    html = root / "build/layerctl/report.html"
    html.unlink()
    result = layerctl("-C", str(root), "report")
    assert result.returncode == 0, result.stderr
    assert html.is_file() and "bad:py3.11-arm64" in result.stdout
    bad = layerctl("-C", str(root), "report", str(root / "nope.json"))
    assert bad.returncode == 2 and bad.stderr.count("\n") == 1 and "no such report" in bad.stderr


def chromium() -> str:
    found = shutil.which("chromium")
    if found is None:
        if os.environ.get("CI") == "true":
            pytest.fail("CI requires Chromium for the report test (tests/testbed.sh installs it)")
        pytest.skip("chromium is not installed (tests/testbed.sh installs it)")
    return found


def headless(*args: str) -> subprocess.CompletedProcess[str]:
    with tempfile.TemporaryDirectory() as profile:
        return subprocess.run(
            [
                chromium(), "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                "--disable-background-networking", "--disable-component-update", "--disable-sync",
                f"--user-data-dir={profile}", *args,
            ],
            capture_output=True, text=True, timeout=120, check=False,
        )  # fmt: skip


def test_report_html_renders_in_chromium(
    failing_run: tuple[Path, subprocess.CompletedProcess[str]], tmp_path: Path
) -> None:
    root, _ = failing_run
    page = (root / "build/layerctl/report.html").as_uri()
    shot = tmp_path / "report.png"
    taken = headless(f"--screenshot={shot}", "--window-size=1200,1000", page)
    assert shot.is_file() and shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n", taken.stderr[-2000:]
    assert shot.stat().st_size > 20_000  # a rendered page, not a blank one
    dom = headless("--dump-dom", page).stdout
    assert dom.count('<g class="bar" ') == len(IDS)  # one timeline bar per target
    assert dom.count('<g class="size-bar" ') == len(IDS)
    assert dom.count('data-status="failed"') == 2 and "250 MB" in dom


def test_transient_failures_are_retried_with_backoff(tmp_path: Path) -> None:
    root = failing_workspace(tmp_path)
    env = {**os.environ, "UV_HTTP_RETRIES": "0"}  # count only layerctl's own attempts
    with unavailable_index() as index:
        result = layerctl(
            "-C", str(root), "build", "good", "--only", "*x86_64", "--index-url", index.url, "--retries", "2", env=env,
        )  # fmt: skip
        hits = index.hits
    assert result.returncode == 1
    row = report(root)["targets"][0]
    assert row["status"] == "failed" and row["attempts"] == 3 and hits == 3
    assert "503" in row["error"] and "--retries" in row["hint"]
    log = Path(row["log"]).read_text()
    assert "retry 1/2 in 1s" in log and "retry 2/2 in 2s" in log
    # a deterministic failure is never retried
    again = layerctl("-C", str(root), "build", "bad", "--only", "*x86_64", "--retries", "2")
    assert again.returncode == 1 and report(root)["targets"][0]["attempts"] == 1


def test_timeout_fails_the_target_and_keeps_the_run_going(tmp_path: Path) -> None:
    root = failing_workspace(tmp_path)
    with silent_index() as url:
        started = time.monotonic()
        result = layerctl(
            "-C", str(root), "build", "good", "--only", "*x86_64", "--index-url", url, "--timeout", "2",
            "--retries", "1",
        )  # fmt: skip
        took = time.monotonic() - started
    assert result.returncode == 1, result.stderr
    row = report(root)["targets"][0]
    assert row["error"] == "timed out after 2s (--timeout)" and row["attempts"] == 1
    assert took < 60


class Tmux:
    """A real terminal: a detached tmux session running an interactive bash."""

    def __init__(self, name: str) -> None:
        self.argv = ["tmux", "-L", f"layerctl-{os.getpid()}-{name}"]
        self.name = name

    def __call__(self, *args: str) -> str:
        return subprocess.run([*self.argv, *args], capture_output=True, text=True, check=True).stdout

    def start(self, width: int = 180, height: int = 50) -> None:
        self("new-session", "-d", "-s", self.name, "-x", str(width), "-y", str(height),
             "env PS1='PROMPT$ ' bash --norc --noprofile -i")  # fmt: skip
        self.wait_for("PROMPT$")

    def pane(self, history: bool = False) -> str:
        return self("capture-pane", "-p", "-t", self.name, *(["-S", "-"] if history else []))

    def wait_for(self, text: str, timeout: float = 300, history: bool = False) -> str:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            pane = self.pane(history)
            if text in pane:
                return pane
            time.sleep(0.2)
        raise AssertionError(f"{text!r} never appeared:\n{self.pane(True)}")

    def kill(self) -> None:
        subprocess.run([*self.argv, "kill-server"], capture_output=True, check=False)


@pytest.fixture
def tmux(request: pytest.FixtureRequest) -> Iterator[Tmux]:
    if shutil.which("tmux") is None:
        if os.environ.get("CI") == "true":
            pytest.fail("CI requires tmux for the live view test (tests/testbed.sh installs it)")
        pytest.skip("tmux is not installed")
    session = Tmux(request.node.name[-20:].strip("_").replace("[", "-").replace("]", ""))
    session.start()
    yield session
    session.kill()


def test_live_view_updates_and_ends_with_every_final_state(tmux: Tmux, tmp_path: Path) -> None:
    root = copy_example(tmp_path / "monorepo", uv_bin())
    tmux(
        "send-keys",
        "-t",
        tmux.name,
        f"{sys.executable} -m orchestrator -C {root} build-all --jobs 4; echo EXIT=$?",
        "Enter",
    )
    frames: list[str] = []
    deadline = time.monotonic() + 600
    while not re.search(r"EXIT=\d", pane := tmux.pane()) and time.monotonic() < deadline:
        if "targets" in pane and "ETA" in pane:
            frames.append(pane)
        time.sleep(0.1)
    assert len(set(frames)) >= 3, "the live view redraws while targets build"
    final = tmux.wait_for("EXIT=0", history=True)
    targets = report(root)["targets"]
    assert len(targets) == 12 and {t["status"] for t in targets} == {"built"}
    table = final[: final.index("layerctl summary")]  # the live table as it was left
    for target in targets:
        row = next(line for line in table.splitlines() if line.startswith(target["id"] + " "))
        assert " done " in row, row
    assert "12/12" in table
    assert final.rstrip().endswith("PROMPT$")


def test_ctrl_c_leaves_the_terminal_clean(tmux: Tmux, tmp_path: Path) -> None:
    root = failing_workspace(tmp_path)
    with silent_index() as url:
        tmux("send-keys", "-t", tmux.name,
             f"{sys.executable} -m orchestrator -C {root} build good --index-url {url}; echo EXIT=$?", "Enter")  # fmt: skip
        tmux.wait_for("resolving", timeout=60)  # a pip layer's pinning, held by the silent index
        time.sleep(1)
        tmux("send-keys", "-t", tmux.name, "C-c")
        tmux.wait_for("EXIT=130", timeout=60)
    time.sleep(0.5)
    pane = tmux.pane().rstrip()
    assert pane.endswith("PROMPT$"), pane
    assert tmux("display", "-p", "-t", tmux.name, "#{cursor_flag}").strip() == "1", (
        "the cursor is shown again"
    )
    assert "cancelled" in pane
