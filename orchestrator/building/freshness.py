"""The check that runs first: is a target's last good build still good, before any builder is
decided, any executor opened, any network reached?

A target's stamp records its input key and what the key is made of (``inputkey.py``: the one
key, which the build computes the same way), and how the requirement set was found: a uv lock by
its files' digests, so an unchanged lock costs no ``uv export``; a Poetry lock read in-process; a
pip layer's pinned set. What installs is known offline too: a native build's uv version; a
container build's image digest is the one the stamp recorded while the target names the same
image (an image re-tagged under the same name is noticed only with ``--refresh``, when the build
asks the engine). Equal keys and an intact zip (its size, mtime and inode, else its bytes): the
target is up to date, reported from its stamp. Otherwise the check says why it rebuilds, and
keeps the ``auto`` decision when only what cannot change it (e.g. ``exclude``) changed.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from typing import Any

import anyio.to_thread

from ..core.errors import ConfigError, LayerctlError
from ..core.fanout import fan_out
from ..core.fileio import read_regular
from ..core.tools import uv_environment, uv_identity
from ..plan.targets import Builder, Target
from ..resolve import requirements_for
from ..resolve.pip import PINS_HOW, pin_requirements, pip_requirements
from ..resolve.reqset import RequirementSet, describe_changes
from ..workspace.discovery import Tool
from ..workspace.uv_workspace import find_uv_workspace
from .buildcache.local import LocalCache
from .inputkey import input_key, key_material, runtime_part, settings_part
from .localwheels import LocalWheels, keyed_requirements, local_projects
from .stamp import STAMP_FORMAT, Offline, Stamp

__all__ = ["Check", "check_targets", "current_record", "installer_offline", "lock_inputs", "offline_record"]

_CONCURRENT = 16
# the settings that choose the requirement set besides the lock: while they and the set are
# unchanged, the `auto` decision holds and an unchanged lock's export is reused
_SET_KEYS = ("extras", "groups", "include_project")

EnvFor = Callable[[Target], Mapping[str, str]]  # uv's environment with a target's indexes


@dataclass(frozen=True)
class Check:
    target: Target  # with the stamp's decision when it still holds, and why it rebuilds
    stamp: Stamp | None
    reason: str | None  # None: up to date

    @property
    def fresh(self) -> bool:
        return self.reason is None


def lock_inputs(target: Target) -> dict[str, str]:
    """The files a uv layer's requirement set is exported from, by digest (other tools: none;
    Poetry and pylock sets are read from their lock in-process, which costs less than hashing; a
    pip layer's pins are kept in its stamp)."""
    if target.layer.tool is not Tool.UV:
        return {}
    root = target.layer.root
    workspace = find_uv_workspace(root)
    paths = [root / "pyproject.toml", root / "uv.toml"]
    if workspace is not None:
        paths += [workspace.root / "uv.lock", workspace.root / "pyproject.toml", workspace.root / "uv.toml"]
    else:
        paths.append(root / "uv.lock")
    digests = {}
    for path in paths:
        try:
            digests[os.path.relpath(path, root)] = hashlib.sha256(read_regular(path)).hexdigest()
        except FileNotFoundError:
            continue
        except OSError as exc:  # a FIFO would hang uv and this read: the target fails at once
            raise ConfigError(f"{path}: cannot read it ({exc.strerror or exc}); uv reads it") from None
    return digests


async def installer_offline(target: Target, stamp: Stamp | None) -> str:
    """What installs with the target's builder, known without opening its executor: uv's version
    (native, as ``NativeExecutor.fingerprint`` says it); for a container target, the image digest
    its stamp recorded while it names the same image (another image: a value no digest equals);
    for a hybrid target, both (``executors/hybrid.installer_identity``)."""
    if target.builder in (Builder.CONTAINER, Builder.HYBRID):
        old = stamp.offline if stamp is not None else None
        recorded = str(old.material.get("installer", "")) if old is not None else ""
        digest = recorded if old is not None and old.image == target.build_image else ""
        digest = digest or f"{target.build_image} (not yet pulled)"
        if target.builder == Builder.CONTAINER:
            return digest
        return f"{await uv_identity()} | {digest.rpartition(' | ')[2]}"
    return await uv_identity()


async def offline_record(
    target: Target,
    local: LocalWheels,
    requirements: RequirementSet,
    inputs: dict[str, str],
    *,
    installer: str,
    declared: str = "",
) -> Offline:
    """The stamp's record of a target built (or about to be checked) with ``requirements`` by
    ``installer`` (``installer_offline``, or the executor's fingerprint in the build)."""
    refs = local_projects(target, requirements)
    local_files = refs or requirements.local_files()
    keyed = await keyed_requirements(local, target, requirements, refs) if local_files else requirements
    applied = keyed.applicable(target)
    if target.layer.tool is Tool.PIP and not declared:
        declared = pip_requirements(target)
    return Offline(
        material=key_material(target, applied.digest, installer),
        requirements=applied.pins,
        requirements_text=requirements.text,
        inputs=inputs,
        declared=declared,
        builder=target.builder,
        builder_reason=target.builder_reason,
        image=target.build_image if target.builder in (Builder.CONTAINER, Builder.HYBRID) else None,
    )


async def _current(
    target: Target,
    stamp: Stamp | None,
    local: LocalWheels,
    refresh: bool,
    env_for: EnvFor | None,
    installer: str | None = None,
) -> tuple[Target, Offline]:
    """The target carrying its requirement set, and the record of its inputs now."""
    old = stamp.offline if stamp is not None else None
    inputs = await anyio.to_thread.run_sync(lock_inputs, target)
    declared = pip_requirements(target) if target.layer.tool is Tool.PIP else ""
    env = env_for(target) if env_for is not None else uv_environment()
    same_set = old is not None and _same(old.material.get("settings") or {}, settings_part(target), _SET_KEYS)
    if old is not None and not refresh and inputs and inputs == old.inputs and same_set:
        raw = old.requirements_text  # the lock files are byte-identical: no uv export
    elif declared and old is not None and not refresh and _same_declaration(target, old, declared):
        raw = old.requirements_text  # the pins of the last build, reused offline
    elif declared:
        raw = await pin_requirements(target, declared, env)
    else:
        raw = await requirements_for(target, env)
    target = replace(target, requirements=raw)
    checked = target
    if old is not None and target.builder == "auto":
        checked = replace(target, decided=Builder(old.builder), builder_reason=old.builder_reason)
    installer = installer or await installer_offline(checked, stamp)
    requirements = RequirementSet.parse(raw)
    return target, await offline_record(
        checked, local, requirements, inputs, installer=installer, declared=declared
    )


def _same(before: dict[str, Any], after: dict[str, Any], keys: tuple[str, ...]) -> bool:
    return all(before.get(k) == after.get(k) for k in keys)


def _same_declaration(target: Target, old: Offline, declared: str) -> bool:
    """A pip layer's pins still answer its declaration: the same declared set, settings and runtime."""
    was = old.material
    return (
        old.declared == declared
        and PINS_HOW in old.requirements_text.partition("\n")[0]  # pins chosen as they are now
        and was.get("settings") == settings_part(target)
        and was.get("runtime") == runtime_part(target)
    )


def _why(old: Offline, new: Offline) -> str | None:
    """Which part of the key changed, the first in this order; None: the same key."""
    was, now = old.material, new.material
    if input_key(was) == input_key(now):
        return None
    if was.get("recipe") != now["recipe"]:
        return f"layerctl's build recipe changed ({was.get('recipe')} -> {now['recipe']})"
    if any(was.get(k) != now[k] for k in ("python", "arch", "runtime")):
        return "runtime changed (resources/runtimes.toml)"
    before, after = was.get("settings") or {}, now["settings"]
    keys = sorted(k for k in {*before, *after} if before.get(k) != after.get(k))
    if keys:
        return "settings changed: " + ", ".join(k.replace("_", "-") for k in keys)
    if was.get("requirements") != now["requirements"]:
        changes = describe_changes(old.requirements, new.requirements)
        return "requirements changed" + (f": {changes}" if changes else " (in-repo sources or hashes)")
    if was.get("builder") != now["builder"]:
        return f"builder changed ({was.get('builder')} -> {now['builder']})"
    if was.get("installer") != now["installer"]:
        if new.image is None:
            return f"builder changed ({was.get('installer')} -> {now['installer']})"
        if old.image != new.image:
            return f"image changed ({old.image} -> {new.image})"
        return f"image changed ({new.image}: {was.get('installer')} -> {now['installer']})"
    if was.get("source_date_epoch") != now["source_date_epoch"]:
        return "SOURCE_DATE_EPOCH changed"
    return "inputs changed"


def _keeps_decision(old: Offline, new: Offline) -> bool:
    before, after = old.material.get("settings") or {}, new.material["settings"]
    return old.material.get("requirements") == new.material["requirements"] and _same(
        before, after, _SET_KEYS
    )


async def check_target(
    target: Target,
    local: LocalWheels,
    *,
    force: bool = False,
    refresh: bool = False,
    verify: bool = False,
    env_for: EnvFor | None = None,
) -> Check:
    if target.problem:
        return Check(target, None, "its project cannot be read")
    slot = LocalCache(target.out_dir)  # the last good build, whatever its key
    stamp = await anyio.to_thread.run_sync(slot.last)
    if stamp is None:
        return _stale(target, None, "never built")
    if stamp.format != STAMP_FORMAT or stamp.offline is None:
        return _stale(target, stamp, "layerctl's stamp format changed")
    try:
        target, new = await _current(target, stamp, local, refresh, env_for)
    except LayerctlError as exc:  # the build meets the same problem and reports it
        return _stale(target, stamp, f"its requirement set cannot be read offline ({exc.message})")
    decided = target
    if target.builder == "auto" and _keeps_decision(stamp.offline, new) and not refresh:
        decided = replace(
            target, decided=Builder(stamp.offline.builder), builder_reason=stamp.offline.builder_reason
        )
    why = "--refresh" if refresh else "--force" if force else _why(stamp.offline, new)
    if why is None:
        why = await anyio.to_thread.run_sync(lambda: slot.zip_problem(stamp, verify=verify))
    return _stale(decided, stamp, why)


def _stale(target: Target, stamp: Stamp | None, why: str | None) -> Check:
    return Check(replace(target, rebuild_reason=why), stamp, why)


async def check_targets(
    targets: list[Target] | tuple[Target, ...],
    local: LocalWheels,
    *,
    force: bool = False,
    refresh: bool = False,
    verify: bool = False,
    env_for: EnvFor | None = None,
) -> list[Check]:
    """Each target checked against its stamp, in plan order (``env_for``: uv's environment for a
    target, its indexes with their credentials, when a pip layer's set must be pinned)."""

    async def one(target: Target) -> Check:
        return await check_target(target, local, force=force, refresh=refresh, verify=verify, env_for=env_for)

    done = await fan_out(targets, one, limiter=_CONCURRENT, name=lambda t: t.id)
    return [done.results[i] for i in range(len(targets))]


async def current_record(
    target: Target, local: LocalWheels, env_for: EnvFor | None = None, *, installer: str | None = None
) -> Offline:
    """The record of the target's inputs now, as the check before a run makes it for a target
    never built here (its key: ``input_key(record.material)``): what ``publish`` looks up in a
    shared build cache on a fresh checkout. ``installer``: the decided builder's fingerprint when
    it is not known offline (a container or hybrid target's image digest, from the engine)."""
    return (await _current(target, None, local, False, env_for, installer))[1]
