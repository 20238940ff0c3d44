"""Shards of a selection: the targets split into N disjoint sets of about equal expected cost,
so N CI jobs build a workspace together. Pure: ``layerctl matrix`` and ``--shard K/N`` call the
same ``split`` with the same inputs (the selection, the costs), so the K-th shard of the matrix
is exactly what ``--shard K/N`` selects. The specs themselves (``K/N``, ``auto``) are parsed in
``core/shardspec.py``, where the settings validate them.

* Cost: a target's duration in a previous ``report.json`` (``--durations``; its rows that
  built), else an estimate in seconds: ``ESTIMATE_S`` by its ``builder`` setting (a container
  build starts an image and runs pip in it: the executors' hints, native 1, container 2), times
  ``ARM64_FACTOR`` for arm64. The estimate reads settings only, never the host, so every machine
  computes the same split.
* Split: the targets are grouped by architecture (a shard holds one, so a CI sends it to a native
  runner); the N shards are handed to the groups one at a time, each to the group with the
  highest cost per shard (at most one shard per target); inside a group, LPT: targets by
  (cost desc, id) each into the least loaded shard (the lowest index on ties). Shards are numbered
  group by group (architectures in name order); only shards that hold targets are returned (at
  most one per target, whatever N: the shards numbered past them are empty). With fewer shards
  than architectures, the shards mix them (LPT over all targets).
* ``auto`` count: one shard per ``AUTO_SHARD_S`` seconds of expected cost, at least one per
  architecture, at most ``AUTO_MAX`` and at most one per target.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

__all__ = [
    "ARM64_FACTOR",
    "AUTO_MAX",
    "AUTO_SHARD_S",
    "ESTIMATE_S",
    "Shard",
    "Unit",
    "auto_count",
    "costs_of",
    "split",
]

ESTIMATE_S = {"native": 30.0, "auto": 30.0, "container": 60.0, "hybrid": 40.0}
ARM64_FACTOR = 1.5
AUTO_SHARD_S = 600.0  # a shard's expected build time with --shards auto
AUTO_MAX = 64


@dataclass(frozen=True)
class Unit:
    """What the split needs of one target."""

    id: str
    arch: str
    builder: str  # the setting: auto, native or container

    def estimate(self) -> float:
        return ESTIMATE_S.get(self.builder, ESTIMATE_S["native"]) * (
            ARM64_FACTOR if self.arch == "arm64" else 1.0
        )


def costs_of(units: Iterable[Unit], durations: Mapping[str, float]) -> dict[str, float]:
    """Each target's expected cost: its measured duration, else its estimate."""
    return {u.id: durations[u.id] if u.id in durations else u.estimate() for u in units}


@dataclass(frozen=True)
class Shard:
    index: int  # 1-based, global across architectures
    total: int
    arch: str | None  # None: mixed (fewer shards than architectures) or empty
    ids: tuple[str, ...]  # in the order of the selection
    cost: float

    @property
    def spec(self) -> str:
        return f"{self.index}/{self.total}"


def auto_count(units: Iterable[Unit], costs: Mapping[str, float]) -> int:
    units = list(units)
    arches = len({u.arch for u in units})
    wanted = math.ceil(sum(costs[u.id] for u in units) / AUTO_SHARD_S)
    return max(1, min(max(wanted, arches), AUTO_MAX, len(units)) if units else 1)


def split(units: Iterable[Unit], costs: Mapping[str, float], total: int) -> list[Shard]:
    """The shards of the selection ``units`` split ``total`` ways that hold targets, numbered
    from 1 (see the module's rules): at most one per target, however large ``total`` is."""
    units = list(units)
    order = {u.id: i for i, u in enumerate(units)}
    groups: dict[str | None, list[Unit]] = {}
    for unit in units:
        groups.setdefault(unit.arch, []).append(unit)
    if total < len(groups):
        groups = {None: units}
    arches = sorted(groups, key=lambda a: a or "")
    load = {a: sum(costs[u.id] for u in groups[a]) for a in arches}
    bins = dict.fromkeys(arches, 1)
    for _ in range(total - len(arches)):
        open_ = [a for a in arches if bins[a] < len(groups[a])]
        if not open_:
            break
        best = max(open_, key=lambda a: (load[a] / bins[a], -arches.index(a)))
        bins[best] += 1
    shards: list[Shard] = []
    for arch in arches:
        members: list[list[str]] = [[] for _ in range(bins[arch])]
        loads = [0.0] * bins[arch]
        for unit in sorted(groups[arch], key=lambda u: (-costs[u.id], u.id)):
            at = min(range(len(loads)), key=lambda i: (loads[i], i))
            members[at].append(unit.id)
            loads[at] += costs[unit.id]
        for ids, cost in zip(members, loads, strict=True):
            shards.append(
                Shard(len(shards) + 1, total, arch, tuple(sorted(ids, key=order.__getitem__)), cost)
            )
    return shards  # shards past these hold no target: nothing is made for them
