"""Shards (``--shard K/N``) and ``layerctl matrix``: disjoint, covering, balanced by expected cost,
and the matrix's shard K is exactly what ``--shard K/N`` selects."""

from __future__ import annotations

import json
import random
from collections.abc import Callable
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pytest

from orchestrator.core.events import TargetResult
from orchestrator.core.shardspec import MAX_SHARDS
from orchestrator.plan.shards import Unit, auto_count, costs_of, split
from orchestrator.report.document import write_report
from tests.support.cli import invoke

LAYERS = {
    "a": "",
    "b": '[tool.layerctl]\nbuilder = "container"\n',
    "c": "",
    "d": "",
}
WORKSPACE = 'python = ["3.11", "3.12", "3.13"]\narch = ["x86_64", "arm64"]\n'  # 24 targets


@pytest.fixture
def root(make_workspace: Callable[..., Path]) -> Path:
    return make_workspace(WORKSPACE, LAYERS)


def ids(root: Path, *args: str, env: dict[str, str | None] | None = None) -> list[str]:
    result = invoke(["-C", str(root), "list", "--no-decide", "--format", "json", *args], env=env)
    assert result.exit_code == 0, result.stderr
    return [row["id"] for row in json.loads(result.stdout)] if result.stdout.strip() else []


def matrix(root: Path, *args: str) -> Any:
    result = invoke(["-C", str(root), "matrix", *args])
    assert result.exit_code == 0, result.stderr
    return json.loads(result.stdout)


@pytest.mark.parametrize("n", range(1, 7))
def test_the_shards_of_list_are_disjoint_and_cover_the_selection(root: Path, n: int) -> None:
    everything = ids(root)
    assert len(everything) == 24
    parts = [ids(root, "--shard", f"{k}/{n}") for k in range(1, n + 1)]
    union = [i for part in parts for i in part]
    assert sorted(union) == sorted(everything)  # exactly: no target twice, none missing
    assert all(parts), "no shard is empty with fewer shards than targets"


def test_the_shards_respect_the_selection_flags(root: Path) -> None:
    selected = ids(root, "--skip", "c:*", "--python", "3.12")
    parts = [ids(root, "--skip", "c:*", "--python", "3.12", "--shard", f"{k}/3") for k in (1, 2, 3)]
    assert sorted(i for p in parts for i in p) == sorted(selected)


@pytest.mark.parametrize("n", [2, 3, 5])
def test_the_matrix_shard_k_is_what_shard_k_selects(root: Path, n: int) -> None:
    include = matrix(root, "--shards", str(n))["include"]
    assert [row["shard"] for row in include] == [f"{k}/{n}" for k in range(1, n + 1)]
    for row in include:
        assert row["targets"] == ids(root, "--shard", row["shard"])
        assert {t.rsplit("-", 1)[1] for t in row["targets"]} == {row["arch"]}  # one arch per shard
        assert row["runs-on"] == {"x86_64": "ubuntu-24.04", "arm64": "ubuntu-24.04-arm"}[row["arch"]]


def test_the_matrix_formats(make_workspace: Callable[..., Path]) -> None:
    root = make_workspace(WORKSPACE + 'runner-arm64 = "my-arm"\n', LAYERS)
    github = invoke(["-C", str(root), "matrix", "--shards", "4"])
    assert github.exit_code == 0 and len(github.stdout.strip().splitlines()) == 1  # one line: $GITHUB_OUTPUT
    include = json.loads(github.stdout)["include"]
    assert set(include[0]) == {"shard", "arch", "runs-on", "expected-s", "targets"}
    assert "my-arm" in {row["runs-on"] for row in include}
    plain = matrix(root, "--shards", "4", "--format", "json")
    assert plain == include
    gitlab = matrix(root, "--shards", "4", "--format", "gitlab")
    assert gitlab == {
        "parallel": {
            "matrix": [
                {"LAYERCTL_SHARD": row["shard"], "ARCH": row["arch"], "RUNNER": row["runs-on"]}
                for row in include
            ]
        }
    }


def test_fewer_shards_than_arches_are_raised_in_the_matrix_and_mix_in_list(root: Path) -> None:
    include = matrix(root, "--shards", "1")["include"]
    assert [row["shard"] for row in include] == ["1/2", "2/2"]
    assert sorted(ids(root, "--shard", "1/1")) == sorted(ids(root))


def test_shard_auto_reads_gitlab_parallel_variables(root: Path) -> None:
    env: dict[str, str | None] = {"LAYERCTL_SHARD": "auto", "CI_NODE_INDEX": "2", "CI_NODE_TOTAL": "3"}
    assert ids(root, env=env) == ids(root, "--shard", "2/3")
    result = invoke(["-C", str(root), "list", "--no-decide", "--shard", "auto"], env={"CI_NODE_INDEX": None})
    assert result.exit_code == 2
    assert "CI_NODE_INDEX" in result.stderr and len(result.stderr.strip().splitlines()) == 1


@pytest.mark.parametrize("spec", ["0/4", "5/4", "x", "1/0", "-1/2", ""])
def test_a_bad_shard_is_a_one_line_usage_error(root: Path, spec: str) -> None:
    for command in (["list", "--no-decide"], ["build-all"]):
        result = invoke(["-C", str(root), *command, "--shard", spec])
        assert result.exit_code == 2, result.stderr
        assert "--shard" in result.stderr and len(result.stderr.strip().splitlines()) == 1
    result = invoke(["-C", str(root), "matrix", "--shards", "0"])
    assert result.exit_code == 2 and "--shards" in result.stderr


def test_an_empty_shard_builds_nothing_and_says_so(make_workspace: Callable[..., Path]) -> None:
    root = make_workspace('arch = ["x86_64"]\n', {"a": ""})
    result = invoke(["-C", str(root), "list", "--no-decide", "--shard", "2/3"])
    assert result.exit_code == 0 and "holds no targets" in result.stderr


def test_durations_from_a_report_weigh_the_shards(root: Path) -> None:
    everything = ids(root)
    rows = [_row(i, 1.0) for i in everything]
    rows[0] = _row(everything[0], 1000.0)  # one target costs more than all the others together
    report = root / "previous.json"
    write_report(report, results=tuple(rows), started_at=datetime.now(timezone.utc), duration_s=1.0,
                 workspace=root, jobs=1, exit_code=0, interrupted=False)  # fmt: skip
    arch = everything[0].rsplit("-", 1)[1]
    include = matrix(root, "--shards", "4", "--durations", str(report))["include"]
    alone = [row for row in include if everything[0] in row["targets"]]
    assert alone[0]["targets"] == [everything[0]]  # the heavy target has its shard to itself
    assert ids(root, "--shard", alone[0]["shard"], "--durations", str(report)) == [everything[0]]
    assert sum(row["arch"] == arch for row in include) == 3  # the heavy arch got the extra shards
    missing = invoke(["-C", str(root), "matrix", "--durations", str(root / "nope.json")])
    assert missing.exit_code == 2 and "no such report" in missing.stderr


def _row(target_id: str, seconds: float) -> TargetResult:
    layer, variant = target_id.split(":")
    python, arch = variant[2:].split("-")
    return TargetResult(id=target_id, layer=layer, python=python, arch=arch, tool="pip",
                        builder="native", status="built", duration_s=seconds)  # fmt: skip


@pytest.mark.parametrize("n", [2, 4, 8, 12])
def test_with_measured_durations_the_costliest_shard_is_within_10_percent_of_ideal(n: int) -> None:
    rng = random.Random(n)
    units = [Unit(f"l{i}:py3.12-{arch}", arch, "native") for i in range(150) for arch in ("x86_64", "arm64")]
    durations = {u.id: rng.lognormvariate(3.5, 0.8) for u in units}
    shards = split(units, durations, n)
    assert sorted(i for s in shards for i in s.ids) == sorted(u.id for u in units)
    ideal = sum(durations.values()) / n
    assert max(s.cost for s in shards) <= 1.10 * ideal


def test_the_split_is_stable_and_ignores_the_order_of_the_selection() -> None:
    units = [Unit(f"l{i}:py3.12-x86_64", "x86_64", ("native", "container")[i % 2]) for i in range(40)]
    costs = costs_of(units, {})
    one, two = split(units, costs, 5), split(list(reversed(units)), costs, 5)
    assert [set(s.ids) for s in one] == [set(s.ids) for s in two]
    assert auto_count(units, costs) == 3  # 20 x 30 s + 20 x 60 s = 1800 s, one shard per 600 s


@pytest.mark.parametrize(
    ("args", "env", "named"),
    [
        (["list", "--no-decide", "--shard", "1/999999999999999999999"], {}, "--shard"),
        (["build-all", "--dry-run", "--shard", "1/10000000"], {}, "--shard"),
        (["list", "--no-decide", "--shard", f"1/{MAX_SHARDS + 1}"], {}, "--shard"),
        (["matrix", "--shards", "999999999999"], {}, "--shards"),
        (["list", "--no-decide"], {"LAYERCTL_SHARD": "1/99999999"}, "LAYERCTL_SHARD"),
        (
            ["list", "--no-decide", "--shard", "auto"],
            {"CI_NODE_INDEX": "1", "CI_NODE_TOTAL": "999999999999"},
            "CI_NODE_TOTAL",
        ),
    ],
)
def test_an_absurd_shard_count_is_refused_when_it_is_parsed(
    root: Path, args: list[str], env: dict[str, str | None], named: str
) -> None:
    result = invoke(["-C", str(root), *args], env=env)
    assert result.exit_code == 2, (result.exit_code, result.stderr)
    assert named in result.stderr and str(MAX_SHARDS) in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_the_cap_itself_is_accepted(root: Path) -> None:
    assert ids(root, "--shard", f"{MAX_SHARDS}/{MAX_SHARDS}") == []  # more shards than targets: empty
    include = matrix(root, "--shards", str(MAX_SHARDS))["include"]
    assert len(include) == 24  # never more shards than targets


def test_the_split_allocates_nothing_per_shard_beyond_the_targets() -> None:
    units = [Unit(f"l{i}:py3.12-{arch}", arch, "native") for i in range(3) for arch in ("x86_64", "arm64")]
    shards = split(units, costs_of(units, {}), 10**12)  # a huge total: no list of 10**12 shards
    assert len(shards) == len(units) and all(len(s.ids) == 1 for s in shards)
    assert {s.total for s in shards} == {10**12}


def test_the_matrix_counts_only_the_shards_that_hold_targets(root: Path) -> None:
    include = matrix(root, "--shards", "30")["include"]  # 24 targets
    assert [row["shard"] for row in include] == [f"{k}/24" for k in range(1, 25)]
    for row in include[:3]:
        assert row["targets"] == ids(root, "--shard", row["shard"])


def test_a_shard_of_zero_shards_says_n_must_be_at_least_one(root: Path) -> None:
    """--shard 1/0 said "K/N needs 1 <= K <= N (e.g. 1/1)": an example that is not the fix."""
    result = invoke(["-C", str(root), "list", "--no-decide", "--shard", "1/0"])
    assert result.exit_code == 2 and "N >= 1" in result.stderr and "e.g. 1/1)" not in result.stderr
