"""What every reporter says at the end: the one-line outcome of a target, the failure block
(last log lines, log path, hint) and the summary table, as text, rich or markdown."""

from __future__ import annotations

import os
import re
from collections.abc import Sequence
from typing import TYPE_CHECKING, TextIO

from ...core.errors import EXIT_ENVIRONMENT
from ...core.events import TargetResult
from .published import markdown_published, publish_cell, publish_failures

if TYPE_CHECKING:
    from rich.console import Console

__all__ = [
    "failure_blocks",
    "failure_lines",
    "finished_line",
    "markdown_summary",
    "mb",
    "status_word",
    "summary_table",
    "where_built",
    "write_summary",
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
        on = f" on engine {result.engine}" if result.engine and result.engine != "default" else ""
        return f"built in {result.duration_s:.1f}s{retried}{on}: {mb(result.zipped_size)} zip, sha256 {result.sha256}"
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


_COLUMNS = ("target", "builder", "status", "time", "unzipped", "zip", "sha256")
_RIGHT = frozenset({"time", "unzipped", "zip"})
_PLAIN_CELL = re.compile(r"[A-Za-z0-9 ._:/-]*")  # no markup, no emoji code, one column per character


def where_built(result: TargetResult) -> str:
    """The builder, and the engine of a container build when the run had several to choose from."""
    engine = result.engine
    return f"{result.builder}@{engine}" if engine and engine != "default" else result.builder


def summary_table(results: Sequence[TargetResult], console: Console) -> None:
    columns, rows = _rows(results)
    plain = not (console.color_system is not None or console.is_terminal or console.record)
    text = _plain_table(columns, rows, console.width) if plain and not console.options.ascii_only else None
    if text is not None:  # what rich prints for this table without colour, made without its layout
        console.file.write(text)
        return
    _rich_table(results, columns, rows, console)


def write_summary(
    results: Sequence[TargetResult], out: TextIO, *, width: int = 120, no_color: bool = False
) -> None:
    """The summary on ``out`` as ``Console(file=out, width=width, highlight=False)`` prints it;
    rich is imported only when it would lay something out (a terminal, or a cell that is not
    plain ASCII): a log's summary costs no import of it."""
    columns, rows = _rows(results)
    plain = not _rich_terminal(out) and _encoding(out).startswith("utf")
    text = _plain_table(columns, rows, width) if plain else None
    if text is not None:
        out.write(text)
        return
    from rich.console import Console

    _rich_table(results, columns, rows, Console(file=out, width=width, highlight=False, no_color=no_color))


def _rows(results: Sequence[TargetResult]) -> tuple[tuple[str, ...], list[tuple[str, ...]]]:
    published = any(r.publish for r in results)
    columns = _COLUMNS + (("published",) if published else ())
    rows = [
        (
            r.id,
            where_built(r),
            status_word(r),
            f"{r.duration_s:.1f}s",
            mb(r.unzipped_size),
            mb(r.zipped_size),
            (r.sha256 or "")[:12],
            *([publish_cell(r)] if published else []),
        )
        for r in results
    ]
    return columns, rows


def _rich_table(
    results: Sequence[TargetResult], columns: Sequence[str], rows: Sequence[Sequence[str]], console: Console
) -> None:
    from rich.table import Table

    table = Table(title="layerctl summary", title_justify="left")
    for column in columns:
        table.add_column(column, justify="right" if column in _RIGHT else "left")
    for r, row in zip(results, rows, strict=True):
        status = f"[red]{row[2]}[/]" if r.status == "failed" else row[2]
        table.add_row(*row[:2], status, *row[3:])
    console.print(table)


def _rich_terminal(out: TextIO) -> bool:
    """Whether rich's ``Console(file=out).is_terminal`` would say so (the same variables, in the
    same order); a terminal gets rich's own drawing and colours."""
    compatible = os.environ.get("TTY_COMPATIBLE", "")
    if compatible in ("0", "1"):
        return compatible == "1"
    force = os.environ.get("FORCE_COLOR")
    if force is not None:
        return force != ""
    try:
        return out.isatty()
    except (AttributeError, ValueError):
        return False


def _encoding(out: TextIO) -> str:
    return (getattr(out, "encoding", "utf-8") or "utf-8").lower()


def _plain_table(columns: Sequence[str], rows: Sequence[Sequence[str]], console_width: int) -> str | None:
    """The table exactly as rich draws it (heavy head, title on the left) on a console without
    colour, when rich would lay nothing out (every cell plain ASCII, the table within the
    console's width); None otherwise (rich draws it). A 5,000-row summary in milliseconds."""
    if not rows:
        return None
    if not all(_PLAIN_CELL.fullmatch(cell) and cell.count(":") < 2 for row in rows for cell in row):
        return None
    widths = [max(len(column), *(len(row[i]) for row in rows)) for i, column in enumerate(columns)]
    width = sum(widths) + 3 * len(widths) + 1
    if width > console_width or width < len("layerctl summary"):
        return None

    def line(cells: Sequence[str], left: str, middle: str, right: str) -> str:
        padded = (
            cell.rjust(w) if column in _RIGHT else cell.ljust(w)
            for cell, w, column in zip(cells, widths, columns, strict=True)
        )
        return f"{left} " + f" {middle} ".join(padded) + f" {right}\n"

    def rule(left: str, fill: str, middle: str, right: str) -> str:
        return left + middle.join(fill * (w + 2) for w in widths) + right + "\n"

    out = ["layerctl summary".ljust(width) + "\n", rule("┏", "━", "┳", "┓"), line(columns, "┃", "┃", "┃")]
    out.append(rule("┡", "━", "╇", "┩"))
    out += [line(row, "│", "│", "│") for row in rows]
    out.append(rule("└", "─", "┴", "┘"))
    return "".join(out)


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
            f"| `{r.id}` | {where_built(r)} | {status} | {r.duration_s:.1f}s | {mb(r.unzipped_size)} "
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
