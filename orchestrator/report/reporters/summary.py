"""What every reporter says at the end: the one-line outcome of a target, the failure block
(last log lines, log path, hint) and the summary table, as text, rich or markdown."""

from __future__ import annotations

from collections.abc import Sequence

from rich.console import Console
from rich.table import Table

from ...core.errors import EXIT_ENVIRONMENT
from ...core.events import TargetResult
from .published import markdown_published, publish_cell, publish_failures

__all__ = [
    "failure_blocks",
    "failure_lines",
    "finished_line",
    "markdown_summary",
    "mb",
    "status_word",
    "summary_table",
]

_WORD = {
    "built": "built",
    "up-to-date": "up to date",
    "cached": "cached",
    "failed": "FAILED",
    "cancelled": "cancelled",
    "not-run": "not run",
}


def mb(size: int | None) -> str:
    return "-" if size is None else f"{size / 1e6:.1f} MB"


def status_word(result: TargetResult) -> str:
    return _WORD[result.status]


def finished_line(result: TargetResult) -> str:
    retried = f" after {result.attempts} attempts" if result.attempts > 1 else ""
    if result.status == "built":
        return f"built in {result.duration_s:.1f}s{retried}: {mb(result.zipped_size)} zip, sha256 {result.sha256}"
    if result.status == "up-to-date":
        return f"up to date: {mb(result.zipped_size)} zip, sha256 {result.sha256}"
    if result.status == "cached":
        return f"cached (restored from {result.cache}): {mb(result.zipped_size)} zip, sha256 {result.sha256}"
    if result.status == "failed":
        return f"FAILED{retried}: {result.error}"
    return f"{_WORD[result.status]}: {result.error or ''}".rstrip(": ")


def failure_lines(result: TargetResult) -> list[str]:
    """The block shown for a failed target: what failed, its last log lines, where the whole
    log is, and what to do when the cause is a known one."""
    lines = [f"{result.id} FAILED: {result.error}"]
    if result.error_file:
        lines.append(f"  about: {result.error_file}" + (f":{result.error_line}" if result.error_line else ""))
    if result.log_tail:
        lines.append(f"  last {len(result.log_tail)} lines of the log:")
        lines.extend(f"  | {line}" for line in result.log_tail)
    if result.largest:  # a layer too large: where the room goes
        lines.append(f"  largest {len(result.largest)} packages (unzipped):")
        lines.extend(f"  | {mb(p.size):>9}  {p.name} {p.version or ''}".rstrip() for p in result.largest)
    if result.log:
        lines.append(f"  full log: {result.log}")
    if result.hint:
        lines.append(f"  hint: {result.hint}")
    return lines


def failure_blocks(results: Sequence[TargetResult]) -> list[list[str]]:
    """The failure block of every failed target; a cause this machine has (no engine, a missing
    image, no QEMU) that several targets met is told once, the other targets point to it."""
    blocks: list[list[str]] = []
    told: dict[tuple[str | None, str | None], str] = {}
    for result in results:
        if result.status != "failed":
            continue
        cause = (result.error, result.hint)
        first = told.get(cause)
        if first is not None:
            blocks.append([f"{result.id} FAILED: the same cause as {first}"])
            continue
        if result.exit_code == EXIT_ENVIRONMENT:
            told[cause] = result.id
        blocks.append(failure_lines(result))
    return blocks + publish_failures(results)


def summary_table(results: Sequence[TargetResult], console: Console) -> None:
    table = Table(title="layerctl summary", title_justify="left")
    published = any(r.publish for r in results)
    for column in ("target", "builder", "status", "time", "unzipped", "zip", "sha256"):
        table.add_column(column, justify="right" if column in ("time", "unzipped", "zip") else "left")
    if published:
        table.add_column("published")
    for r in results:
        status = status_word(r)
        table.add_row(
            r.id,
            r.builder,
            f"[red]{status}[/]" if r.status == "failed" else status,
            f"{r.duration_s:.1f}s",
            mb(r.unzipped_size),
            mb(r.zipped_size),
            (r.sha256 or "")[:12],
            *([publish_cell(r)] if published else []),
        )
    console.print(table)


def markdown_summary(results: Sequence[TargetResult], duration_s: float) -> str:
    """A GitHub-flavoured markdown table (the Actions step summary)."""
    counts: dict[str, int] = {}
    for r in results:
        counts[status_word(r)] = counts.get(status_word(r), 0) + 1
    head = ", ".join(f"{n} {word}" for word, n in counts.items())
    rows = [
        f"### layerctl: {len(results)} targets in {duration_s:.1f}s ({head})",
        "",
        "| target | builder | status | time | unzipped | zip | sha256 |",
        "|---|---|---|---:|---:|---:|---|",
    ]
    for r in results:
        status = f"**{status_word(r)}**" if r.status == "failed" else status_word(r)
        rows.append(
            f"| `{r.id}` | {r.builder} | {status} | {r.duration_s:.1f}s | {mb(r.unzipped_size)} "
            f"| {mb(r.zipped_size)} | `{(r.sha256 or '')[:12]}` |"
        )
    failed = [r for r in results if r.status == "failed"]
    for r in failed:
        rows += ["", f"**{r.id}**: {_md(r.error or '')}"]
        if r.hint:
            rows.append(f"hint: {_md(r.hint)}")
    return "\n".join(rows) + "\n" + markdown_published(results)


def _md(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")
