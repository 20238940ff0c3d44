"""The run report: ``report.json``, one row per target (schema documented in docs/reference.md),
and ``report.html`` rendered from it beside it."""

from __future__ import annotations

import errno
import json
from datetime import datetime, timezone
from pathlib import Path

from pydantic import ValidationError

from ..core.errors import ConfigError, ReportError
from ..core.events import SCHEMA, RunReport, TargetResult
from ..core.fileio import read_json, write_atomic

__all__ = ["SCHEMA", "RunReport", "load_report", "save_report", "write_html", "write_report"]

# each version only added fields (/2 timings, /3 the status cached and merged parts): the older ones still render
_READABLE = ("layerctl-report/1", "layerctl-report/2", SCHEMA)


def write_report(
    path: Path,
    *,
    results: tuple[TargetResult, ...],
    started_at: datetime,
    duration_s: float,
    workspace: Path,
    jobs: int,
    exit_code: int,
    interrupted: bool,
    workspace_id: str | None = None,
    shard: str | None = None,
) -> RunReport:
    counts: dict[str, int] = {}
    for result in results:
        counts[result.status] = counts.get(result.status, 0) + 1
    report = RunReport(
        started_at=started_at.astimezone(timezone.utc).isoformat(timespec="seconds"),
        duration_s=duration_s,
        workspace=str(workspace),
        workspace_id=workspace_id,
        shard=shard,
        jobs=jobs,
        exit_code=exit_code,
        interrupted=interrupted,
        counts=counts,
        targets=list(results),
    )
    save_report(report, path)
    return report


def save_report(report: RunReport, path: Path) -> None:
    """``report`` written to ``path`` (report.json) and ``report.html`` beside it, atomically:
    ReportError naming the file when either cannot be written."""
    data = report.model_dump(mode="json")
    data = {"schema": data.pop("schema_"), **data}
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ReportError(
            f"{path.parent}: cannot create the report directory ({exc.strerror or exc}); "
            "point report-dir at a directory layerctl can write"
        ) from None
    html = path.with_suffix(".html")
    try:
        write_atomic(path, json.dumps(data, indent=2) + "\n")
    except OSError as exc:
        raise _cannot_write(path, exc) from None
    try:
        write_html(report, html)
    except OSError as exc:
        raise _cannot_write(html, exc) from None


def _cannot_write(path: Path, exc: OSError) -> ReportError:
    full = exc.errno in (errno.ENOSPC, errno.EDQUOT, errno.EFBIG)
    fix = (
        "free some space or point report-dir elsewhere"
        if full
        else "make report-dir writable or point it elsewhere"
    )
    return ReportError(f"{path}: cannot write the run report ({exc.strerror or exc}); {fix}")


def write_html(report: RunReport, path: Path) -> None:
    from .html import render_html

    write_atomic(path, render_html(report))


def load_report(path: Path) -> RunReport:
    """A report.json read back; a missing or foreign file is a one-line ConfigError (as is one
    that is no regular file, larger than ``MAX_READ`` or nested too deeply: see fileio.py)."""
    try:
        data = read_json(path)
    except FileNotFoundError:
        raise ConfigError(
            f"{path}: no such report; run `layerctl build-all` first or pass its path"
        ) from None
    except OSError as exc:
        raise ConfigError(f"{path}: not a readable JSON report ({exc.strerror or exc})") from None
    except (ValueError, RecursionError) as exc:  # RecursionError: nested too deep
        raise ConfigError(f"{path}: not a readable JSON report ({exc})") from None
    if not isinstance(data, dict) or data.get("schema") not in _READABLE:
        found = data.get("schema") if isinstance(data, dict) else None
        raise ConfigError(f"{path}: schema {found!r} is not a layerctl report ({', '.join(_READABLE)})")
    data["schema_"] = data.pop("schema")
    try:
        return RunReport.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        raise ConfigError(f"{path}: field {where}: {first['msg']}") from None
