"""The packages of a target's set that have no wheel for it: what a hybrid build compiles and
what makes ``auto`` choose hybrid.

A locked set is answered from its lock's files (``lockfiles.py``: offline, no resolver); a pip
layer's pins by what they recorded when they were made (``pip.pinned_gaps``: the packages that
had no version with a wheel). Any other set (a set the lock cannot answer for, pins another
layerctl made) by resolutions of wheels only
(``uv pip compile --only-binary :all:`` for the target's platform, and among the runtime's
exact tags where uv cannot name its platform: ``wheels.exact_wheels``): each finds one package
without a wheel, the next runs without it (``--no-deps``: the set is whole, nothing else comes
in)."""

from __future__ import annotations

from collections.abc import Mapping

import anyio.to_thread
from packaging.utils import canonicalize_name

from ..core.errors import NoCompatibleWheel
from ..core.tools import no_wheel_package, uv_environment
from ..plan.targets import Target
from .lockfiles import lock_gaps
from .pip import pinned_gaps
from .reqset import RequirementSet
from .wheels import exact_wheels, uv_compile

__all__ = ["find_gaps", "wheel_gap", "wheel_gaps"]

_GAPS_AT_MOST = 50  # packages compiled for one target (each found by one resolution)


async def find_gaps(
    target: Target, requirements: RequirementSet, env: Mapping[str, str] | None = None
) -> list[str]:
    """Every package of a whole set without a compatible wheel for ``target``: from the lock's
    files when it can tell, else by resolutions."""
    known = await anyio.to_thread.run_sync(lock_gaps, target, requirements)
    if known is None:  # a pip layer's pins say what has no wheel since they were made
        known = pinned_gaps(target, requirements)
        if known is not None:  # and a direct reference to an sdist needs a build too
            known += [n for n in requirements.not_wheels() if n and n not in known]
    if known is not None:
        return known
    return await wheel_gaps(target, requirements, env)


async def wheel_gap(
    target: Target,
    requirements: RequirementSet,
    *,
    env: Mapping[str, str] | None = None,
    extra: tuple[str, ...] = (),
) -> str | None:
    """The first package without a compatible wheel for ``target``, or None (``extra``: more
    options for uv, ``--no-deps`` for a set known to be whole)."""
    env = uv_environment() if env is None else env
    result = await uv_compile(target, requirements, env, target.runtime.uv_platform(target.arch), *extra)
    if result.returncode != 0:
        package = no_wheel_package(result.errors)
        if package is None:
            return None  # not a missing wheel: the build reports the problem
        try:  # uv's platform is below the runtime's (AL2): is there a wheel among its exact tags?
            chosen = await exact_wheels(target, requirements, env, *extra)
        except NoCompatibleWheel as exc:
            return exc.package
        return package if chosen is None else None
    # The resolver reads an sdist's static metadata without building it, so a direct reference
    # to anything but a wheel (an sdist, a directory, a git URL) resolves fine yet needs a build.
    return next(iter(RequirementSet.parse(result.output).not_wheels()), None)


async def wheel_gaps(
    target: Target, requirements: RequirementSet, env: Mapping[str, str] | None = None
) -> list[str]:
    """Every package of a whole set without a compatible wheel for ``target``, by resolutions,
    in the order found."""
    found: list[str] = []
    current = requirements
    while len(found) < _GAPS_AT_MOST:
        package = await wheel_gap(target, current, env=env, extra=("--no-deps",))
        if package is None or canonicalize_name(package) in {canonicalize_name(f) for f in found}:
            return found
        found.append(package)
        current = _without(current, package)
    return found


def _without(requirements: RequirementSet, package: str) -> RequirementSet:
    name = canonicalize_name(package)
    return requirements.replaced(lambda e: "" if e.name and canonicalize_name(e.name) == name else None)
