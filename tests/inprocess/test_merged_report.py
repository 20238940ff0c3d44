"""`layerctl report --merge`: the reports of a CI matrix's parts, each written by a real run (the
fake executor builds, ``runskeleton.report_run`` writes the report as a run does) in its own checkout of
one workspace, merged by the command line into one report."""

from __future__ import annotations

import json
from datetime import datetime, timezone
from pathlib import Path

import pytest

from orchestrator.building.executors import InstallRequest
from orchestrator.core.errors import EXIT_BUILD_FAILED, EXIT_USAGE, BuildError
from orchestrator.core.process import BatchSink
from orchestrator.core.run_settings import RunFlags
from orchestrator.plan.targets import Plan
from orchestrator.report.document import load_report
from orchestrator.run.matrix import shard_plan
from orchestrator.run.skeleton import report_run
from tests.support.cli import invoke

from .conftest import FakeExecutor, plan_for, run

pytestmark = pytest.mark.anyio

LAYERS = ["alpha", "beta", "gamma", "delta", "eps"]


async def fails(request: InstallRequest, log: BatchSink, attempt: int) -> None:
    await log("pip: no matching distribution")
    raise BuildError("no matching distribution for nothing-such")


def checkout(root: Path, layers: list[str], **options: object) -> Plan:
    root.mkdir(parents=True)
    return plan_for(root, layers, **options)


async def part(root: Path, only: list[str], executor: FakeExecutor | None = None) -> Path:
    """One shard: the whole workspace checked out at ``root``, the targets of ``only`` built."""
    plan = checkout(root, LAYERS, only=tuple(only), keep_going=True)
    started = datetime.now(timezone.utc)
    outcome = await run(plan, executor or FakeExecutor(), jobs=2, keep_going=True)
    await report_run(plan, outcome, started)
    return root / "build" / "layerctl" / "report.json"


async def three_parts(tmp_path: Path, executor: FakeExecutor | None = None) -> list[Path]:
    """Three runners, each its own checkout directory of the workspace ``mono``."""
    return [
        await part(tmp_path / "runner-1" / "mono", ["alpha:*", "beta:*"]),
        await part(tmp_path / "runner-2" / "mono", ["gamma:*"], executor),
        await part(tmp_path / "runner-3" / "mono", ["delta:*", "eps:*"]),
    ]


async def test_three_parts_merge_into_their_union(tmp_path: Path) -> None:
    parts = await three_parts(tmp_path)
    out = tmp_path / "merged"
    result = invoke(
        ["report", "--merge", *map(str, parts), "-o", str(out)], env={"GITHUB_STEP_SUMMARY": None}
    )
    assert result.exit_code == 0, result.output + result.stderr
    merged = load_report(out / "report.json")
    reports = [load_report(p) for p in parts]
    assert [t.id for t in merged.targets] == [t.id for r in reports for t in r.targets]
    assert [t for t in merged.targets] == [
        t for r in reports for t in r.targets
    ]  # rows as the parts wrote them
    assert merged.counts == {"built": 5}
    assert merged.workspace_id == reports[0].workspace_id
    assert (merged.workspace_id or "").startswith("mono-")
    assert [p.targets for p in merged.parts] == [[t.id for t in r.targets] for r in reports]
    first = min(datetime.fromisoformat(r.started_at).timestamp() for r in reports)
    last = max(datetime.fromisoformat(r.started_at).timestamp() + r.duration_s for r in reports)
    assert merged.duration_s == pytest.approx(last - first, abs=0.01)
    assert merged.jobs == 6 and merged.exit_code == 0
    # every part is called report.json: each lane is named by its path as given
    assert [p.label for p in merged.parts] == [str(p) for p in parts]
    assert "3 parts, 5 targets (5 built)" in result.output
    for row in merged.targets:  # the summary is as wide as build-all's when not on a terminal
        assert f" {row.id} " in result.output, result.output
    html = (out / "report.html").read_text()
    for path in parts:
        assert f'<g class="lane" data-part="{path}">' in html
    assert html.count('class="lane-bar"') == 5
    # the merged report is a report: `layerctl report` renders it again, lanes included
    again = invoke(["report", str(out / "report.json"), "-o", str(tmp_path / "again.html")])
    assert again.exit_code == 0, again.output + again.stderr
    assert (tmp_path / "again.html").read_text().count('<g class="lane"') == 3


async def test_a_part_that_records_its_shard_is_named_by_it(tmp_path: Path) -> None:
    parts = await three_parts(tmp_path)
    for i, path in enumerate(parts, 1):
        data = json.loads(path.read_text())
        data["shard"] = f"{i}/3"
        path.write_text(json.dumps(data))
    out = tmp_path / "merged"
    assert invoke(["report", "--merge", *map(str, parts), "-o", str(out)]).exit_code == 0
    assert [p.label for p in load_report(out / "report.json").parts] == ["1/3", "2/3", "3/3"]
    assert '<g class="lane" data-part="2/3">' in (out / "report.html").read_text()


async def test_a_run_of_one_shard_records_it_and_the_merge_names_its_lane(tmp_path: Path) -> None:
    """`build-all --shard K/N` (or `auto`, resolved from GitLab's variables) writes `shard`."""
    parts = []
    for k, spec in enumerate(("1/3", "auto", "3/3"), 1):
        plan = checkout(tmp_path / f"runner-{k}" / "mono", LAYERS)
        flags = RunFlags.model_validate({"shard": spec})
        plan = shard_plan(plan, flags, print, environ={"CI_NODE_INDEX": "2", "CI_NODE_TOTAL": "3"})
        outcome = await run(plan, FakeExecutor(), jobs=2)
        await report_run(plan, outcome, datetime.now(timezone.utc))
        parts.append(tmp_path / f"runner-{k}" / "mono" / "build" / "layerctl" / "report.json")
    assert [load_report(p).shard for p in parts] == ["1/3", "2/3", "3/3"]
    out = tmp_path / "merged"
    assert invoke(["report", "--merge", *map(str, parts), "-o", str(out)]).exit_code == 0
    merged = load_report(out / "report.json")
    assert [p.label for p in merged.parts] == ["1/3", "2/3", "3/3"]
    assert sorted(t.id for t in merged.targets) == sorted(f"{name}:py3.12-x86_64" for name in LAYERS)
    # a run without --shard records none
    whole = checkout(tmp_path / "runner-0" / "mono", LAYERS)
    await report_run(whole, await run(whole, FakeExecutor()), datetime.now(timezone.utc))
    assert load_report(tmp_path / "runner-0" / "mono" / "build" / "layerctl" / "report.json").shard is None


async def test_the_worst_part_exit_code_is_recorded_and_is_the_commands(tmp_path: Path) -> None:
    parts = await three_parts(tmp_path, FakeExecutor(behaviours={"gamma": fails}))
    assert load_report(parts[1]).exit_code == EXIT_BUILD_FAILED
    out = tmp_path / "merged"
    result = invoke(["report", "--merge", *map(str, parts), "-o", str(out)])
    assert result.exit_code == EXIT_BUILD_FAILED, result.output + result.stderr
    merged = load_report(out / "report.json")
    assert merged.exit_code == EXIT_BUILD_FAILED
    assert merged.counts == {"built": 4, "failed": 1}
    assert "gamma:py3.12-x86_64 FAILED" in result.output
    assert "exit code 1" in result.output
    assert (out / "report.json").is_file()  # written whatever the parts' outcome


async def test_step_summary_gets_the_merged_table(tmp_path: Path) -> None:
    parts = await three_parts(tmp_path)
    summary = tmp_path / "summary.md"
    summary.write_text("earlier step\n")
    out = tmp_path / "merged"
    result = invoke(
        ["report", "--merge", *map(str, parts), "-o", str(out)], env={"GITHUB_STEP_SUMMARY": str(summary)}
    )
    assert result.exit_code == 0, result.output + result.stderr
    text = summary.read_text()
    assert text.startswith("earlier step\n### layerctl: 5 targets in ")
    for layer in LAYERS:
        assert f"| `{layer}:py3.12-x86_64` | native | built |" in text
    assert "**merged**: 3 parts, 5 targets" in text
    assert text.count("| 0 |") == 3  # one row per part, each exit code 0


async def test_an_unwritable_step_summary_is_a_warning_not_a_failure(tmp_path: Path) -> None:
    parts = await three_parts(tmp_path)
    out = tmp_path / "merged"
    result = invoke(
        ["report", "--merge", *map(str, parts), "-o", str(out)],
        env={"GITHUB_STEP_SUMMARY": str(tmp_path / "no-such-dir" / "summary.md")},
    )
    assert result.exit_code == 0
    assert "cannot append the merged summary" in result.stderr
    assert (out / "report.json").is_file()


async def test_a_target_in_two_parts_is_one_line_naming_both(tmp_path: Path) -> None:
    one = await part(tmp_path / "runner-1" / "mono", ["alpha:*", "beta:*"])
    two = await part(tmp_path / "runner-2" / "mono", ["beta:*"])
    out = tmp_path / "merged"
    result = invoke(["report", "--merge", str(one), str(two), "-o", str(out)])
    assert result.exit_code == EXIT_USAGE
    line = result.stderr.strip()
    assert "\n" not in line and "Traceback" not in line
    assert f"target beta:py3.12-x86_64 is in both {one} and {two}" in line
    assert not out.exists()


async def test_parts_of_different_workspaces_are_one_line_naming_them(tmp_path: Path) -> None:
    one = await part(tmp_path / "runner-1" / "mono", ["alpha:*"])
    root = tmp_path / "runner-2" / "mono"
    plan = checkout(root, ["other"])  # the same directory name, other layers
    outcome = await run(plan, FakeExecutor())
    await report_run(plan, outcome, datetime.now(timezone.utc))
    two = root / "build" / "layerctl" / "report.json"
    result = invoke(["report", "--merge", str(one), str(two), "-o", str(tmp_path / "merged")])
    assert result.exit_code == EXIT_USAGE
    line = result.stderr.strip()
    assert "\n" not in line
    assert f"{one} and {two} are reports of different workspaces" in line


@pytest.mark.parametrize(
    "content, says",
    [
        ("{not json", "not a readable JSON report"),
        ('{"schema": "something/9"}', "is not a layerctl report"),
        ('{"schema": "layerctl-report/3", "started_at": "x"}', "field duration_s"),
        ("[" * 100_000, "not a readable JSON report"),
    ],
)
async def test_a_malformed_part_is_one_line_naming_the_file(tmp_path: Path, content: str, says: str) -> None:
    good = await part(tmp_path / "runner-1" / "mono", ["alpha:*"])
    bad = tmp_path / "bad.json"
    bad.write_text(content)
    result = invoke(["report", "--merge", str(good), str(bad), "-o", str(tmp_path / "merged")])
    assert result.exit_code == EXIT_USAGE, result.stderr
    line = result.stderr.strip()
    assert "\n" not in line and line.startswith(f"layerctl: error: {bad}: ")
    assert says in line


async def test_a_missing_part_is_one_line_naming_it(tmp_path: Path) -> None:
    good = await part(tmp_path / "runner-1" / "mono", ["alpha:*"])
    result = invoke(["report", "--merge", str(good), str(tmp_path / "gone.json"), "-o", str(tmp_path / "m")])
    assert result.exit_code == EXIT_USAGE
    assert result.stderr.strip().startswith(f"layerctl: error: {tmp_path / 'gone.json'}: no such report")


async def test_the_default_directory_is_the_workspaces_report_dir(tmp_path: Path) -> None:
    parts = await three_parts(tmp_path)
    publish = tmp_path / "publish-job" / "mono"  # a fresh checkout: no report-dir yet
    publish.mkdir(parents=True)
    (publish / "pyproject.toml").write_text('[tool.layerctl]\nreport-dir = "out/reports"\n')
    result = invoke(["-C", str(publish), "report", "--merge", *map(str, parts)])
    assert result.exit_code == 0, result.output + result.stderr
    assert len(load_report(publish / "out" / "reports" / "report.json").targets) == 5
    assert (publish / "out" / "reports" / "report.html").is_file()
    assert (publish / "out" / "reports" / ".layerctl-dir").is_file()  # layerctl's, as a run makes it


async def test_report_without_merge_takes_one_file(tmp_path: Path) -> None:
    parts = await three_parts(tmp_path)
    result = invoke(["report", *map(str, parts[:2])])
    assert result.exit_code == EXIT_USAGE
    assert "--merge" in result.stderr


async def test_the_merge_never_writes_over_one_of_its_parts(tmp_path: Path) -> None:
    """The default output (the workspace's report-dir) or `-o` at a part's directory would be
    one of the inputs: refused with one line, every part left as it was."""
    parts = await three_parts(tmp_path)
    before = [p.read_bytes() for p in parts]
    workspace = parts[0].parents[2]
    for args in (
        ["-C", str(workspace), "report", "--merge", *map(str, parts)],  # the default: runner-1's report-dir
        ["report", "--merge", *map(str, parts), "-o", str(parts[1].parent)],
        ["report", "--merge", *map(str, parts), "-o", str(parts[2].parent / ".." / "layerctl")],
    ):
        result = invoke(args, env={"GITHUB_STEP_SUMMARY": None})
        assert result.exit_code == EXIT_USAGE, result.output + result.stderr
        assert "is one of the parts" in result.stderr and len(result.stderr.strip().splitlines()) == 1
    assert [p.read_bytes() for p in parts] == before
    assert not (parts[0].parent / "report.html").read_text().count('class="lane"')  # not rewritten
    elsewhere = invoke(
        ["-C", str(tmp_path / "runner-2" / "mono"), "report", "--merge", str(parts[0]), str(parts[2])]
    )
    assert elsewhere.exit_code == 0, elsewhere.stderr  # another checkout's report-dir is not a part


async def test_shards_merge_only_as_a_whole_matrix_unless_partial(tmp_path: Path) -> None:
    parts = []
    for k, spec in enumerate(("1/3", "3/3", "2/2"), 1):
        plan = checkout(tmp_path / f"runner-{k}" / "mono", LAYERS)
        plan = shard_plan(plan, RunFlags.model_validate({"shard": spec}), print)
        await report_run(plan, await run(plan, FakeExecutor(), jobs=2), datetime.now(timezone.utc))
        parts.append(tmp_path / f"runner-{k}" / "mono" / "build" / "layerctl" / "report.json")
    out = str(tmp_path / "merged")
    missing = invoke(["report", "--merge", str(parts[0]), str(parts[1]), "-o", out])
    assert missing.exit_code == EXIT_USAGE and len(missing.stderr.strip().splitlines()) == 1
    assert "shard 2/3 is missing (the parts are 1/3, 3/3)" in missing.stderr and "--partial" in missing.stderr
    partial = invoke(["report", "--merge", "--partial", str(parts[0]), str(parts[1]), "-o", out])
    assert partial.exit_code == 0, partial.stderr
    assert [p.label for p in load_report(tmp_path / "merged" / "report.json").parts] == ["1/3", "3/3"]
    mixed = invoke(["report", "--merge", "--partial", str(parts[0]), str(parts[2]), "-o", out])
    assert mixed.exit_code == EXIT_USAGE and "is shard 1/3 but" in mixed.stderr
    alone = invoke(["report", "--partial", str(parts[0])])
    assert alone.exit_code == EXIT_USAGE and "--partial is for --merge" in alone.stderr
