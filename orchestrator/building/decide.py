"""The ``auto`` builder, decided per target: native when every dependency has a wheel for the
target's platform, otherwise the container, naming the package that forced it.

The check is a resolution (``uv pip compile --only-binary :all:`` for the target's platform),
after in-repo projects are built into wheels on the host (pure Python: native; compiled: the
container), so ``layerctl list`` and ``build-all`` make the same decision before anything builds,
wherever they are started from (uv runs as every uv run does: see tools.py).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence

from ..core.errors import LayerctlError, NoCompatibleWheel
from ..core.fanout import fan_out
from ..core.tools import no_wheel_package, uv_environment
from ..plan.targets import Builder, Target
from ..resolve import requirements_for
from ..resolve.reqset import RequirementSet
from ..resolve.wheels import exact_wheels, uv_compile
from .executors import WheelRequest
from .localwheels import LocalWheels, NotPure, local_projects, with_wheels

__all__ = ["decide_builders", "wheel_gap", "with_builder"]

_CONCURRENT_CHECKS = 8


def with_builder(target: Target, builder: str, reason: str | None) -> Target:
    return dataclasses.replace(target, decided=Builder(builder), builder_reason=reason)


async def wheel_gap(
    target: Target, requirements: RequirementSet, *, env: dict[str, str] | None = None
) -> str | None:
    """The first package without a compatible wheel for ``target``, or None."""
    env = uv_environment() if env is None else env
    result = await uv_compile(target, requirements, env, target.runtime.uv_platform(target.arch))
    if result.returncode != 0:
        package = no_wheel_package(result.errors)
        if package is None:
            return None  # not a missing wheel: the build reports the problem
        try:  # uv's platform is below the runtime's (AL2): is there a wheel among its exact tags?
            chosen = await exact_wheels(target, requirements, env)
        except NoCompatibleWheel as exc:
            return exc.package
        return package if chosen is None else None
    # The resolver reads an sdist's static metadata without building it, so a direct reference
    # to anything but a wheel (an sdist, a directory, a git URL) resolves fine yet needs a build.
    return next(iter(RequirementSet.parse(result.output).not_wheels()), None)


async def decide_builders(
    targets: Sequence[Target],
    env_for: Callable[[Target], dict[str, str]] | None = None,
    local: LocalWheels | None = None,
) -> list[Target]:
    """Targets with ``auto`` replaced by ``native`` or ``container`` and the reason. In-repo
    projects are built on the host first (once per run, ``local``): pure-Python ones build
    natively as their wheels, one with compiled code needs the container."""
    local = local or LocalWheels()

    async def one(target: Target) -> Target:
        if target.problem or target.decided is not None:
            return target  # it fails with its layer's problem, or its last build's decision holds
        if target.builder != "auto":
            return with_builder(target, target.builder, f"builder = {target.builder}")
        env = env_for(target) if env_for else uv_environment()
        try:
            requirements = RequirementSet.parse(await requirements_for(target, env))
            refs = local_projects(target, requirements)
            if refs:
                request = WheelRequest(target=target, project=target.layer.root)
                built = await with_wheels(local, request, requirements, refs, None, env, _Quiet())
                requirements = built.requirements
            package = await wheel_gap(target, requirements, env=env)
        except NotPure as exc:
            why = f"could not be built here: {exc.error}" if exc.error else "has compiled code"
            return with_builder(target, Builder.CONTAINER, f"{exc.project} (in-repo) {why}")
        except LayerctlError as exc:
            # the build itself fails on the same problem; `layerctl list` shows it meanwhile
            return with_builder(target, Builder.NATIVE, f"undecided: {exc.message}")
        if package is None:
            return with_builder(target, Builder.NATIVE, "every dependency has a wheel")
        reason = f"{package} has no wheel for {target.runtime.manylinux} {target.arch.machine}"
        return with_builder(target, Builder.CONTAINER, reason)

    done = await fan_out(targets, one, limiter=_CONCURRENT_CHECKS, name=lambda t: t.id)
    return [done.results[i] for i in range(len(targets))]


class _Quiet:
    """Host builds while deciding show nothing (the build's log shows its own)."""

    async def __call__(self, line: str) -> None:
        return None

    async def batch(self, lines: list[str]) -> None:
        return None
