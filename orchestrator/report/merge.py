"""``layerctl report --merge``: the reports of a CI matrix's parts (one ``report.json`` per shard
or job) made one report of the whole run: every part's rows, the sums, the worst exit code, a
lane per part in ``report.html`` (``report_lanes.py``) and, on GitHub Actions, the merged
summary table in ``$GITHUB_STEP_SUMMARY``."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime, timezone
from pathlib import Path, PurePath

from ..core.errors import (
    EXIT_BUILD_FAILED,
    EXIT_ENVIRONMENT,
    EXIT_INTERRUPTED,
    EXIT_OK,
    EXIT_PUBLISH,
    EXIT_USAGE,
    ConfigError,
)
from ..core.events import ReportPart, RunReport
from ..core.shardspec import parse_shard

__all__ = ["SEVERITY", "build_time", "merge_reports", "merged_markdown", "sums_line", "worst_exit_code"]

# The order of ``run.exit_code_for``: an interrupted part, then this machine's lack (3), then a
# layer that cannot be read (2), a failed target (1), a failed publish (4), success (0).
SEVERITY = (EXIT_INTERRUPTED, EXIT_ENVIRONMENT, EXIT_USAGE, EXIT_BUILD_FAILED, EXIT_PUBLISH, EXIT_OK)


def worst_exit_code(codes: Iterable[int]) -> int:
    """The code the whole matrix would have ended with as one run: the first of ``SEVERITY``
    that a part has. A code outside it (no run writes one today) ranks just after 130."""

    def rank(code: int) -> int:
        return 2 * SEVERITY.index(code) if code in SEVERITY else 1

    return min(codes, key=lambda code: (rank(code), -code), default=EXIT_OK)


def merge_reports(parts: Sequence[tuple[Path, RunReport]], *, partial: bool = False) -> RunReport:
    """One report of ``parts`` (each: the file it was read from, its report), in their order.
    Parts of different workspaces, a target in two parts, a part that is itself merged, or
    shards that are not one whole matrix (``_one_matrix``) are a ConfigError naming the files."""
    _same_workspace(parts)
    _one_matrix(parts, partial=partial)
    seen: dict[str, Path] = {}
    for path, report in parts:
        if report.parts:
            raise ConfigError(f"{path}: is a merged report already; merge the parts' own reports")
        for target in report.targets:
            if target.id in seen:
                raise ConfigError(
                    f"target {target.id} is in both {seen[target.id]} and {path}; "
                    "give each part's report once (each shard builds its own targets)"
                )
            seen[target.id] = path
    spans = [(_start(path, report), report.duration_s) for path, report in parts]
    first = min(start for start, _ in spans)
    wall = max(start.timestamp() + duration for start, duration in spans) - first.timestamp()
    targets = [target for _, report in parts for target in report.targets]
    counts: dict[str, int] = {}
    for target in targets:
        counts[target.status] = counts.get(target.status, 0) + 1
    labels = _labels(parts)
    return RunReport(
        started_at=first.astimezone(timezone.utc).isoformat(timespec="seconds"),
        duration_s=round(wall, 3),
        workspace=parts[0][1].workspace,
        workspace_id=parts[0][1].workspace_id,
        jobs=sum(report.jobs for _, report in parts),
        exit_code=worst_exit_code(report.exit_code for _, report in parts),
        interrupted=any(report.interrupted for _, report in parts),
        counts=counts,
        targets=targets,
        parts=[
            ReportPart(
                label=label,
                file=str(path),
                started_at=report.started_at,
                duration_s=report.duration_s,
                jobs=report.jobs,
                exit_code=report.exit_code,
                interrupted=report.interrupted,
                targets=[t.id for t in report.targets],
            )
            for label, (path, report) in zip(labels, parts, strict=True)
        ],
    )


def _same_workspace(parts: Sequence[tuple[Path, RunReport]]) -> None:
    """Every part of one workspace: by ``workspace_id``'s digest of the layers when every part
    records it (the root's name before it only labels: runners check out under names of their
    own), else (a report older than layerctl-report/3) by the workspace root's name."""
    recorded = all(report.workspace_id for _, report in parts)

    def identity(report: RunReport) -> str:
        return report.workspace_id or "" if recorded else PurePath(report.workspace).name

    def same(a: RunReport, b: RunReport) -> bool:
        if recorded:
            return (a.workspace_id or "").rpartition("-")[2] == (b.workspace_id or "").rpartition("-")[2]
        return identity(a) == identity(b)

    first_path, first = parts[0]
    for path, report in parts[1:]:
        if not same(report, first):
            raise ConfigError(
                f"{first_path} and {path} are reports of different workspaces "
                f"({identity(first)} and {identity(report)}); merge the reports of one workspace"
            )


def _one_matrix(parts: Sequence[tuple[Path, RunReport]], *, partial: bool) -> None:
    """Parts that record a shard (``build-all --shard K/N``) are the shards of one matrix: every
    part one, all of the same N, no K twice and (unless ``partial``) every K of 1..N. Parts
    that record none (jobs split another way, e.g. by ``--only``) are merged as they are."""
    sharded = [(path, report.shard) for path, report in parts if report.shard is not None]
    if not sharded:
        return
    first_path, first = sharded[0]
    specs: dict[int, Path] = {}
    total = 0
    for path, report in parts:
        if report.shard is None:
            raise ConfigError(
                f"{path} records no shard but {first_path} is shard {first}; merge the shards of one matrix"
            )
        try:
            spec = parse_shard(report.shard)
        except ValueError as exc:
            raise ConfigError(f"{path}: field shard: {exc}") from None
        if total and spec.total != total:
            raise ConfigError(
                f"{first_path} is shard {first} but {path} is {report.shard}; "
                "merge the shards of one matrix (one N)"
            )
        total = spec.total
        if spec.index in specs:
            raise ConfigError(
                f"{specs[spec.index]} and {path} are both shard {report.shard}; give each shard's report once"
            )
        specs[spec.index] = path
    missing = [f"{k}/{total}" for k in range(1, total + 1) if k not in specs]
    if missing and not partial:
        have = ", ".join(f"{k}/{total}" for k in sorted(specs))
        which = f"shard {missing[0]} is" if len(missing) == 1 else f"shards {', '.join(missing)} are"
        raise ConfigError(
            f"{which} missing (the parts are {have}); give every shard's report, "
            "or --partial to merge only these"
        )


def _start(path: Path, report: RunReport) -> datetime:
    try:
        start = datetime.fromisoformat(report.started_at)
    except ValueError:
        raise ConfigError(f"{path}: field started_at: not an ISO 8601 time ({report.started_at!r})") from None
    return start if start.tzinfo else start.replace(tzinfo=timezone.utc)


def _labels(parts: Sequence[tuple[Path, RunReport]]) -> list[str]:
    """Each part's shard when its report records one, else its file's name; a label two parts
    share is the path as given instead (every artifact is often called report.json)."""
    labels = [report.shard or path.name for path, report in parts]
    return [
        label if labels.count(label) == 1 else str(path)
        for label, (path, _) in zip(labels, parts, strict=True)
    ]


def build_time(report: RunReport) -> float:
    """The time every target took, added up (a matrix's machine time, not its wall time)."""
    return sum(target.duration_s for target in report.targets)


def sums_line(report: RunReport) -> str:
    counts = ", ".join(f"{n} {status}" for status, n in report.counts.items())
    return (
        f"{len(report.parts)} parts, {len(report.targets)} targets ({counts}); build time "
        f"{build_time(report):.1f}s, wall time {report.duration_s:.1f}s; exit code {report.exit_code}"
    )


def merged_markdown(report: RunReport) -> str:
    """The step summary of a merged report: the run's table of every row, then one row per part."""
    from .reporters.summary import markdown_summary

    rows = [
        markdown_summary(report.targets, report.duration_s).rstrip("\n"),
        "",
        f"**merged**: {sums_line(report)}",
        "",
        "| part | targets | time | exit code |",
        "|---|---:|---:|---:|",
    ]
    for part in report.parts:
        stop = " (interrupted)" if part.interrupted else ""
        label = part.label.replace("|", "\\|")
        rows.append(f"| {label} | {len(part.targets)} | {part.duration_s:.1f}s | {part.exit_code}{stop} |")
    return "\n".join(rows) + "\n"
