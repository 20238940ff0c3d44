"""Merging reports (``merge.py``), the workspace identity (``identity.py``) and the lanes of a
merged report.html (``report_lanes.py``), on reports made by hand."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from packaging.specifiers import SpecifierSet

from orchestrator.core.errors import (
    EXIT_BUILD_FAILED,
    EXIT_ENVIRONMENT,
    EXIT_INTERRUPTED,
    EXIT_OK,
    EXIT_PUBLISH,
    EXIT_USAGE,
    ConfigError,
)
from orchestrator.core.events import RunReport, TargetResult
from orchestrator.report.document import load_report
from orchestrator.report.html import render_html
from orchestrator.report.lanes import pack_rows
from orchestrator.report.merge import merge_reports, worst_exit_code
from orchestrator.workspace.discovery import Layer, Tool
from orchestrator.workspace.identity import workspace_id


def row(
    target: str, status: str = "built", start: float | None = 1000.0, duration: float = 2.0
) -> TargetResult:
    return TargetResult.model_validate(
        {"id": target, "layer": target.split(":")[0], "python": "3.12", "arch": "x86_64", "tool": "uv",
         "builder": "native", "status": status, "started_at": start, "duration_s": duration}
    )  # fmt: skip


def report(
    *rows: TargetResult,
    started_at: str = "2026-01-01T00:00:00+00:00",
    duration: float = 10.0,
    code: int = 0,
    wid: str | None = "mono-0123456789ab",
    workspace: str = "/runner/a/mono",
    shard: str | None = None,
) -> RunReport:
    counts: dict[str, int] = {}
    for r in rows:
        counts[r.status] = counts.get(r.status, 0) + 1
    return RunReport(started_at=started_at, duration_s=duration, workspace=workspace, workspace_id=wid,
                     shard=shard, jobs=2, exit_code=code, interrupted=code == EXIT_INTERRUPTED,
                     counts=counts, targets=list(rows))  # fmt: skip


def layer(root: Path, name: str, where: str) -> Layer:
    return Layer(name=name, root=root / where, pyproject=root / where / "pyproject.toml", tool=Tool.UV,
                 requires_python=SpecifierSet(), dependencies=())  # fmt: skip


@pytest.mark.parametrize(
    "codes, worst",
    [
        ([], EXIT_OK),
        ([0, 0], EXIT_OK),
        ([0, 4], EXIT_PUBLISH),
        ([4, 1, 0], EXIT_BUILD_FAILED),  # a failed target over a failed publish, as exit_code_for
        ([1, 2], EXIT_USAGE),
        ([2, 3, 1], EXIT_ENVIRONMENT),
        ([3, 130, 1], EXIT_INTERRUPTED),
        ([3, 70], 70),  # a code no run writes today ranks just after 130
        ([130, 70], EXIT_INTERRUPTED),
    ],
)
def test_worst_exit_code_follows_the_runs_precedence(codes: list[int], worst: int) -> None:
    assert worst_exit_code(codes) == worst


def test_the_workspace_id_is_the_same_wherever_it_is_checked_out(tmp_path: Path) -> None:
    a, b = tmp_path / "runner-a" / "mono", tmp_path / "elsewhere" / "mono"
    here = workspace_id(a, [layer(a, "web", "layers/web"), layer(a, "api", "layers/api")])
    assert here == workspace_id(b, [layer(b, "api", "layers/api"), layer(b, "web", "layers/web")])
    assert here.startswith("mono-") and str(tmp_path) not in here
    assert here != workspace_id(b, [layer(b, "web", "layers/web")])  # other layers
    assert here != workspace_id(b, [layer(b, "web", "web"), layer(b, "api", "layers/api")])  # moved
    other = tmp_path / "other"
    assert workspace_id(other, []) != workspace_id(tmp_path / "mono", [])  # the root's name


def test_merge_keeps_rows_in_part_order_and_adds_up(tmp_path: Path) -> None:
    one = report(row("a:py3.12-x86_64"), row("b:py3.12-x86_64", "failed"), code=1, shard="1/2")
    two = report(row("c:py3.12-x86_64", "up-to-date"), started_at="2026-01-01T00:00:05+00:00",
                 duration=30.0, workspace="/runner/b/mono", shard="2/2")  # fmt: skip
    merged = merge_reports([(tmp_path / "1.json", one), (tmp_path / "2.json", two)])
    assert [t.id for t in merged.targets] == ["a:py3.12-x86_64", "b:py3.12-x86_64", "c:py3.12-x86_64"]
    assert merged.counts == {"built": 1, "failed": 1, "up-to-date": 1}
    assert merged.started_at == "2026-01-01T00:00:00+00:00"
    assert merged.duration_s == 35.0  # from the first start to the last end
    assert merged.exit_code == 1 and merged.jobs == 4 and not merged.interrupted
    assert [(p.label, p.exit_code, p.targets) for p in merged.parts] == [
        ("1/2", 1, ["a:py3.12-x86_64", "b:py3.12-x86_64"]),
        ("2/2", 0, ["c:py3.12-x86_64"]),
    ]


def test_a_merged_report_is_refused_as_a_part(tmp_path: Path) -> None:
    merged = merge_reports([(tmp_path / "1.json", report(row("a:py3.12-x86_64")))])
    with pytest.raises(ConfigError, match="2.json: is a merged report already"):
        merge_reports([(tmp_path / "2.json", merged), (tmp_path / "3.json", report(row("b:py3.12-x86_64")))])


def test_checkouts_in_differently_named_directories_are_one_workspace(tmp_path: Path) -> None:
    """CI runners check out under names of their own (``job@2``, ``r1s2``): the layers' digest
    tells a workspace, the root's name only labels it."""
    one = report(row("a:py3.12-x86_64"), wid="job-0123456789ab", workspace="/runner/a/job")
    two = report(row("b:py3.12-x86_64"), wid="job@2-0123456789ab", workspace="/runner/b/job@2")
    merged = merge_reports([(tmp_path / "1.json", one), (tmp_path / "2.json", two)])
    assert len(merged.targets) == 2 and merged.workspace_id == "job-0123456789ab"
    other = report(row("b:py3.12-x86_64"), wid="job-ba9876543210", workspace="/runner/b/job")
    with pytest.raises(ConfigError, match=r"different workspaces \(job-0123456789ab and job-ba9876543210\)"):
        merge_reports([(tmp_path / "1.json", one), (tmp_path / "2.json", other)])


def test_reports_older_than_the_identity_are_told_apart_by_the_roots_name(tmp_path: Path) -> None:
    """A layerctl-report/2 part has no workspace_id: its workspace root's name stands for it."""
    one = report(row("a:py3.12-x86_64"), wid=None, workspace="/runner/a/mono")
    same = report(row("b:py3.12-x86_64"), wid="mono-0123456789ab", workspace="/runner/b/mono")
    assert len(merge_reports([(tmp_path / "1.json", one), (tmp_path / "2.json", same)]).targets) == 2
    other = report(row("b:py3.12-x86_64"), wid=None, workspace="/runner/b/other")
    with pytest.raises(ConfigError, match=r"different workspaces \(mono and other\)"):
        merge_reports([(tmp_path / "1.json", one), (tmp_path / "2.json", other)])


def test_an_older_report_still_loads_and_merges(tmp_path: Path) -> None:
    data = report(row("a:py3.12-x86_64"), wid=None).model_dump(mode="json")
    del data["schema_"], data["workspace_id"], data["shard"], data["parts"]
    path = tmp_path / "old.json"
    path.write_text(json.dumps({"schema": "layerctl-report/2", **data}))
    old = load_report(path)
    assert old.workspace_id is None and old.shard is None and old.parts == []
    assert merge_reports([(path, old)]).parts[0].label == "old.json"


def test_pack_rows_never_puts_overlapping_bars_in_one_row() -> None:
    spans = [(0.0, 5.0), (1.0, 3.0), (3.0, 4.0), (5.0, 6.0), (2.0, 7.0)]
    assert pack_rows(spans) == [0, 1, 1, 0, 2]


def test_the_html_has_a_lane_per_part_with_its_targets(tmp_path: Path) -> None:
    one = report(row("a:py3.12-x86_64", start=1767225600.0), row("b:py3.12-x86_64", "failed", start=1767225601.0),
                 shard="1/2", code=1)  # fmt: skip
    two = report(row("c:py3.12-x86_64", start=1767225605.0), row("d:py3.12-x86_64", "not-run", start=None),
                 shard="2/2", workspace="/runner/b/mono")  # fmt: skip
    html = render_html(merge_reports([(tmp_path / "1.json", one), (tmp_path / "2.json", two)]))
    lanes = html.split('<g class="lane" ')[1:]
    assert [lane.split('"')[1] for lane in lanes] == ["1/2", "2/2"]
    assert 'data-target="a:py3.12-x86_64"' in lanes[0] and 'data-target="b:py3.12-x86_64"' in lanes[0]
    assert 'data-target="c:py3.12-x86_64" data-status="built"' in lanes[1]
    assert 'data-status="failed"' in lanes[0]
    assert "<h2>Parts</h2>" in html
    assert "<h2>Parts</h2>" not in render_html(one)  # a run's own report has no parts


def _shards(tmp_path: Path, *specs: str | None) -> list[tuple[Path, RunReport]]:
    return [
        (tmp_path / f"{i}.json", report(row(f"l{i}:py3.12-x86_64"), shard=spec))
        for i, spec in enumerate(specs)
    ]


@pytest.mark.parametrize(
    ("specs", "said"),
    [
        (("1/3", "2/3"), r"shard 3/3 is missing \(the parts are 1/3, 2/3\)"),
        (("1/4", "4/4"), r"shards 2/4, 3/4 are missing"),
        (("1/3", "2/2"), r"0.json is shard 1/3 but \S*/1.json is 2/2"),
        (("1/2", "1/2"), r"0.json and \S*/1.json are both shard 1/2"),
        (("1/2", None), r"1.json records no shard but \S*/0.json is shard 1/2"),
        (("1/2", "x/2"), r"1.json: field shard: 'x/2' is not a shard"),
    ],
)
def test_shards_that_are_not_one_whole_matrix_are_refused(
    tmp_path: Path, specs: tuple[str | None, ...], said: str
) -> None:
    with pytest.raises(ConfigError, match=said) as info:
        merge_reports(_shards(tmp_path, *specs))
    assert "\n" not in str(info.value) and info.value.exit_code == EXIT_USAGE


def test_partial_merges_some_shards_of_one_matrix_but_never_mixes_matrices(tmp_path: Path) -> None:
    merged = merge_reports(_shards(tmp_path, "1/3", "3/3"), partial=True)
    assert [p.label for p in merged.parts] == ["1/3", "3/3"]
    with pytest.raises(ConfigError, match="is shard 1/3 but"):
        merge_reports(_shards(tmp_path, "1/3", "2/2"), partial=True)
    with pytest.raises(ConfigError, match="both shard 1/3"):
        merge_reports(_shards(tmp_path, "1/3", "1/3"), partial=True)


def test_whole_matrices_and_parts_that_are_not_shards_merge(tmp_path: Path) -> None:
    assert len(merge_reports(_shards(tmp_path, "2/3", "1/3", "3/3")).parts) == 3  # in any order
    assert len(merge_reports(_shards(tmp_path, None, None)).parts) == 2  # e.g. --only per job
