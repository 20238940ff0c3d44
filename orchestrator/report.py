"""The run report: ``report.json``, one row per target (schema documented in docs/reference.md)."""

from __future__ import annotations

import json
from datetime import datetime, timezone
from pathlib import Path

from pydantic import BaseModel

from . import __version__
from .build import _write_atomic
from .events import TargetResult

__all__ = ["SCHEMA", "RunReport", "write_report"]

SCHEMA = "layerctl-report/1"


class RunReport(BaseModel):
    schema_: str = SCHEMA
    layerctl: str = __version__
    started_at: str
    duration_s: float
    workspace: str
    jobs: int
    exit_code: int
    interrupted: bool
    counts: dict[str, int]
    targets: list[TargetResult]


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
) -> RunReport:
    counts: dict[str, int] = {}
    for result in results:
        counts[result.status] = counts.get(result.status, 0) + 1
    report = RunReport(
        started_at=started_at.astimezone(timezone.utc).isoformat(timespec="seconds"),
        duration_s=duration_s,
        workspace=str(workspace),
        jobs=jobs,
        exit_code=exit_code,
        interrupted=interrupted,
        counts=counts,
        targets=list(results),
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    data = report.model_dump(mode="json")
    data = {"schema": data.pop("schema_"), **data}
    _write_atomic(path, json.dumps(data, indent=2) + "\n")
    return report
