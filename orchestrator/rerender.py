"""``layerctl report``: report.html made again from a report.json, and the run's summary."""

from __future__ import annotations

from pathlib import Path

__all__ = ["rerender"]


def rerender(start: Path, path: Path | None, output: Path | None) -> None:
    """``layerctl report``: report.html made again from a report.json (default: the workspace's,
    found upward from ``start``), and the run's summary printed."""
    import typer
    from rich.console import Console

    from .config import env_overrides, load_workspace
    from .errors import ConfigError
    from .locate import find_workspace
    from .report import load_report, write_html
    from .reporters.summary import failure_blocks, summary_table

    if path is None:  # only the workspace's settings: a broken layer does not stop this
        workspace = load_workspace(find_workspace(start))
        path = (
            workspace.root
            / workspace.options.model_copy(update=env_overrides()[1]).report_dir
            / "report.json"
        )
    run = load_report(path)
    html = output or path.with_suffix(".html")
    try:
        write_html(run, html)
    except OSError as exc:
        raise ConfigError(f"{html}: cannot write the report ({exc.strerror or exc})") from None
    console = Console(highlight=False)
    for block in failure_blocks(run.targets):
        console.print("\n".join(block), markup=False)
    summary_table(run.targets, console)
    typer.echo(f"report: {html}")
