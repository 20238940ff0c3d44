"""A pip layer's pins for one target: the newest versions that have a wheel for it (what pip's
``--prefer-binary`` and uv's wheel-only resolution choose), a source distribution only for a
package with no such version.

1. uv resolves wheels only (``--only-binary :all:``) at the target's platform. Done when it can.
2. On a runtime uv cannot name exactly (Amazon Linux 2: manylinux_2_26, uv knows 2_17 and 2_28),
   a package with no wheel at 2_17 may still have one among the runtime's exact tags (greenlet:
   manylinux_2_24 only): uv resolves wheels only at 2_28 (a ``pylock.toml``) and each package's
   wheels are checked against the exact tags (``wheels.exact_misses``); a version whose wheels
   all need a newer glibc is excluded (a constraint below it) and uv resolves again.
3. A package uv says has no wheel for the target, or that has no version with one within the
   rounds, may come from its source distribution: that package alone (``--no-binary`` it; every
   other package stays wheels-only), and the resolution starts again. Its pins then need the
   target's image, and the ``auto`` decision names that package.

In-repo projects (local directories) are built into wheels by layerctl (``localwheels.py``); uv
may build one to read its metadata (``setup.py``) from the first resolution on, and so a local
sdist named by path (its metadata may be known only from its backend: nothing is compiled).
"""

from __future__ import annotations

import tempfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import anyio
import anyio.to_thread
from packaging.utils import canonicalize_name

from ..core.errors import ResolveError
from ..core.tools import no_wheel_package, uv_error
from ..plan.targets import Target
from .reqset import RequirementSet
from .wheels import Compiled, exact_misses, uv_compile

__all__ = ["Pins", "wheel_pins"]

_ROUNDS = 12  # resolutions at most, all steps together
_EXCLUDED_AT_MOST = 4  # versions of one package passed over for want of an exact-tag wheel


@dataclass(frozen=True)
class Pins:
    text: str  # uv's requirements.txt, with hashes
    sources: tuple[str, ...]  # the packages that may be built from source (no wheel for the target)


async def wheel_pins(target: Target, declared: RequirementSet, env: Mapping[str, str]) -> Pins:
    platform = target.runtime.uv_platform(target.arch)
    above = target.runtime.uv_platform_above(target.arch)
    sources: list[str] = []
    # in-repo projects are built into wheels by layerctl, and a local sdist has no other form
    # than its source: uv may build them to read their metadata (an older sdist has it only so)
    in_repo = [ref.entry.name for ref in declared.in_repo() if ref.entry is not None and ref.entry.name]
    in_repo += [
        e.name for e in declared.entries if e.name and e.path and e.path.is_file() and e.path.suffix != ".whl"
    ]
    below: dict[str, str] = {}  # package: the version it must stay below (exact-tag step)
    excluded: dict[str, int] = {}
    with tempfile.TemporaryDirectory(prefix="layerctl-pins-") as work:
        constraints = Path(work) / "constraints.txt"
        for _ in range(_ROUNDS):
            extra = _options([*in_repo, *sources])
            if not below:
                result = await uv_compile(target, declared, env, platform, "--generate-hashes", *extra)
                if result.returncode == 0:
                    return Pins(result.output, tuple(sources))
                package = _missing(target, result, sources)
                if above is None:
                    sources.append(package)
                    continue
            assert above is not None  # the exact-tag step: only on a runtime uv cannot name
            text = "".join(f"{name}<{version}\n" for name, version in below.items())
            await anyio.to_thread.run_sync(constraints.write_text, text)
            bounded = ("--constraints", str(constraints)) if below else ()
            result = await uv_compile(
                target, declared, env, above, "--format", "pylock.toml", *extra, *bounded
            )
            if result.returncode != 0:
                if no_wheel_package(result.errors) is None and below:
                    sources += below  # no version left below: these need their sources
                    below.clear()
                else:
                    sources.append(_missing(target, result, sources))
                continue
            misses = {
                name: version
                for name, version in exact_misses(result.output, target).items()
                if canonicalize_name(name) not in {canonicalize_name(s) for s in sources}
            }
            if not misses:
                result = await uv_compile(target, declared, env, above, "--generate-hashes", *extra, *bounded)
                if result.returncode != 0:
                    raise _failed(target, result)
                return Pins(result.output, tuple(sources))
            for name, version in misses.items():
                excluded[name] = excluded.get(name, 0) + 1
                if excluded[name] > _EXCLUDED_AT_MOST:
                    below.pop(name, None)
                    sources.append(name)
                else:
                    below[name] = version
    raise ResolveError(
        f"uv pip compile for {target.id}: no set of wheels found in {_ROUNDS} resolutions "
        f"(source builds allowed for: {', '.join(sources) or 'none'})"
    )


def _options(sources: list[str]) -> tuple[str, ...]:
    """Wheels only, except for the packages allowed their source distributions."""
    return ("--only-binary", ":all:", *(arg for name in sources for arg in ("--no-binary", name)))


def _missing(target: Target, result: Compiled, sources: list[str]) -> str:
    """The package uv found no wheel for (not yet allowed its sources); any other failure raises."""
    package = no_wheel_package(result.errors)
    if package is None or canonicalize_name(package) in {canonicalize_name(s) for s in sources}:
        raise _failed(target, result)
    return package


def _failed(target: Target, result: Compiled) -> ResolveError:
    return ResolveError(
        f"uv pip compile failed for {target.id}: {uv_error(result.errors)}", output=result.errors
    )
