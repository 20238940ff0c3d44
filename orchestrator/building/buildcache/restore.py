"""A target's last good build restored from a shared cache without building (``layerctl
publish`` on a fresh checkout): its builder decided as a build decides it (``decide.py``: ``auto``
is native or hybrid), its key computed as the check before a run computes it
(``freshness.current_record``), looked up through ``BuildCaches`` (every rule of a shared entry
applies). A native target's key needs uv's version; a container or hybrid target's needs its
build image's digest, which the run's engine tells (``fingerprint``: the builder's executor's,
the image checked and pulled as a build would)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import anyio.to_thread

from ...core.errors import LayerctlError
from ...plan.targets import Builder, Target
from ..localwheels import LocalWheels
from .caches import BuildCaches, Hit

__all__ = ["Fingerprint", "restore_from_cache"]

# A decided target's installer fingerprint (``Installer.fingerprint`` of its builder's executor)
Fingerprint = Callable[[Target], Awaitable[str]]


async def restore_from_cache(
    target: Target,
    caches: BuildCaches,
    local: LocalWheels,
    notes: list[str],
    fingerprint: Fingerprint | None = None,
) -> Hit | str:
    """The target's build restored into its directory from a shared cache, or why not: what
    the caches said (an entry rejected, a cache that failed; also added to ``notes``), else
    that none holds its key."""
    from ..decide import decide_builders
    from ..freshness import current_record

    if target.problem:
        return "its project cannot be read"
    try:
        (target,) = await decide_builders([target], local=local)
        installer = None
        if target.builder in (Builder.CONTAINER, Builder.HYBRID):
            if fingerprint is None:
                return f"a {target.builder} target's key needs its build image's digest"
            installer = await fingerprint(target)
        record = await current_record(target, local, installer=installer)
    except LayerctlError as exc:
        return f"its key cannot be computed ({exc.message})"
    out = target.out_dir
    before = len(notes)

    def restore() -> Hit | None:
        out.mkdir(exist_ok=True)
        return caches.up_to_date(out, record, record.requirements_text, notes=notes)

    hit = await anyio.to_thread.run_sync(restore)
    if hit is not None:
        return hit
    said = notes[before:]  # an entry there that was rejected, or a cache that failed: why
    return f"not restored ({'; '.join(said)})" if said else "not in the shared build cache"
