"""The places a run of a plan writes, checked and claimed before anything is written (the rules
are ``outputs.py``'s), the directories its run lock covers, and where each problem's setting
came from (a file, ``LAYERCTL_*`` or a flag), so the one-line error names it."""

from __future__ import annotations

import functools
from collections.abc import Callable
from pathlib import Path

from .errors import ConfigError
from .outputs import check_inside, claim, fit_path, legacy_output, legacy_report, owned
from .package import source_date_epoch
from .plan import Plan, Target

__all__ = [
    "cache_dir",
    "claim_report_dir",
    "default_cache_dir",
    "lock_places",
    "prepare_outputs",
    "report_dir",
]


def report_dir(plan: Plan) -> Path:
    """The checked report directory: inside the workspace, never through a link (ConfigError)."""
    where = plan.origin("report_dir")
    return check_inside(plan.workspace.root, plan.options.report_dir, key="report-dir", where=where)


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
    and are layerctl's, as ``clean`` needs)."""
    places: list[tuple[Path, Callable[[], object]]] = []
    if creating:
        places.append((report_dir(plan), lambda: claim_report_dir(plan)))
    elif owned(report_dir(plan), legacy_report):
        places.append((report_dir(plan), lambda: None))
    for target in (t for t in plan.targets if not t.problem):
        root = output_root(target, plan)
        if creating:
            places.append((root, functools.partial(_claim_output, root, plan.origin("output", target.layer))))
        elif owned(root, legacy_output):
            places.append((root, lambda: None))
    return places


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
    claim(cache, key="cache-dir", where=where, legacy=_legacy_cache)


def _legacy_cache(entries: list[Path]) -> bool:
    return all(e.name.startswith("pip-") and e.is_dir() and not e.is_symlink() for e in entries)


def prepare_outputs(plan: Plan) -> None:
    """Check every place the run will write before anything is written: the output directory
    of each layer (claimed as layerctl's), each target's directory, the cache directory and
    SOURCE_DATE_EPOCH. Any problem is a ConfigError: nothing is built, nothing is touched."""
    source_date_epoch()
    claimed: set[Path] = set()
    for target in (t for t in plan.targets if not t.problem):  # a broken layer writes nothing
        out_root = output_root(target, plan)
        if out_root not in claimed:
            claim(out_root, key="output", where=plan.origin("output", target.layer), legacy=legacy_output)
            claimed.add(out_root)
        out = target.out_dir
        if out.is_symlink() or (out.exists() and not out.is_dir()):
            raise ConfigError(
                f"{out}: is a {'symlink' if out.is_symlink() else 'file'}, where layerctl keeps "
                f"{target.id}'s outputs; remove it"
            )
    _check_cache_dir(plan)
