"""A target's report row made without building it: any row from the target's identity
(``result_for``), and the row of a target the check before a run found up to date
(``up_to_date_row``, from its stamp). Light on purpose: a no-op run reports every target with
these and never imports the stage that builds one (``target.py``)."""

from __future__ import annotations

from typing import Any

from ..core.events import TargetResult
from ..core.outputs import LOG_NAME
from ..plan.targets import Target
from .stamp import Stamp

__all__ = ["result_for", "up_to_date_row"]


def result_for(target: Target, **fields: Any) -> TargetResult:
    base: dict[str, Any] = {
        "builder": target.builder,
        "builder_reason": target.builder_reason,
        "rebuild_reason": target.rebuild_reason,
    }
    return TargetResult(
        id=target.id,
        slug=target.slug,
        layer=target.layer.name,
        python=target.python,
        arch=target.arch.value,
        tool=target.layer.tool.value,
        **{**base, **fields},
    )


def up_to_date_row(target: Target, stamp: Stamp) -> TargetResult:
    """The row of a target found up to date before the run decided or built anything."""
    reason = target.builder_reason or (stamp.offline.builder_reason if stamp.offline else None)
    return result_for(
        target,
        status="up-to-date",
        builder_reason=reason,
        log=str(target.out_dir / LOG_NAME),
        **stamp.result_at(target.out_dir),
    )
