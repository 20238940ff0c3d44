"""Where a layer's room goes: each file counted for the distribution that installed it."""

from __future__ import annotations

from pathlib import Path

from orchestrator.package.sizes import measure
from orchestrator.package.zip import collect, exclude_patterns


def tree(root: Path, files: dict[str, int], records: dict[str, list[str]]) -> Path:
    for rel, size in files.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_bytes(b"x" * size)
    for info, listed in records.items():
        (root / info).mkdir(parents=True, exist_ok=True)
        (root / info / "RECORD").write_text("".join(f"{path},,\n" for path in [*listed, f"{info}/RECORD"]))
    return root


def sizes_of(root: Path, *, runtime_provided: bool = False, exclude: tuple[str, ...] = ()) -> dict[str, int]:
    entries = collect(root, exclude_patterns(exclude, runtime_provided=runtime_provided, keep_bytecode=True))
    return {f"{p.name} {p.version}": p.size for p in measure(root, entries).packages}


def test_files_bytecode_and_libs_are_counted_for_their_distribution(tmp_path: Path) -> None:
    root = tree(
        tmp_path,
        {
            "numpy/core.py": 100, "numpy/__pycache__/core.cpython-312.pyc": 40, "numpy.libs/libx.so": 500,
            "numpy/stray.txt": 7, "handler.py": 3, "bin/tool": 9,
        },
        {"numpy-2.0.0.dist-info": ["numpy/core.py", "numpy.libs/libx.so", "../../bin/tool"]},
    )  # fmt: skip
    record = len((root / "numpy-2.0.0.dist-info/RECORD").read_bytes())
    # no METADATA: the name and version come from the directory's name
    assert sizes_of(root) == {"numpy 2.0.0": 100 + 40 + 500 + 7 + record, "bin None": 9, "handler None": 3}


def test_runtime_provided_bytes_and_the_sdk_warning(tmp_path: Path) -> None:
    root = tree(
        tmp_path,
        {"boto3/a.py": 10, "botocore/data/b.json": 1000, "s3transfer/c.py": 20, "jmespath/d.py": 30, "yaml/e.py": 5},
        {"botocore-1.35.0.dist-info": ["botocore/data/b.json"], "yaml-6.0.dist-info": ["yaml/e.py"]},
    )  # fmt: skip
    entries = collect(root, exclude_patterns((), runtime_provided=False, keep_bytecode=False))
    sizes = measure(root, entries)
    record = len((root / "botocore-1.35.0.dist-info/RECORD").read_bytes())
    saved = 10 + 1000 + 20 + 30 + record
    assert sizes.runtime_provided == saved and sizes.provided == (
        "boto3",
        "botocore",
        "jmespath",
        "s3transfer",
    )
    assert sizes.warnings() == [
        "the layer ships boto3, botocore, jmespath, s3transfer, which every Lambda Python runtime provides: "
        f"exclude-runtime-provided = true would save {saved:,} bytes unzipped (0.0 MB), unless the "
        "functions need newer versions than the runtime's"
    ]
    kept = measure(root, collect(root, exclude_patterns((), runtime_provided=True, keep_bytecode=False)))
    assert kept.runtime_provided == 0 and kept.warnings() == [] and kept.total == sizes.total - saved


def test_jmespath_alone_is_no_sdk(tmp_path: Path) -> None:
    root = tree(tmp_path, {"jmespath/d.py": 30}, {})
    assert measure(root, collect(root, [])).warnings() == []


def test_excluded_files_are_not_counted(tmp_path: Path) -> None:
    root = tree(
        tmp_path, {"pkg/a.py": 10, "pkg/tests/t.py": 90}, {"pkg-1.dist-info": ["pkg/a.py", "pkg/tests/t.py"]}
    )
    record = len((root / "pkg-1.dist-info/RECORD").read_bytes())
    assert sizes_of(root, exclude=("*/tests/",)) == {"pkg 1": 10 + record}
