"""The ``auto`` builder, decided per target: native when every dependency has a wheel for the
target's platform, otherwise the container, naming the package that forced it.

The check is a resolution only (``uv pip compile --only-binary :all:`` for the target's
platform), so ``layerctl list`` and ``build-all`` make the same decision before anything builds,
wherever they are started from (uv runs as every uv run does: see tools.py).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence

from .errors import LayerctlError, NoCompatibleWheel
from .fanout import fan_out
from .plan import Builder, Target
from .resolve import requirements_for
from .tools import no_wheel_package, uv_environment
from .wheels import exact_wheels, uv_compile

__all__ = ["decide_builders", "wheel_gap", "with_builder"]

_CONCURRENT_CHECKS = 8


def with_builder(target: Target, builder: str, reason: str | None) -> Target:
    return dataclasses.replace(target, decided=Builder(builder), builder_reason=reason)


async def wheel_gap(target: Target, requirements: str, *, env: dict[str, str] | None = None) -> str | None:
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
    for line in result.output.splitlines():
        name, sep, url = line.partition(" @ ")
        if sep and not url.split(";")[0].split("#")[0].strip().endswith(".whl"):
            return name.strip()
    return None


async def decide_builders(
    targets: Sequence[Target], env_for: Callable[[Target], dict[str, str]] | None = None
) -> list[Target]:
    """Targets with ``auto`` replaced by ``native`` or ``container`` and the reason."""

    async def one(target: Target) -> Target:
        if target.problem:
            return target  # it fails with its layer's problem; nothing to decide
        if target.builder != "auto":
            return with_builder(target, target.builder, f"builder = {target.builder}")
        try:
            requirements = await requirements_for(target)
            package = await wheel_gap(target, requirements, env=env_for(target) if env_for else None)
        except LayerctlError as exc:
            # the build itself fails on the same problem; `layerctl list` shows it meanwhile
            return with_builder(target, Builder.NATIVE, f"undecided: {exc.message}")
        if package is None:
            return with_builder(target, Builder.NATIVE, "every dependency has a wheel")
        reason = f"{package} has no wheel for {target.runtime.manylinux} {target.arch.machine}"
        return with_builder(target, Builder.CONTAINER, reason)

    done = await fan_out(targets, one, limiter=_CONCURRENT_CHECKS, name=lambda t: t.id)
    return [done.results[i] for i in range(len(targets))]
