"""Size help through the real pipeline: a layer over Lambda's limit fails naming its largest
packages and keeps its tree for inspection until the next run; a zip over the direct-upload limit
is a warning naming them; every built target's row carries its largest packages."""

from __future__ import annotations

import random
from pathlib import Path

import pytest

from orchestrator.building.executors import InstallRequest
from orchestrator.core.events import RunReport
from orchestrator.core.outputs import clean_output_dir
from orchestrator.core.process import BatchSink
from orchestrator.package import zip as package
from orchestrator.package.zip import UNZIPPED_LIMIT, sha256_file
from orchestrator.report.html import render_html
from orchestrator.report.reporters.summary import failure_blocks

from .conftest import FakeExecutor, by_id, plan_for, run

pytestmark = pytest.mark.anyio

TARGET = "a:py3.12-x86_64"


def install(dest: Path, name: str, version: str, files: dict[str, int | bytes]) -> None:
    """A distribution as an installer leaves it: its files (sparse, so a 200 MB one costs no disk)
    and a dist-info whose RECORD lists them."""
    info = dest / f"{name}-{version}.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n\nAbout it.\n")
    for rel, size in files.items():
        path = dest / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("wb") as fh:
            fh.write(size) if isinstance(size, bytes) else fh.truncate(size)
    rows = [f"{rel},sha256=x,{path.stat().st_size}" for rel in files if (path := dest / rel)]
    (info / "RECORD").write_text(
        "\n".join([*rows, f"{info.name}/METADATA,,", f"{info.name}/RECORD,,"]) + "\n"
    )


async def too_big(request: InstallRequest, log: BatchSink, attempt: int) -> None:
    install(request.dest, "big", "1.0", {"big/__init__.py": 10, "big/blob.bin": 200_000_000})
    install(request.dest, "botocore", "1.35.0", {"botocore/data.json": 70_000_000})
    install(request.dest, "six", "1.16.0", {"six.py": 34_000})


async def test_a_layer_over_the_limit_names_its_largest_packages_and_keeps_its_tree(tmp_path: Path) -> None:
    plan = plan_for(tmp_path, ["a"])
    assert by_id(await run(plan, FakeExecutor()))[TARGET].status == "built"
    out = plan.targets[0].out_dir
    good = sha256_file(out / "layer.zip")

    row = by_id(await run(plan, FakeExecutor({"a": too_big}), force=True))[TARGET]
    kept = out / "failed-artifacts" / "python"
    assert row.status == "failed" and row.unzipped_size is not None and row.unzipped_size > UNZIPPED_LIMIT
    assert row.error == (
        f"the layer unzips to {row.unzipped_size:,} bytes, over Lambda's limit of {UNZIPPED_LIMIT:,}; "
        f"its tree is kept in {kept} until the next run"
    )
    assert (kept / "big" / "blob.bin").stat().st_size == 200_000_000  # the very tree, for inspection
    assert [(p.name, p.version, p.size) for p in row.largest[:2]] == [
        ("big", "1.0", 200_000_010 + len((kept / "big-1.0.dist-info/METADATA").read_bytes())
         + len((kept / "big-1.0.dist-info/RECORD").read_bytes())),
        ("botocore", "1.35.0", row.largest[1].size),
    ]  # fmt: skip
    assert [p.name for p in row.largest] == ["big", "botocore", "six"]
    saved = sum(
        p.stat().st_size for d in ("botocore", "botocore-1.35.0.dist-info") for p in (kept / d).rglob("*")
    )
    assert row.hint == (
        f"leave out what the functions do not need: exclude-runtime-provided = true (saves {saved:,} "
        'bytes) and exclude patterns (e.g. exclude = ["*/tests/"]); the largest packages are listed above '
        "(and in report.html)"
    )
    assert sha256_file(out / "layer.zip") == good  # the previous good zip is untouched
    assert not [p for p in out.iterdir() if p.name.startswith(".staging-")]

    block = failure_blocks([row])[0]
    at = block.index("  largest 3 packages (unzipped):")
    assert block[at + 1 : at + 4] == [
        "  |  200.0 MB  big 1.0",
        "  |   70.0 MB  botocore 1.35.0",
        "  |    0.0 MB  six 1.16.0",
    ]
    assert block[-1] == f"  hint: {row.hint}"

    html = render_html(RunReport(
        started_at="now", duration_s=1.0, workspace=str(tmp_path), jobs=1, exit_code=1,
        interrupted=False, counts={"failed": 1}, targets=[row],
    ))  # fmt: skip
    assert f'<details class="largest" data-target="{TARGET}" open>' in html  # a failure's is open
    assert "<title>big 1.0: 200.0 MB</title>" in html and "botocore 1.35.0" in html

    # the next run of the target starts without it (an up-to-date run too)
    assert by_id(await run(plan, FakeExecutor()))[TARGET].status == "up-to-date"
    assert not (out / "failed-artifacts").exists()
    # and clean removes one as it removes the rest of layerctl's entries
    assert by_id(await run(plan, FakeExecutor({"a": too_big}), force=True))[TARGET].status == "failed"
    assert (out / "failed-artifacts").is_dir()
    clean_output_dir(out.parent)
    assert not out.exists()


async def test_every_built_row_carries_its_largest_packages(tmp_path: Path) -> None:
    plan = plan_for(tmp_path, ["a"])

    async def eleven(request: InstallRequest, log: BatchSink, attempt: int) -> None:
        for i in range(11):
            install(request.dest, f"p{i:02}", "1", {f"p{i:02}/__init__.py": 1000 * (i + 1)})
        (request.dest / "handler.py").write_text("x = 1\n")  # no distribution's: its own name

    built = by_id(await run(plan, FakeExecutor({"a": eleven})))[TARGET]
    assert [p.name for p in built.largest] == [f"p{i:02}" for i in range(10, 0, -1)]
    assert built.largest[0].files == 3 and built.largest[0].version == "1"
    again = by_id(await run(plan, FakeExecutor({"a": eleven})))[TARGET]
    assert again.status == "up-to-date" and again.largest == built.largest  # from the stamp
    log = (plan.targets[0].out_dir / "build.log").read_text()
    assert "largest packages (unzipped): p10 1 0.0 MB, p09 1 0.0 MB" in log


async def test_a_zip_over_the_direct_upload_limit_names_its_largest_packages(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(package, "DIRECT_UPLOAD_LIMIT", 1000)  # 50 MB of incompressible bytes, smaller
    plan = plan_for(tmp_path, ["a"])

    async def incompressible(request: InstallRequest, log: BatchSink, attempt: int) -> None:
        install(request.dest, "noise", "2.0", {"noise/data.bin": random.Random(0).randbytes(20_000)})

    row = by_id(await run(plan, FakeExecutor({"a": incompressible})))[TARGET]
    assert row.status == "built" and len(row.warnings) == 1
    assert row.warnings[0].startswith(
        f"layer.zip is {row.zipped_size:,} bytes zipped, over the 50 MB direct-upload"
    )
    assert row.warnings[0].endswith(
        'or leave out what the functions do not need: exclude patterns (e.g. exclude = ["*/tests/"]); '
        "largest packages (unzipped): noise 2.0 0.0 MB"
    )
    assert "publish it through S3" in row.warnings[0]
