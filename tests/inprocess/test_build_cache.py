"""The build cache's seam (``orchestrator/building/buildcache``): a second implementation (a cache kept in
memory, ``tests/support/buildcache.py``) shared by two checkouts, as CI runners would share one.
A hit restores the outputs and nothing builds; a cache that fails or lies is a miss and the
target builds; an entry is written once."""

from __future__ import annotations

import hashlib
import shutil
from pathlib import Path

import anyio
import pytest

from orchestrator.building.buildcache.caches import BuildCaches
from orchestrator.building.buildcache.local import LocalCache
from orchestrator.building.executors import InstallRequest
from orchestrator.building.freshness import check_targets
from orchestrator.building.localwheels import LocalWheels
from orchestrator.core.events import TargetResult
from orchestrator.core.outputs import ARTIFACTS, REQUIREMENTS_NAME, STAMP_NAME, ZIP_NAME
from orchestrator.core.process import BatchSink
from orchestrator.plan.targets import Plan
from tests.support.buildcache import DictCache

from .conftest import FakeExecutor, by_id, plan_for, run

pytestmark = pytest.mark.anyio

A = "a:py3.12-x86_64"


def _checkout(root: Path) -> Plan:
    root.mkdir(parents=True, exist_ok=True)
    return plan_for(root, ["a"])


async def _build(
    root: Path, cache: DictCache, executor: FakeExecutor, *, force: bool = False
) -> TargetResult:
    outcome = await run(_checkout(root), executor, caches=BuildCaches((cache,)), force=force)
    return by_id(outcome)[A]


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


async def _log(row: TargetResult) -> str:
    return await anyio.Path(row.log or "").read_text()


async def test_a_hit_restores_the_outputs_and_nothing_builds(tmp_path: Path) -> None:
    cache = DictCache()
    first = await _build(tmp_path / "one", cache, FakeExecutor())
    assert first.status == "built" and len(cache.entries) == 1
    executor = FakeExecutor()
    row = await _build(tmp_path / "two", cache, executor)  # another runner, another checkout
    assert row.status == "cached" and row.cache == "a test cache" and executor.calls == {}
    assert "cached: restored from a test cache" in await _log(row)
    out = Path(row.zip_path or "").parent
    assert out.is_relative_to(tmp_path / "two") and row.sha256 == first.sha256
    assert _sha(out / ZIP_NAME) == first.sha256
    assert (out / ARTIFACTS / "python" / "a_mod.py").read_text() == "VALUE = 'a'\n"
    assert "six" in (out / REQUIREMENTS_NAME).read_text()
    stamp = LocalCache(out).last()
    assert stamp is not None and stamp.sha256 == first.sha256
    # the restored directory is a good build like any: the check before the next run says so
    plan = _checkout(tmp_path / "two")
    assert [c.reason for c in await check_targets(plan.targets, LocalWheels())] == [None]
    again = FakeExecutor()
    assert (await _build(tmp_path / "two", cache, again)).status == "up-to-date" and again.calls == {}
    assert cache.calls.count("fetch") == 1  # the second time, the directory's own build


@pytest.mark.parametrize(
    ("cache", "said"),
    [
        (DictCache(corrupt=True), "entry {key} rejected: its zip is not the one its record describes"),
        (DictCache(fail=frozenset({"lookup"})), "failed (CacheDown: a test cache is out of reach)"),
        (DictCache(fail=frozenset({"fetch"})), "failed (CacheDown: a test cache is out of reach)"),
        (DictCache(answer="0" * 64), "entry {key} rejected: it answered another key"),
    ],
    ids=["corrupt-zip", "lookup-raises", "fetch-raises", "another-key"],
)
async def test_a_failing_or_lying_cache_is_a_miss_and_the_target_builds(
    tmp_path: Path, cache: DictCache, said: str
) -> None:
    fail, cache.fail = cache.fail, frozenset()
    first = await _build(tmp_path / "one", cache, FakeExecutor())
    said = said.format(key=next(iter(cache.entries)))  # a rejected entry is named by its key
    if cache.answer:  # the entry of another key, handed out for any key
        cache.entries[cache.answer] = next(iter(cache.entries.values()))
    cache.fail = fail
    executor = FakeExecutor()
    row = await _build(tmp_path / "two", cache, executor)
    assert row.status == "built" and executor.calls == {A: 1}
    out = Path(row.zip_path or "").parent
    assert _sha(out / ZIP_NAME) == row.sha256 == first.sha256  # built here, the same bytes
    assert f"warning: build cache a test cache: {said}; a miss" in await _log(row)
    assert f"build cache a test cache: {said}; a miss" in row.warnings
    assert not [p.name for p in out.iterdir() if p.name.startswith(".staging-")]


async def test_a_cache_that_cannot_store_fails_no_build(tmp_path: Path) -> None:
    cache = DictCache(fail=frozenset({"store"}))
    row = await _build(tmp_path, cache, FakeExecutor())
    assert row.status == "built" and cache.entries == {}
    assert "could not store the build (CacheDown: a test cache is out of reach); a miss" in await _log(row)


async def other_bytes(request: InstallRequest, log: BatchSink, attempt: int) -> None:
    (request.dest / "a_mod.py").write_text("VALUE = 'other'\n")


async def test_an_entry_is_written_once(tmp_path: Path) -> None:
    """A second build of the same key (``--force``, bytes that differ) leaves the entry as it was,
    even in a cache whose ``store`` would overwrite: the shared code does not ask it to."""
    cache = DictCache(overwrites=True)
    first = await _build(tmp_path / "one", cache, FakeExecutor())
    ((key, (data, record)),) = cache.entries.items()
    forced = await _build(tmp_path / "one", cache, FakeExecutor({"a": other_bytes}), force=True)
    assert forced.status == "built" and forced.sha256 != first.sha256
    assert cache.entries == {key: (data, record)} and cache.calls.count("store") == 1
    executor = FakeExecutor()
    row = await _build(tmp_path / "two", cache, executor)
    assert row.status == "cached" and row.sha256 == first.sha256 and executor.calls == {}


async def test_the_local_cache_is_one(tmp_path: Path) -> None:
    """The target's directory through the same three methods: its entry, its zip copied out,
    a store that changes nothing writes nothing."""
    row = await _build(tmp_path, DictCache(), FakeExecutor())
    out = Path(row.zip_path or "").parent
    local = LocalCache(out)
    stamp = local.last()
    assert stamp is not None and local.lookup("0" * 64) is None
    entry = local.lookup(stamp.key)
    assert entry is not None and entry.record == stamp
    (tmp_path / "into").mkdir()
    local.fetch(entry, tmp_path / "into")
    assert _sha(tmp_path / "into" / ZIP_NAME) == stamp.sha256
    written = (out / STAMP_NAME).stat().st_mtime_ns
    local.store(stamp.key, out / ZIP_NAME, stamp)
    assert (out / STAMP_NAME).stat().st_mtime_ns == written
    shutil.rmtree(out / ARTIFACTS)
    assert local.zip_problem(stamp) == "artifacts missing"


async def test_a_cached_target_is_published_and_counts_as_good(tmp_path: Path) -> None:
    """`build-all --publish` whose targets are all cache hits: each restored target goes to the
    publisher's hook (nothing built), and the run exits 0 as when every target is up to date."""
    from orchestrator.plan.targets import Target
    from orchestrator.run.builds import exit_code_for

    cache = DictCache()
    await _build(tmp_path / "one", cache, FakeExecutor())
    handed: list[tuple[str, str]] = []

    async def publish(target: Target, result: TargetResult) -> TargetResult:
        handed.append((target.id, result.status))
        return result

    executor = FakeExecutor()
    outcome = await run(_checkout(tmp_path / "two"), executor, caches=BuildCaches((cache,)), after=publish)
    assert handed == [(A, "cached")] and executor.calls == {}
    assert exit_code_for(outcome) == 0


async def test_read_only_caches_store_nothing(tmp_path: Path) -> None:
    cache = DictCache()
    row = by_id(await run(_checkout(tmp_path), FakeExecutor(), caches=BuildCaches((cache,), write=False)))[A]
    assert row.status == "built" and cache.entries == {} and "store" not in cache.calls
