"""The body of ``layerctl report``: a report.json's report.html made again and its summary
printed, or (``--merge``) the reports of a CI matrix's parts merged into one (``merge.py``),
written, appended to ``$GITHUB_STEP_SUMMARY`` on GitHub Actions, and its summary printed."""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

from rich.console import Console

from ..core.errors import ConfigError
from ..core.events import RunReport
from .reporters.summary import failure_blocks, summary_table

__all__ = ["default_report_path", "merge_command", "report_command", "rerender"]


def default_report_path(start: Path, *, claim: bool = False) -> Path:
    """The workspace's report.json (found upward from ``start``: only the workspace's settings
    are read, so a broken layer does not stop this); ``claim``: its report-dir checked (inside
    the workspace) and made layerctl's, as a run would, to be written into."""
    from ..workspace.config import env_overrides, load_workspace
    from ..workspace.locate import find_workspace

    workspace = load_workspace(find_workspace(start))
    report_dir = workspace.options.model_copy(update=env_overrides()[1]).report_dir
    if not claim:
        return workspace.root / report_dir / "report.json"
    from ..core.outputs import check_inside, legacy_report
    from ..core.outputs import claim as claim_dir

    where = str(workspace.source or workspace.root)
    directory = check_inside(workspace.root, report_dir, key="report-dir", where=where)
    return claim_dir(directory, key="report-dir", where=where, legacy=legacy_report) / "report.json"


def report_command(
    start: Path,
    paths: Sequence[Path],
    output: Path | None,
    *,
    merge: bool,
    say: Callable[[str], None],
    partial: bool = False,
) -> int:
    """``layerctl report [PATH] [-o HTML]`` or ``layerctl report --merge PATH... [-o DIR]``: the
    exit code (0, or with --merge the worst part's). ``say``: the command line's one line on
    stderr (``cli/boundary.error_line``), for a warning."""
    if partial and not merge:
        raise ConfigError("--partial is for --merge: layerctl report --merge --partial A.json B.json")
    if merge:
        return merge_command(start, paths, output, say=say, partial=partial)
    if len(paths) > 1:
        raise ConfigError("give one report.json, or --merge to merge the reports of several parts")
    rerender(start, paths[0] if paths else None, output)
    return 0


def rerender(start: Path, path: Path | None, output: Path | None) -> None:
    """``layerctl report``: report.html made again from a report.json (default: the workspace's,
    found upward from ``start``), and the run's summary printed."""
    import typer

    from .document import load_report, write_html

    path = path or default_report_path(start)
    run = load_report(path)
    html = output or path.with_suffix(".html")
    try:
        write_html(run, html)
    except OSError as exc:
        raise ConfigError(f"{html}: cannot write the report ({exc.strerror or exc})") from None
    console = _console()
    for block in failure_blocks(run.targets):
        console.print("\n".join(block), markup=False)
    summary_table(run.targets, console)
    typer.echo(f"report: {html}")


def merge_command(
    start: Path,
    paths: Sequence[Path],
    output: Path | None,
    *,
    say: Callable[[str], None],
    partial: bool = False,
) -> int:
    """The body of ``layerctl report --merge``: read every part (one line naming a file that
    cannot be read), merge them, write report.json and report.html into ``output`` (default:
    the workspace's report-dir), append the step summary on GitHub Actions, print the summary.
    Returns the worst part's exit code."""
    from .document import load_report, save_report
    from .merge import merge_reports, sums_line

    if not paths:
        raise ConfigError("--merge needs the report.json of each part: layerctl report --merge A.json B.json")
    merged = merge_reports([(path, load_report(path)) for path in paths], partial=partial)
    _not_a_part(output / "report.json" if output is not None else default_report_path(start), paths, output)
    target = output / "report.json" if output is not None else default_report_path(start, claim=True)
    save_report(merged, target)
    note = _append_step_summary(merged)
    console = _console()
    for block in failure_blocks(merged.targets):
        console.print("\n".join(block), markup=False)
    summary_table(merged.targets, console)
    for part in merged.parts:
        stop = ", interrupted" if part.interrupted else ""
        console.print(
            f"part {part.label}: {len(part.targets)} targets in {part.duration_s:.1f}s, "
            f"exit code {part.exit_code}{stop}",
            markup=False,
        )
    console.print(f"merged: {sums_line(merged)}", markup=False)
    if note:
        say(f"layerctl: {note}")
    console.print(f"report: {target} (and report.html)", markup=False)
    return merged.exit_code


def _not_a_part(target: Path, paths: Sequence[Path], output: Path | None) -> None:
    """The merged report.json (and report.html beside it) must not be written over a part."""
    where = target.resolve()
    for path in paths:
        if path.resolve() == where:
            flag = f"-o {output}" if output is not None else "the workspace's report-dir (the default output)"
            raise ConfigError(
                f"{flag}: {target} is one of the parts ({path}); write the merged report elsewhere, "
                "e.g. -o merged-report"
            )


def _append_step_summary(report: RunReport) -> str | None:
    """The merged table appended to ``$GITHUB_STEP_SUMMARY`` when it is set; a file that cannot
    be written is a warning (returned), never the command's failure: the report is written."""
    from .merge import merged_markdown

    path = os.environ.get("GITHUB_STEP_SUMMARY")
    if not path:
        return None
    try:
        with open(path, "a", encoding="utf-8") as fh:
            fh.write(merged_markdown(report))
    except OSError as exc:
        return f"warning: cannot append the merged summary to {path} ({exc.strerror or exc})"
    return None


def _console() -> Console:
    """The terminal's width on a terminal, else as wide as build-all's plain summary (120)."""
    return Console(highlight=False, width=None if sys.stdout.isatty() else 120)
