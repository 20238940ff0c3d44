"""The ``auto`` builder, decided per target: native when every dependency has a wheel for the
target's platform, otherwise hybrid (``executors/hybrid.py``: only those packages are compiled,
in the target's image), naming them. ``container`` is chosen only by the setting.

The check (``resolve/gaps.py``) reads a lock's recorded files (offline, no resolver), or is a
resolution of wheels only for the target's platform (a pip layer's pins), after in-repo projects
are built into wheels on the host (pure Python: native; compiled: built in the image), so
``layerctl list`` and ``build-all`` make the same decision before anything builds, wherever they
are started from (uv runs as every uv run does: see tools.py).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence

from ..core.errors import LayerctlError
from ..core.fanout import fan_out
from ..core.tools import uv_environment
from ..plan.targets import Builder, Target
from ..resolve import requirements_for
from ..resolve.gaps import find_gaps
from ..resolve.reqset import RequirementSet
from .executors import WheelRequest
from .localwheels import LocalWheels, NotPure, local_projects, with_wheels

__all__ = ["decide_builders", "with_builder"]

_CONCURRENT_CHECKS = 8
_ALL_WHEELS = "every dependency has a wheel"


def with_builder(target: Target, builder: str, reason: str | None, requirements: str | None = None) -> Target:
    """The target decided; with the ``requirements`` the decision resolved, which its build
    installs rather than resolving again (a cold pip target is pinned once)."""
    requirements = target.requirements if requirements is None else requirements
    return dataclasses.replace(
        target, decided=Builder(builder), builder_reason=reason, requirements=requirements
    )


async def decide_builders(
    targets: Sequence[Target],
    env_for: Callable[[Target], dict[str, str]] | None = None,
    local: LocalWheels | None = None,
) -> list[Target]:
    """Targets with ``auto`` replaced by ``native`` or ``hybrid`` and the reason. In-repo
    projects are built on the host first (once per run, ``local``): pure-Python ones build
    natively as their wheels, one with compiled code is built in the image (hybrid)."""
    local = local or LocalWheels()

    async def one(target: Target) -> Target:
        if target.problem or target.decided is not None:
            return target  # it fails with its layer's problem, or its last build's decision holds
        if target.builder not in ("auto", "hybrid"):
            return with_builder(target, target.builder, f"builder = {target.builder}")
        env = env_for(target) if env_for else uv_environment()
        builder, reason, requirements = await _decision(target, env, local)
        if target.builder == "hybrid":  # chosen by hand: still say what it compiles
            why = f"{reason}, nothing to compile" if reason == _ALL_WHEELS else reason
            return with_builder(target, Builder.HYBRID, f"builder = hybrid: {why}", requirements)
        return with_builder(target, builder, reason, requirements)

    done = await fan_out(targets, one, limiter=_CONCURRENT_CHECKS, name=lambda t: t.id)
    return [done.results[i] for i in range(len(targets))]


async def _decision(
    target: Target, env: dict[str, str], local: LocalWheels
) -> tuple[Builder, str, str | None]:
    """What ``auto`` would choose for the target, why (what it compiles), and the set it read
    (None when it could not be read: the build meets the problem again and reports it)."""
    raw = None
    try:
        raw = await requirements_for(target, env)
        requirements = RequirementSet.parse(raw)
        refs = local_projects(target, requirements)
        if refs:
            request = WheelRequest(target=target, project=target.layer.root)
            built = await with_wheels(local, request, requirements, refs, None, env, _Quiet())
            requirements = built.requirements
        gaps = await find_gaps(target, requirements, env)
    except NotPure as exc:
        why = f"could not be built here: {exc.error}" if exc.error else "has compiled code"
        return Builder.HYBRID, f"{exc.project} (in-repo) {why}: built in the image", raw
    except LayerctlError as exc:
        # the build itself fails on the same problem; `layerctl list` shows it meanwhile
        return Builder.NATIVE, f"undecided: {exc.message}", None
    if not gaps:
        return Builder.NATIVE, _ALL_WHEELS, raw
    platform = f"{target.runtime.manylinux} {target.arch.machine}"
    return Builder.HYBRID, f"compiles {', '.join(gaps)} in the image (no wheel for {platform})", raw


class _Quiet:
    """Host builds while deciding show nothing (the build's log shows its own)."""

    async def __call__(self, line: str) -> None:
        return None

    async def batch(self, lines: list[str]) -> None:
        return None
