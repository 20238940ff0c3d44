"""The explained plan (``layerctl list``, ``build-all --dry-run``): each target ``up to date``
or ``will build`` with the reason, found as a run would find it (``freshness.py`` first; only
the targets that will build have their ``auto`` builder decided, which needs the index)."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import replace
from typing import Any

from ..building.context import BuildContext
from ..building.freshness import Check, check_targets
from ..building.localwheels import LocalWheels
from ..core.secrets import Credentials, mask_urls
from ..plan.targets import Plan, Target
from .engines import selected_engines

__all__ = ["describe", "explain", "row", "show"]


async def explain(
    plan: Plan, *, decide_builders: bool, refresh: bool, verify: bool, force: bool = False
) -> list[Check]:
    """Each target's freshness (a dry run, ``force`` as the run's): what the run would refuse is
    refused here too."""
    selected_engines(plan.workspace.engines, plan.options.engine)  # --engine naming no engine: exit 2
    local, credentials = LocalWheels(), Credentials.from_env()
    env_for = BuildContext(workspace=plan.workspace.root, credentials=credentials).uv_env
    try:
        checks = await check_targets(
            plan.targets, local, force=force, refresh=refresh, verify=verify, env_for=env_for
        )
        stale = [c.target for c in checks if not c.fresh and not c.target.problem]
        if decide_builders and stale:
            from .builds import decide  # the builders' decision (and a run's modules) only when asked

            decided = {t.id: t for t in await decide(plan, credentials, local, stale)}
            checks = [Check(decided.get(c.target.id, c.target), c.stamp, c.reason) for c in checks]
        return checks
    finally:
        local.close()


def _state(check: Check) -> str:
    return "up to date" if check.fresh else "will build"


def _target(check: Check) -> Target:
    """The target with its builder's reason from its stamp when it is up to date."""
    target, offline = check.target, check.stamp.offline if check.stamp else None
    if check.fresh and offline is not None and not target.builder_reason:
        return replace(target, builder_reason=offline.builder_reason)
    return target


def row(check: Check) -> str:
    target = _target(check)
    if target.problem:
        return target.row()
    why = "" if check.fresh else f": {check.reason}"
    return f"{target.row()}  => {_state(check)}{why}"


def describe(check: Check) -> dict[str, Any]:
    return {**_target(check).describe(), "state": _state(check).replace(" ", "-"), "reason": check.reason}


def show(plan: Plan, checks: list[Check], fmt: str, echo: Callable[[str], Any]) -> None:
    """The explained plan, in lines or JSON; a URL's credentials (a direct reference in a changed
    requirement, say) masked."""
    if fmt == "json":
        echo(mask_urls(json.dumps([describe(c) for c in checks], indent=2)))
        return
    for check in checks:
        echo(mask_urls(row(check)))
    for layer, why in plan.left_out:
        echo(mask_urls(f"# {layer}: {why}"))
