"""A target's last good build restored from a shared cache without building (``layerctl
publish`` on a fresh checkout): its key computed offline, as the check before a run computes
it (``freshness.current_record``), looked up through ``BuildCaches`` (every rule of a shared
entry applies). A native target's key needs uv's version; a container target's needs its
build image's digest (a hybrid target's too), known only from a build here: it is not restored."""

from __future__ import annotations

from dataclasses import replace

import anyio.to_thread

from ...core.errors import LayerctlError
from ...plan.targets import Builder, Target
from ..localwheels import LocalWheels
from .caches import BuildCaches, Hit

__all__ = ["restore_from_cache"]


async def restore_from_cache(
    target: Target, caches: BuildCaches, local: LocalWheels, notes: list[str]
) -> Hit | str:
    """The target's build restored into its directory from a shared cache, or why not."""
    from ..freshness import current_record

    if target.problem:
        return "its project cannot be read"
    if target.builder in (Builder.CONTAINER, Builder.HYBRID):
        return f"a {target.builder} target's key needs its build image's digest, known only from a build"
    if target.builder == "auto":  # a native build is the one whose key is known offline
        target = replace(target, decided=Builder.NATIVE)
    try:
        record = await current_record(target, local)
    except LayerctlError as exc:
        return f"its requirement set cannot be read offline ({exc.message})"
    out = target.out_dir

    def restore() -> Hit | None:
        out.mkdir(exist_ok=True)
        return caches.up_to_date(out, record, record.requirements_text, notes=notes)

    hit = await anyio.to_thread.run_sync(restore)
    return hit if hit is not None else "not in the shared build cache"
