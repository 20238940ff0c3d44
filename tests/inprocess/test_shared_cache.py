"""The shared build caches over real stores: a directory, and S3 on moto's server (boto3 over
HTTP, through the counting proxy). Two checkouts share one cache as two CI runners would: a
hit restores (status cached), an entry is signed and checked with LAYERCTL_CACHE_SECRET, a
tampered, unsigned or foreign-signed entry is a miss with a warning, two runners storing the
same key both succeed, `read` sends no write, and a cache out of reach or stalled only warns."""

from __future__ import annotations

import hashlib
import json
import socket
import threading
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path

import boto3
import pytest

from orchestrator.building.buildcache.caches import BuildCaches
from orchestrator.building.buildcache.directory import DirectoryStore
from orchestrator.building.buildcache.durations import read_durations, store_durations
from orchestrator.building.buildcache.open import open_caches
from orchestrator.building.buildcache.s3 import S3Store, s3_cache
from orchestrator.building.buildcache.shared import RECORD_NAME, SharedCache
from orchestrator.building.stamp import Stamp
from orchestrator.core.events import TargetResult
from orchestrator.core.outputs import STAMP_NAME, ZIP_NAME
from orchestrator.core.run_settings import RunFlags
from orchestrator.plan.targets import Plan
from orchestrator.run.builds import measured
from tests.support.aws import AwsProxy, moto_server

from .conftest import FakeExecutor, by_id, plan_for, run

pytestmark = pytest.mark.anyio

A = "a:py3.12-x86_64"
BUCKET = "layer-cache"
Opener = Callable[..., BuildCaches]
_PROXY: list[AwsProxy] = []  # the S3 server's counting proxy, when the store is S3


@pytest.fixture(scope="module")
def moto() -> Iterator[tuple[str, AwsProxy]]:
    with moto_server() as server:
        yield server


@pytest.fixture(params=["directory", "s3"])
def opener(
    request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Opener]:
    """``opener(mode=..., secret=...)``: the caches of one run, over a fresh shared store."""
    if request.param == "directory":
        url = str(tmp_path / "shared")
    else:
        moto_url, proxy = request.getfixturevalue("moto")
        _PROXY[:] = [proxy]
        urllib.request.urlopen(urllib.request.Request(f"{moto_url}/moto-api/reset", method="POST")).read()
        proxy.reset()
        for name, value in {
            "AWS_ENDPOINT_URL": proxy.url,
            "AWS_REGION": "us-east-1",
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
        }.items():
            monkeypatch.setenv(name, value)
        boto3.session.Session().client("s3").create_bucket(Bucket=BUCKET)
        url = f"s3://{BUCKET}/ci/layers"

    def make(mode: str = "read-write", secret: str | None = None) -> BuildCaches:
        return open_caches(url, mode, tmp_path, secret=secret)

    yield make


def _checkout(root: Path) -> Plan:
    root.mkdir(parents=True, exist_ok=True)
    return plan_for(root, ["a"])


async def _build(root: Path, caches: BuildCaches, executor: FakeExecutor | None = None) -> TargetResult:
    return by_id(await run(_checkout(root), executor or FakeExecutor(), caches=caches))[A]


def _store(caches: BuildCaches) -> SharedCache:
    cache = caches.shared[0]
    assert isinstance(cache, SharedCache)
    return cache


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


async def test_a_second_runner_restores_what_the_first_stored(tmp_path: Path, opener: Opener) -> None:
    first = await _build(tmp_path / "one", opener(secret="s3cret"))
    assert first.status == "built" and first.warnings == []
    executor = FakeExecutor()
    row = await _build(tmp_path / "two", opener(secret="s3cret"), executor)
    assert row.status == "cached" and executor.calls == {} and row.warnings == []
    assert row.cache == _store(opener()).name and row.sha256 == first.sha256
    assert _sha(Path(row.zip_path or "")) == first.sha256
    entry = _store(opener()).lookup(_key(row))
    assert entry is not None and entry.shared is not None
    assert entry.shared.target == A and entry.shared.signature and entry.shared.size == first.zipped_size
    assert entry.record.result.zip_path == ZIP_NAME and entry.record.offline is not None
    assert entry.record.offline.zip_stat is None  # nothing of the first checkout's disk in it
    assert "s3cret" not in json.dumps(entry.shared.model_dump(mode="json"))


def _key(row: TargetResult) -> str:
    stamp = json.loads((Path(row.zip_path or "").parent / STAMP_NAME).read_text())
    return str(stamp["key"])


@pytest.mark.parametrize(
    ("stored", "read", "said"),
    [
        (None, "s3cret", "its record is not signed (LAYERCTL_CACHE_SECRET is set)"),
        ("other", "s3cret", "its record's signature does not verify"),
        ("s3cret", "s3cret", "its record's signature does not verify"),  # tampered after signing
    ],
    ids=["unsigned", "another-secret", "tampered"],
)
async def test_an_entry_that_does_not_verify_is_a_miss(
    tmp_path: Path, opener: Opener, stored: str | None, read: str, said: str
) -> None:
    first = await _build(tmp_path / "one", opener(secret=stored))
    if said.endswith("verify") and stored == read:  # someone with write access changes the record
        cache = _store(opener())
        entry = cache.lookup(_key(first))
        assert entry is not None and entry.shared is not None
        forged = entry.shared.model_copy(update={"target": "evil:py3.12-x86_64"})
        _overwrite(cache, _key(first), forged.model_dump_json().encode())
    executor = FakeExecutor()
    row = await _build(tmp_path / "two", opener(secret=read), executor)
    assert row.status == "built" and executor.calls == {A: 1}
    key = _key(first)  # named, so that a user can delete the entry
    assert any(
        w.startswith(f"build cache {_store(opener()).name}: entry {key} rejected: {said}")
        and w.endswith("; a miss")
        for w in row.warnings
    ), row.warnings


async def test_a_zip_that_is_not_its_records_names_the_entry(tmp_path: Path, opener: Opener) -> None:
    first = await _build(tmp_path / "one", opener())
    key = _key(first)
    cache = _store(opener())
    store = cache.objects
    if isinstance(store, S3Store):
        store.client().put_object(Bucket=store.bucket, Key=f"{store.prefix}/{key}/{ZIP_NAME}", Body=b"PK")
    else:
        assert isinstance(store, DirectoryStore)
        (store.root / key / ZIP_NAME).unlink()
        (store.root / key / ZIP_NAME).write_bytes(b"PK")
    row = await _build(tmp_path / "two", opener())
    assert row.status == "built"
    assert (
        f"build cache {cache.name}: entry {key} rejected: its zip is not the one its record describes; a miss"
        in row.warnings
    )


async def test_publish_says_why_a_cache_entry_was_not_used(tmp_path: Path, opener: Opener) -> None:
    """`publish` on a fresh checkout whose cache entry does not verify: the failed row says why
    (not only "not in the shared build cache") and the warning is emitted, as build-all does."""
    from orchestrator.building.localwheels import LocalWheels
    from orchestrator.core.events import TargetWarning
    from orchestrator.run.publish import from_cache, last_good_build

    first = await _build(tmp_path / "one", opener(secret="s3cret"))
    key = _key(first)
    plan = _checkout(tmp_path / "two")
    (target,) = plan.targets
    events: list[object] = []

    async def emit(event: object) -> None:
        events.append(event)

    local = LocalWheels()
    try:
        row = await from_cache(target, opener(secret="other"), local, last_good_build(target), emit=emit)
        assert row.status == "failed"
        reason = "its record's signature does not verify"
        assert reason in (row.error or "") and key in (row.error or ""), row.error
        assert "not in the shared build cache" not in (row.error or "")
        assert [e.message for e in events if isinstance(e, TargetWarning)] == row.warnings
        assert any(reason in w and key in w for w in row.warnings)
        missing = await from_cache(target, opener(), local, last_good_build(target), emit=emit)
        assert missing.status == "cached"  # without a secret the entry is trusted: the control
        (tmp_path / "three").mkdir()
        (fresh,) = _checkout(tmp_path / "three").targets
        empty = open_caches(str(tmp_path / "empty"), "read", tmp_path)
        none = await from_cache(fresh, empty, local, last_good_build(fresh), emit=emit)
        assert none.status == "failed" and "not in the shared build cache" in (none.error or "")
    finally:
        local.close()


def _overwrite(cache: SharedCache, key: str, data: bytes) -> None:
    """What an attacker with write access to the bucket or directory does (not layerctl)."""
    store = cache.objects
    if isinstance(store, S3Store):
        store.client().put_object(Bucket=store.bucket, Key=f"{store.prefix}/{key}/{RECORD_NAME}", Body=data)
    else:
        assert isinstance(store, DirectoryStore)
        path = store.root / key / RECORD_NAME
        path.unlink()
        path.write_bytes(data)


async def test_without_a_secret_any_entry_is_trusted(tmp_path: Path, opener: Opener) -> None:
    """What the docs say: without a secret, who can write the cache decides what is restored
    (signed entries are read too)."""
    await _build(tmp_path / "one", opener(secret="s3cret"))
    assert (await _build(tmp_path / "two", opener())).status == "cached"


async def test_two_runners_storing_one_key_at_once_both_succeed(tmp_path: Path, opener: Opener) -> None:
    caches = opener(mode="read", secret="k")  # built without storing: the cache stays empty
    first = await _build(tmp_path / "one", caches)
    stamp = Stamp.model_validate_json((Path(first.zip_path or "").parent / STAMP_NAME).read_text())
    shared, cache = caches.record(stamp, A), _store(caches)
    errors: list[BaseException] = []
    barrier = threading.Barrier(2)

    def store() -> None:
        try:
            barrier.wait()
            cache.store(stamp.key, Path(first.zip_path or ""), stamp, shared)
        except BaseException as exc:  # the test reports it
            errors.append(exc)

    threads = [threading.Thread(target=store) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    entry = cache.lookup(stamp.key)
    assert entry is not None and entry.shared == shared
    executor = FakeExecutor()
    row = await _build(tmp_path / "two", opener(secret="k"), executor)
    assert row.status == "cached" and executor.calls == {} and row.sha256 == first.sha256


async def test_read_mode_sends_no_write(tmp_path: Path, opener: Opener) -> None:
    row = await _build(tmp_path / "one", opener(mode="read"))
    assert row.status == "built" and row.warnings == []
    assert _writes(tmp_path, opener) == 0
    await _build(tmp_path / "two", opener())
    assert _writes(tmp_path, opener) == 2  # the zip, then its record


def _writes(tmp_path: Path, opener: Opener) -> int:
    """Objects written: PUT requests counted at the S3 server, files in the directory."""
    store = _store(opener()).objects
    if isinstance(store, S3Store):
        proxy: AwsProxy = _PROXY[0]
        return proxy.ops["PutObject"]
    return sum(1 for p in (tmp_path / "shared").rglob("*") if p.is_file())


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def stalled() -> Iterator[int]:
    """A port that accepts connections and never answers."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(16)
    accepted: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        server.settimeout(0.1)
        while not stop.is_set():
            try:
                accepted.append(server.accept()[0])
            except OSError:
                continue

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    yield int(server.getsockname()[1])
    stop.set()
    thread.join()
    for conn in accepted:
        conn.close()
    server.close()


@pytest.mark.parametrize("how", ["closed", "stalled"])
async def test_a_cache_out_of_reach_only_warns(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, stalled: int, how: str
) -> None:
    port = _closed_port() if how == "closed" else stalled
    for name, value in {
        "AWS_ENDPOINT_URL": f"http://127.0.0.1:{port}",
        "AWS_REGION": "us-east-1",
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_MAX_ATTEMPTS": "2",
    }.items():
        monkeypatch.setenv(name, value)
    cache = s3_cache(BUCKET, "p", f"s3://{BUCKET}/p", timeout_s=0.5)
    executor = FakeExecutor()
    row = await _build(tmp_path, BuildCaches((cache,)), executor)
    assert row.status == "built" and executor.calls == {A: 1}
    assert row.warnings and all(w.startswith(f"build cache s3://{BUCKET}/p: ") for w in row.warnings)
    assert "out of reach earlier in this run" in row.warnings[-1]  # the store was not even tried


async def test_durations_kept_order_a_fresh_runner(tmp_path: Path, opener: Opener) -> None:
    """Durations stored signed (as a build run stores them: tests/integration/test_shared_cache.py)
    order a fresh runner that has no report of its own; another secret or another workspace
    reads nothing it cannot trust."""
    plan = _checkout(tmp_path / "one" / "ws")
    row = by_id(await run(plan, FakeExecutor(), caches=opener(secret="k")))[A]
    assert row.status == "built" and row.duration_s > 0
    assert store_durations(opener(secret="k"), plan.workspace_id, "run1", {A: row.duration_s}) == []
    stored = read_durations(opener(secret="k"), plan.workspace_id)
    assert stored == {A: round(row.duration_s, 3)}
    assert read_durations(opener(secret="other"), plan.workspace_id) == {}  # signed with another secret
    assert read_durations(opener(), plan.workspace_id) == stored  # no secret: any document is read
    assert read_durations(opener(secret="k"), "another-workspace") == {}

    fresh = _checkout(tmp_path / "two" / "ws")  # another checkout of the workspace, no report.json
    assert fresh.workspace_id == plan.workspace_id
    assert measured(fresh, RunFlags(), opener(secret="k")) == stored
    assert measured(fresh, RunFlags()) == {}


async def test_newer_durations_win_and_a_bad_document_is_skipped(tmp_path: Path, opener: Opener) -> None:
    caches = opener(secret="k")
    assert store_durations(caches, "ws-1", "run1", {"a": 5.0, "b": 2.0}) == []
    assert store_durations(caches, "ws-1", "run2", {"a": 9.0, "c": -1.0, "d": 1e9}) == []
    store = _store(caches).objects
    store.create(
        "durations/ws-1/99991231T235959000000Z-forged.json", b'{"format": 1, "workspace": "ws-1"', ""
    )
    store.create(
        "durations/ws-1/99991231T235959000001Z-unsigned.json",
        b'{"workspace": "ws-1", "durations": {"a": 1}}',
        "",
    )
    assert read_durations(caches, "ws-1") == {
        "a": 9.0,
        "b": 2.0,
    }  # newest wins; nonsense and unsigned skipped
    before = store.names("durations/ws-1/", "")
    assert store_durations(opener(mode="read", secret="k"), "ws-1", "run3", {"a": 1.0}) == []
    assert store.names("durations/ws-1/", "") == before  # cache-mode = "read" writes nothing


async def test_a_rejected_built_wheel_is_a_warning_naming_its_entry(tmp_path: Path) -> None:
    """The built-wheel cache's lines say `warning:` as the others do, and name the entry."""
    from orchestrator.building.buildcache.wheels import SharedWheels, WheelRecord

    key = "ab" * 32
    entry = tmp_path / "shared" / "built-wheels" / key
    entry.mkdir(parents=True)
    (entry / "six-1.0-py3-none-any.whl").write_bytes(b"not the wheel")
    record = WheelRecord(key=key, file="six-1.0-py3-none-any.whl", sha256="0" * 64, size=13)
    (entry / "record.json").write_text(record.model_dump_json())
    said: list[str] = []

    async def note(line: str) -> None:
        said.append(line)

    wheels = SharedWheels(open_caches(str(tmp_path / "shared"), "read", tmp_path))
    assert await wheels.fetch(key, tmp_path / "into", note) is None
    (line,) = said
    assert line.startswith("warning: built-wheel cache ") and f"entry built-wheels/{key} rejected: " in line
    assert line.endswith("its wheel does not hash to its record; a miss")
