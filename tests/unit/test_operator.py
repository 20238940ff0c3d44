"""Pure parts of the operator's view: failure diagnosis, reporters' output, the HTML report."""

from __future__ import annotations

import io
import json
import re
from pathlib import Path

import anyio
import pytest

from orchestrator.building.failures import diagnose, find_requirement_line
from orchestrator.core.errors import AuditError, ConfigError, LayerctlError, NoCompatibleWheel, TargetTimeout
from orchestrator.core.events import (
    Event,
    LogLines,
    Notice,
    PhaseStarted,
    RunFinished,
    RunStarted,
    TargetFinished,
    TargetResult,
    TargetStarted,
    TargetWarning,
)
from orchestrator.report.document import SCHEMA, RunReport, load_report, write_report
from orchestrator.report.html import render_html
from orchestrator.report.reporters import Reporter
from orchestrator.report.reporters.github import escape_data, escape_property
from orchestrator.report.reporters.jsonl import JsonReporter
from orchestrator.report.reporters.plain import PlainReporter
from orchestrator.report.reporters.summary import failure_blocks, failure_lines, markdown_summary


def result(target_id: str = "web:py3.11-x86_64", status: str = "built", **fields: object) -> TargetResult:
    layer, rest = target_id.split(":")
    python, arch = rest.removeprefix("py").split("-")
    base: dict[str, object] = {
        "id": target_id, "layer": layer, "python": python, "arch": arch, "tool": "uv", "builder": "native",
        "status": status, "started_at": 1000.0, "duration_s": 2.0,
        "phases_s": {"resolving": 0.5, "installing": 1.0, "zipping": 0.4},
    }  # fmt: skip
    return TargetResult.model_validate({**base, **fields})


@pytest.mark.parametrize(
    ("output", "hint", "transient"),  # hint: a part of the expected hint, or None
    [
        (["  Because nope was not found in the package registry and you require nope"], "name and version", False),
        (["error: Distribution `fastsum==1.0` can't be installed because it has no compatible wheel"], "--builder container", False),
        (["exec /bin/sh: exec format error"], "QEMU", False),
        (["/lib64/libc.so.6: version `GLIBC_2.34' not found (required by x.so)"], "manylinux", False),
        (["OSError: [Errno 28] No space left on device"], "disk is full", False),
        (["error: Failed to fetch: http://i/simple/six/", "  Caused by: HTTP status server error (503 Service Unavailable)"], "index", True),
        (["Connection reset by peer"], "network", True),
        (["engine error 500: driver failed"], None, True),
        # a size in a download line is not an HTTP status
        (["Downloading x.whl (500 kB)"], None, False),
        # a compile error is never retried, even with a network word in the log
        (["error: command '/usr/bin/gcc' failed", "Connection reset"], "C build", False),
    ],
)  # fmt: skip
def test_diagnose_reads_the_tools_output(output: list[str], hint: str | None, transient: bool) -> None:
    found = diagnose(output)
    assert found.hint == hint if hint is None else (found.hint is not None and hint in found.hint)
    assert found.transient is transient


@pytest.mark.parametrize(
    ("error", "hint"),
    [
        (NoCompatibleWheel("fastsum has no wheel for manylinux_2_17 aarch64 CPython 3.11", "fastsum"), "--builder container"),
        (TargetTimeout("timed out after 5s (--timeout)"), "--timeout"),
        (AuditError("x.so is a x86-64 binary but the target is arm64", hint="arch"), "arch"),
    ],
)  # fmt: skip
def test_layerctls_own_errors_carry_their_hint(error: LayerctlError, hint: str) -> None:
    assert error.hint is not None and hint in error.hint
    assert not error.transient
    assert diagnose([error.message]).hint is None  # never read back from layerctl's own words


def test_diagnose_names_the_package_and_its_line(tmp_path: Path) -> None:
    found = diagnose(["cause: Because layerctl-nope was not found in the package registry and you"])
    assert found.package == "layerctl-nope"
    project = tmp_path / "pyproject.toml"
    project.write_text('[project]\nname = "x"\ndependencies = [\n  "six",\n  "Layerctl_Nope==1.0",\n]\n')
    assert find_requirement_line(project, "layerctl-nope") == 5
    assert find_requirement_line(project, "absent") is None


def test_failure_block_has_tail_log_and_hint() -> None:
    failed = result(
        status="failed", error="boom", hint="do this", log="/x/build.log", log_tail=["a", "b"],
        error_file="layers/web/pyproject.toml", error_line=7,
    )  # fmt: skip
    text = "\n".join(failure_lines(failed))
    assert "web:py3.11-x86_64 FAILED: boom" in text
    assert "| a\n  | b" in text and "full log: /x/build.log" in text and "hint: do this" in text
    assert "layers/web/pyproject.toml:7" in text


def test_workflow_command_escaping() -> None:
    assert escape_data("50%\nnext") == "50%25%0Anext"
    assert escape_property("a:b,c") == "a%3Ab%2Cc"


def test_markdown_summary_is_a_table() -> None:
    text = markdown_summary([result(), result("db:py3.12-arm64", "failed", error="x | y")], 3.0)
    assert "| target | builder | status |" in text
    assert "| `db:py3.12-arm64` | native | **FAILED** |" in text
    assert "x \\| y" in text  # a pipe in an error cannot break the table


async def _feed(reporter: Reporter, events: list[Event]) -> None:
    for event in events:
        await reporter.handle(event)


def test_plain_quiet_and_json_reporters() -> None:
    done = result()
    events: list[Event] = [
        RunStarted(("web:py3.11-x86_64",), 1),
        Notice("image ready"),
        TargetStarted("web:py3.11-x86_64", "native"),
        LogLines("web:py3.11-x86_64", ('a "quoted" line',)),
        TargetWarning("web:py3.11-x86_64", "heads up"),
        TargetFinished(done),
        RunFinished((done,), 2.0),
    ]
    quiet = io.StringIO()
    anyio.run(_feed, PlainReporter(quiet, verbose=-1), events)
    assert "quoted" not in quiet.getvalue() and "image ready" not in quiet.getvalue()
    assert "web:py3.11-x86_64 | built in 2.0s" in quiet.getvalue()
    assert "web:py3.11-x86_64 | warning: heads up" in quiet.getvalue()
    normal = io.StringIO()
    anyio.run(_feed, PlainReporter(normal), events)
    assert 'web:py3.11-x86_64 | a "quoted" line' in normal.getvalue()
    out = io.StringIO()
    anyio.run(_feed, JsonReporter(out), events)
    lines = [json.loads(line) for line in out.getvalue().splitlines()]
    assert [e["event"] for e in lines] == [
        "run-started", "notice", "target-started", "log", "warning", "target-finished", "run-finished",
    ]  # fmt: skip
    assert lines[3] == {
        "event": "log",
        "time": lines[3]["time"],
        "target": "web:py3.11-x86_64",
        "line": 'a "quoted" line',
    }
    assert lines[4]["target"] == "web:py3.11-x86_64" and lines[4]["message"] == "heads up"
    assert lines[5]["result"]["sha256"] is None and lines[5]["result"]["status"] == "built"


def _report(targets: list[TargetResult]) -> RunReport:
    return RunReport(
        started_at="2026-01-01T00:00:00+00:00", duration_s=5.0, workspace="/w", jobs=2, exit_code=1,
        interrupted=False, counts={}, targets=targets,
    )  # fmt: skip


def test_html_has_one_bar_per_target_and_marks_failures() -> None:
    targets = [
        result(unzipped_size=30_000_000),
        result("web:py3.11-arm64", "failed", started_at=1000.5, error="boom <b>", hint="fix it"),
        result("db:py3.12-x86_64", "not-run", started_at=None, duration_s=0.0, phases_s={}),
    ]
    page = render_html(_report(targets))
    assert len(re.findall(r'<g class="bar" ', page)) == 3
    assert len(re.findall(r'<g class="size-bar" ', page)) == 3
    assert 'data-status="failed"' in page and "✗ FAILED" in page
    assert "boom &lt;b&gt;" in page and "<b>" not in page.split("<body>")[1].replace("<b>interrupted</b>", "")
    assert "http" not in page.replace("https://", "")  # self-contained: nothing fetched


def test_report_round_trip_and_bad_reports(tmp_path: Path) -> None:
    path = tmp_path / "report.json"
    from datetime import datetime, timezone

    write_report(
        path, results=(result(),), started_at=datetime.now(timezone.utc), duration_s=1.0,
        workspace=tmp_path, jobs=1, exit_code=0, interrupted=False,
    )  # fmt: skip
    assert json.loads(path.read_text())["schema"] == SCHEMA
    assert (tmp_path / "report.html").is_file()
    assert load_report(path).targets[0].id == "web:py3.11-x86_64"
    with pytest.raises(ConfigError, match="no such report"):
        load_report(tmp_path / "absent.json")
    (tmp_path / "other.json").write_text('{"schema": "something-else"}')
    with pytest.raises(ConfigError, match="not a layerctl report"):
        load_report(tmp_path / "other.json")


def test_live_view_honours_no_color(monkeypatch: pytest.MonkeyPatch) -> None:
    from orchestrator.report.reporters.live import LiveReporter

    monkeypatch.setenv("NO_COLOR", "1")
    assert LiveReporter(io.StringIO()).console.no_color is True
    monkeypatch.delenv("NO_COLOR")
    assert LiveReporter(io.StringIO()).console.no_color is False


def test_format_is_chosen_from_where_output_goes(monkeypatch: pytest.MonkeyPatch) -> None:
    from orchestrator.report.reporters import choose_format

    class Tty(io.StringIO):
        def isatty(self) -> bool:
            return True

    monkeypatch.delenv("GITHUB_ACTIONS", raising=False)
    monkeypatch.setenv("TERM", "xterm")
    assert choose_format("auto", Tty()) == "live"
    assert choose_format("auto", io.StringIO()) == "plain"
    monkeypatch.setenv("TERM", "dumb")
    assert choose_format("auto", Tty()) == "plain"
    monkeypatch.setenv("GITHUB_ACTIONS", "true")
    assert choose_format("auto", Tty()) == "github"
    assert choose_format("json", Tty()) == "json"


def test_live_view_fits_a_big_matrix_in_a_small_terminal() -> None:
    from rich.console import Console

    from orchestrator.report.reporters.live import LiveReporter

    out = io.StringIO()
    live = LiveReporter(out)
    live.console = Console(file=out, width=100, height=20, force_terminal=True)
    ids = tuple(f"l{i}:py3.12-arm64" for i in range(60))

    async def feed() -> None:
        live.live.console = live.console
        await live.handle(RunStarted(ids, 4))
        await live.handle(TargetStarted(ids[59], "native"))
        await live.handle(LogLines(ids[59], ("compiling x.c",)))
        await live.handle(TargetFinished(result(ids[0], "failed", error="boom")))

    anyio.run(feed)
    live.console.print(live._render())
    live.close()
    text = out.getvalue()
    assert "l59:py3.12-arm64" in text and "compiling x.c" in text  # the running one is shown
    assert "l0:py3.12-arm64" in text and "failed" in text  # and the failed one
    assert "more (done or queued)" in text and "1/60" in text


def test_a_cause_of_this_machine_is_told_once() -> None:
    engine = {"error": "Docker engine not reachable at unix:///x", "exit_code": 3, "hint": None}
    rows = [
        result(target_id="a:py3.12-x86_64", status="failed", **engine),
        result(target_id="b:py3.12-x86_64", status="built"),
        result(target_id="c:py3.12-arm64", status="failed", **engine),
        result(target_id="d:py3.12-arm64", status="failed", error="uv pip install failed", exit_code=1),
        result(target_id="e:py3.12-arm64", status="failed", error="uv pip install failed", exit_code=1),
    ]
    blocks = failure_blocks(rows)
    assert [block[0] for block in blocks] == [
        "a:py3.12-x86_64 FAILED: Docker engine not reachable at unix:///x",
        "c:py3.12-arm64 FAILED: the same cause as a:py3.12-x86_64",
        "d:py3.12-arm64 FAILED: uv pip install failed",
        "e:py3.12-arm64 FAILED: uv pip install failed",  # a build's own failure: each its own block
    ]
    assert len(blocks[1]) == 1


@pytest.mark.parametrize("verbose", [-1, 0, 1])
def test_live_view_honours_quiet_and_verbose(verbose: int) -> None:
    """-q: the progress, failures and the summary, no log or notice; -v: and a line per phase."""
    from orchestrator.report.reporters.live import LiveReporter

    class Tty(io.StringIO):
        def isatty(self) -> bool:
            return True

    target = "web:py3.11-x86_64"
    done = result(target)
    events: list[Event] = [
        Notice("deciding builders"),  # before the fan-out: a plain line
        RunStarted((target,), 1),
        Notice("image ready"),
        TargetStarted(target, "native"),
        PhaseStarted(target, "installing"),
        TargetWarning(target, "heads up"),
        LogLines(target, ("a log line",)),
        TargetFinished(done),
        RunFinished((done,), 2.0),
    ]
    out = Tty()
    anyio.run(_feed, LiveReporter(out, verbose=verbose), events)
    text = out.getvalue()
    assert "layerctl summary" in text and "built" in text
    assert "heads up" in text  # a warning stays on screen at every level, as in plain output
    assert ("a log line" in text) is (verbose >= 0)
    assert ("deciding builders" in text) is (verbose >= 0)
    assert ("image ready" in text) is (verbose >= 0)
    assert (f"{target} | -- installing" in text) is (verbose >= 1)


def test_every_reporter_says_a_target_was_cached_and_where_from() -> None:
    from rich.console import Console

    from orchestrator.report.reporters.github import GitHubReporter
    from orchestrator.report.reporters.live import LiveReporter

    target = "web:py3.11-x86_64"
    cached = result(target, "cached", cache="s3://bucket/ci", sha256="ab" * 32, zipped_size=1_000_000)
    events: list[Event] = [RunStarted((target,), 1), TargetStarted(target, "native"), TargetFinished(cached),
                           RunFinished((cached,), 1.0)]  # fmt: skip
    for make in (PlainReporter, GitHubReporter):
        out = io.StringIO()
        anyio.run(_feed, make(out), events)
        assert "cached (restored from s3://bucket/ci): 1.0 MB zip" in out.getvalue(), make
    out = io.StringIO()
    anyio.run(_feed, JsonReporter(out), events)
    finished = [json.loads(line) for line in out.getvalue().splitlines()][2]["result"]
    assert (finished["status"], finished["cache"]) == ("cached", "s3://bucket/ci")
    live = LiveReporter(io.StringIO())
    live.console = Console(file=io.StringIO(), width=200, force_terminal=True)

    async def feed() -> None:
        live.live.console = live.console
        for event in events[:3]:
            await live.handle(event)

    anyio.run(feed)
    live.console.print(live._render())
    live.close()
    text = live.console.file.getvalue()  # type: ignore[attr-defined]
    assert "cached" in text and "restored from s3://bucket/ci" in text
    assert "| cached |" in markdown_summary([cached], 1.0)
    page = render_html(_report([cached]))
    assert 'data-status="cached"' in page and ">cached<" in page
