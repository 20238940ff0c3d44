"""The check that runs first: is a target's last good build still good, before any builder is
decided, any executor opened, any network reached?

A target's stamp (``stamp.Offline``) records its inputs as they are known offline: layerctl's
version, the runtime row, the settings, the tool, the requirement set that applies to the target
(as its lock gives it: a uv lock by its files' digests, so an unchanged lock costs no ``uv
export``; a Poetry lock read in-process; a pip layer's pinned set), what builds it (native: the
uv version; container: the image *reference*, so an image re-tagged under the same name is
noticed only with ``--refresh``), the ``auto`` decision with its reason, and the zip's size,
mtime and inode. Equal inputs and an intact zip: the target is up to date, reported from its
stamp. Otherwise the check says why it rebuilds, and keeps the decision when only what cannot
change it (e.g. ``exclude``) changed.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from typing import Any

import anyio.to_thread

from . import __version__
from .discovery import Tool
from .errors import ConfigError, LayerctlError
from .fanout import fan_out
from .fileio import read_regular
from .localwheels import LocalWheels, keyed_requirements, local_projects
from .plan import Builder, Target
from .reqdiff import applicable, describe_changes, set_digest
from .resolve import requirements_for
from .resolve.pip import pin_requirements, pip_requirements
from .stamp import Offline, Stamp, read_stamp, zip_problem
from .tools import uv_environment, uv_identity
from .uv_workspace import find_uv_workspace

__all__ = ["Check", "check_targets", "executor_identity", "lock_inputs", "offline_record"]

_CONCURRENT = 16
# settings that cannot change the `auto` decision: a target rebuilt for them keeps its builder
_DECISION_KEYS = ("extras", "groups", "include_project", "tool")
# Where the packages come from is no input: the lock (or a pip layer's pinned set, with hashes)
# says what is installed, so a run with the index out of reach still finds everything up to date.
# The `builder` setting is no input either: the builder a target used is (`auto` decides one).
_NOT_INPUTS = {"python", "arch", "output", "index_url", "ca_bundle", "builder"}

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


async def executor_identity(target: Target) -> str:
    """What builds the target, known without opening the executor."""
    if target.builder == Builder.CONTAINER:
        return f"image {target.build_image}"
    return await uv_identity()


def material(target: Target, requirements_digest: str, identity: str) -> dict[str, Any]:
    return {
        "layerctl": __version__,
        "runtime": target.runtime.model_dump(mode="json"),
        "tool": target.layer.tool.value,
        "builder": target.builder,
        "settings": target.settings.model_dump(mode="json", exclude=_NOT_INPUTS),
        "requirements": requirements_digest,
        "executor": identity,
        "source_date_epoch": os.environ.get("SOURCE_DATE_EPOCH", ""),
    }


async def offline_record(
    target: Target, local: LocalWheels, raw: str, inputs: dict[str, str], *, declared: str = ""
) -> Offline:
    """The stamp's record of a target built (or about to be checked) with requirement set ``raw``."""
    refs = local_projects(target, raw)
    keyed = await keyed_requirements(local, target, raw, refs) if refs else raw
    lines = applicable(target, keyed)
    if target.layer.tool is Tool.PIP and not declared:
        declared = pip_requirements(target)
    return Offline(
        material=material(target, set_digest(lines), await executor_identity(target)),
        requirements={name: version for name, version, _ in lines},
        requirements_text=raw,
        inputs=inputs,
        declared=declared,
        builder=target.builder,
        builder_reason=target.builder_reason,
    )


async def _current(
    target: Target, stamp: Stamp | None, local: LocalWheels, refresh: bool, env_for: EnvFor | None
) -> tuple[Target, Offline]:
    """The target carrying its requirement set, and the record of its inputs now."""
    old = stamp.offline if stamp is not None else None
    inputs = await anyio.to_thread.run_sync(lock_inputs, target)
    declared = pip_requirements(target) if target.layer.tool is Tool.PIP else ""
    env = env_for(target) if env_for is not None else uv_environment()
    if old is not None and not refresh and inputs and inputs == old.inputs:
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
    return target, await offline_record(checked, local, raw, inputs, declared=declared)


def _same_declaration(target: Target, old: Offline, declared: str) -> bool:
    """A pip layer's pins still answer its declaration: the same declared set, settings and runtime."""
    now = target.settings.model_dump(mode="json", exclude=_NOT_INPUTS)
    was = old.material
    return (
        old.declared == declared
        and bool(old.requirements_text)
        and was.get("settings") == now
        and was.get("runtime") == target.runtime.model_dump(mode="json")
    )


def _why(old: Offline, new: Offline) -> str | None:
    was, now = old.material, new.material
    if was.get("layerctl") != now["layerctl"]:
        return f"layerctl version changed ({was.get('layerctl')} -> {now['layerctl']})"
    if was.get("tool") != now["tool"]:
        return f"tool changed ({was.get('tool')} -> {now['tool']})"
    if was.get("runtime") != now["runtime"]:
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
    if was.get("executor") != now["executor"]:
        kind = "image" if str(now["executor"]).startswith("image ") else "builder"
        return f"{kind} changed ({was.get('executor')} -> {now['executor']})"
    if was.get("source_date_epoch") != now["source_date_epoch"]:
        return "SOURCE_DATE_EPOCH changed"
    return None


def _keeps_decision(old: Offline, new: Offline) -> bool:
    before, after = old.material.get("settings") or {}, new.material["settings"]
    return old.material.get("requirements") == new.material["requirements"] and all(
        before.get(k) == after.get(k) for k in _DECISION_KEYS
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
    stamp = await anyio.to_thread.run_sync(read_stamp, target.out_dir)
    if stamp is None:
        return _stale(target, None, "never built")
    if stamp.offline is None:
        return _stale(target, stamp, "no record of its inputs (built by an older layerctl)")
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
        why = await anyio.to_thread.run_sync(lambda: zip_problem(target.out_dir, stamp, verify=verify))
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
