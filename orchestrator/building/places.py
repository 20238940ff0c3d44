"""The places a run of a plan writes, checked and claimed before anything is written (the rules
are ``outputs.py``'s), the directories its run lock covers, and where each problem's setting
came from (a file, ``LAYERCTL_*`` or a flag), so the one-line error names it."""

from __future__ import annotations

import functools
import os
import stat
from collections.abc import Callable
from contextlib import AbstractContextManager
from pathlib import Path

from ..core.errors import ConfigError
from ..core.outputs import check_claim, check_inside, claim, fit_path, legacy_output, legacy_report, owned
from ..core.runlock import check_lock, run_locks
from ..package.zip import source_date_epoch
from ..plan.targets import Plan, Target

__all__ = [
    "cache_dir",
    "check_outputs",
    "claim_report_dir",
    "default_cache_dir",
    "lock_places",
    "prepare_outputs",
    "report_dir",
    "run_lock",
]


def report_dir(plan: Plan) -> Path:
    """The checked report directory: inside the workspace, never through a link, and apart from
    every layer's output directory (a single project's are both under its build/): ConfigError."""
    where = plan.origin("report_dir")
    report = check_inside(plan.workspace.root, plan.options.report_dir, key="report-dir", where=where)
    mine = report.resolve()
    for target in _one_per_output(plan):
        out = output_root(target, plan).resolve()
        if out == mine or out in mine.parents or mine in out.parents:
            raise ConfigError(
                f"{where}: 'report-dir' = {plan.options.report_dir!r} overlaps {out}, the output "
                f"directory of layer {target.layer.name}; give each a directory of its own"
            )
    return report


def _one_per_output(plan: Plan) -> list[Target]:
    """The first target of each output directory (a layer's targets share theirs), in order."""
    seen: dict[tuple[Path, str], Target] = {}
    for target in plan.targets:
        if not target.problem:
            seen.setdefault((target.layer.root, target.settings.output), target)
    return list(seen.values())


def claim_report_dir(plan: Plan) -> Path:
    return claim(report_dir(plan), key="report-dir", where=plan.origin("report_dir"), legacy=legacy_report)


def output_root(target: Target, plan: Plan) -> Path:
    """A layer's checked output directory (ConfigError naming where the setting came from)."""
    layer = target.layer
    return check_inside(layer.root, target.settings.output, key="output", where=plan.origin("output", layer))


def _claim_output(root: Path, where: str) -> Path:
    return claim(root, key="output", where=where, legacy=legacy_output)


def lock_places(plan: Plan, *, creating: bool) -> list[tuple[Path, Callable[[], object]]]:
    """What the run lock covers: the report directory and the output directory of every layer
    of the plan (``creating``: made when missing, as a build does; else only those that exist
    and are layerctl's, as ``clean`` needs). What taking the lock would refuse (a directory
    that is not layerctl's, a link at the lock's name) is refused now, writing nothing."""
    places: list[tuple[Path, Callable[[], object]]] = []
    if creating:  # what taking the lock would refuse is refused here, before it makes anything
        check_claim(report_dir(plan), key="report-dir", where=plan.origin("report_dir"), legacy=legacy_report)
        places.append((report_dir(plan), lambda: claim_report_dir(plan)))
    elif owned(report_dir(plan), legacy_report):
        places.append((report_dir(plan), lambda: None))
    for target in _one_per_output(plan):
        root, where = output_root(target, plan), plan.origin("output", target.layer)
        if creating:
            check_claim(root, key="output", where=where, legacy=legacy_output)
            places.append((root, functools.partial(_claim_output, root, where)))
        elif owned(root, legacy_output):
            places.append((root, lambda: None))
    for directory, _ in places:
        check_lock(directory)
    return places


def run_lock(
    plan: Plan, wait: bool, *, creating: bool = True, say: Callable[[str], None]
) -> AbstractContextManager[None]:
    """The run lock of the report directory and of every layer's outputs: one run at a time on
    any of them, whatever the other run's report directory or workspace root."""
    return run_locks(lock_places(plan, creating=creating), wait=wait, say=say)


def cache_dir(plan: Plan) -> Path:
    if plan.options.cache_dir:
        return (plan.workspace.root / plan.options.cache_dir).resolve()
    return default_cache_dir()


def default_cache_dir() -> Path:
    return Path.home() / ".cache" / "layerctl"


def _check_cache_dir(plan: Plan) -> None:
    """A configured cache-dir is layerctl's alone: never the workspace, a layer project or a
    directory that holds them, and new, empty or already marked as layerctl's."""
    if not plan.options.cache_dir:
        return
    fit_path(plan.workspace.root / plan.options.cache_dir, key="cache-dir", where=plan.origin("cache_dir"))
    cache = cache_dir(plan)
    where = plan.origin("cache_dir")
    workspace = plan.workspace.root.resolve()
    layers = {t.layer.root.resolve() for t in plan.targets}
    # never the workspace or a directory holding it, never a layer project, inside or around it
    overlaps = [root for root in (workspace, *layers) if cache == root or cache in root.parents]
    overlaps += [root for root in layers if root in cache.parents]
    if overlaps:
        raise ConfigError(
            f"{where}: 'cache-dir' = {plan.options.cache_dir!r} overlaps {overlaps[0]}; layerctl's caches "
            "need a directory of their own (e.g. .cache/layerctl, or one outside the workspace)"
        )
    check_claim(cache, key="cache-dir", where=where, legacy=_legacy_cache)


def _legacy_cache(entries: list[Path]) -> bool:
    return all(e.name.startswith("pip-") and e.is_dir() and not e.is_symlink() for e in entries)


def check_outputs(plan: Plan) -> None:
    """Everything ``prepare_outputs`` could refuse, writing nothing (a refused run leaves the
    workspace as it was): SOURCE_DATE_EPOCH, the output directory of each layer and each
    target's directory, the cache directory. Any problem is a ConfigError."""
    source_date_epoch()
    for target in _one_per_output(plan):  # a broken layer writes nothing
        check_claim(
            output_root(target, plan),
            key="output",
            where=plan.origin("output", target.layer),
            legacy=legacy_output,
        )
    for target in (t for t in plan.targets if not t.problem):
        out = target.out_dir
        try:
            mode = os.lstat(out).st_mode  # one call: most targets' directories are not there yet
        except (FileNotFoundError, NotADirectoryError):
            continue
        if not stat.S_ISDIR(mode):
            raise ConfigError(
                f"{out}: is a {'symlink' if stat.S_ISLNK(mode) else 'file'}, where layerctl keeps "
                f"{target.id}'s outputs; remove it"
            )
    _check_cache_dir(plan)


def prepare_outputs(plan: Plan) -> None:
    """Claim every place the run writes, checked first (``check_outputs``): the output
    directory of each layer and the cache directory are made and marked as layerctl's."""
    check_outputs(plan)
    roots = {output_root(t, plan): t.layer for t in _one_per_output(plan)}
    for root, layer in roots.items():
        _claim_output(root, plan.origin("output", layer))
    if plan.options.cache_dir:
        claim(cache_dir(plan), key="cache-dir", where=plan.origin("cache_dir"), legacy=_legacy_cache)
