"""Test fixtures made at test time: sdists, mis-tagged wheels, copies of the example."""

from __future__ import annotations

import base64
import csv
import hashlib
import io
import posixpath
import shutil
import subprocess
import tarfile
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
FIXTURES = ROOT / "tests" / "fixtures"
EXAMPLE = ROOT / "examples" / "monorepo"


def make_sdist(name: str, dest: Path) -> Path:
    """Pack ``tests/fixtures/<name>`` as ``<name>-<version>.tar.gz`` (a source distribution only)."""
    src = FIXTURES / name
    version = next(
        line.split("=")[1].strip().strip('"')
        for line in (src / "pyproject.toml").read_text().splitlines()
        if line.startswith("version")
    )
    base = f"{name}-{version}"
    pkg_info = f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n".encode()
    dest.mkdir(parents=True, exist_ok=True)
    out = dest / f"{base}.tar.gz"
    with tarfile.open(out, "w:gz") as tar:
        for path in sorted(src.rglob("*")):
            if path.is_file():
                tar.add(path, arcname=f"{base}/{path.relative_to(src)}")
        info = tarfile.TarInfo(f"{base}/PKG-INFO")
        info.size = len(pkg_info)
        tar.addfile(info, io.BytesIO(pkg_info))
    return out


def make_wheel(dest: Path, name: str, version: str, files: dict[str, bytes]) -> Path:
    """A ``py3-none-any`` wheel of ``name`` holding ``files`` (paths inside the wheel)."""
    dest.mkdir(parents=True, exist_ok=True)
    info = f"{name}-{version}.dist-info"
    files = {
        **files,
        f"{info}/METADATA": f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n".encode(),
        f"{info}/WHEEL": b"Wheel-Version: 1.0\nGenerator: test\nRoot-Is-Purelib: true\nTag: py3-none-any\n",
    }
    record = []
    for path, data in files.items():
        digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
        record.append(f"{path},sha256={digest},{len(data)}")
    record.append(f"{info}/RECORD,,")
    out = dest / f"{name}-{version}-py3-none-any.whl"
    with zipfile.ZipFile(out, "w") as zf:
        for path, data in files.items():
            zf.writestr(path, data)
        zf.writestr(f"{info}/RECORD", "\n".join(record) + "\n")
    return out


def make_mistagged_wheel(dest: Path, binary: Path, name: str = "badwheel") -> Path:
    """A ``py3-none-any`` wheel that nevertheless carries a native ``.so``: the classic way an
    x86 binary sneaks into an arm64 layer."""
    return make_wheel(
        dest, name, "1.0", {f"{name}/__init__.py": b"", f"{name}/_native.so": binary.read_bytes()}
    )


_EXAMPLE_LOCKS: dict[str, str] = {}  # uv binary -> the example's uv.lock, made once per test process


def copy_example(dest: Path, uv: str) -> Path:
    """A fresh copy of the example monorepo with its uv layer locked (uv.lock is never committed):
    locked once per test process, every later copy gets that same uv.lock, as every checkout of a
    repository gets the lock committed there (it names no path outside the layer)."""
    shutil.copytree(EXAMPLE, dest, ignore=shutil.ignore_patterns("build", "uv.lock"))
    web = dest / "layers/web"
    lock = _EXAMPLE_LOCKS.get(uv)
    if lock is None:
        subprocess.run([uv, "lock", "--quiet", "--project", str(web)], check=True)
        _EXAMPLE_LOCKS[uv] = (web / "uv.lock").read_text()
    else:
        (web / "uv.lock").write_text(lock)
    return dest


def record_mismatches(zip_path: Path) -> list[str]:
    """Every RECORD line of a layer zip whose path, hash or size does not match the zip's file
    (a RECORD path is relative to the directory holding the .dist-info: ``python/``)."""
    bad: list[str] = []
    with zipfile.ZipFile(zip_path) as zf:
        names = set(zf.namelist())
        records = [n for n in names if n.startswith("python/") and n.endswith(".dist-info/RECORD")]
        assert records, f"{zip_path}: no RECORD"
        for record in records:
            for row in csv.reader(io.StringIO(zf.read(record).decode())):
                if not row or not row[1]:  # RECORD itself (and bytecode) carry no hash
                    continue
                path, digest, size = row
                name = posixpath.normpath(posixpath.join("python", path))
                if name not in names:
                    bad.append(f"{record}: {path}: not in the zip (as {name})")
                    continue
                data = zf.read(name)
                algo, _, want = digest.partition("=")
                got = base64.urlsafe_b64encode(hashlib.new(algo, data).digest()).rstrip(b"=").decode()
                if got != want or int(size) != len(data):
                    bad.append(
                        f"{record}: {path}: RECORD says {digest},{size}, the file is {got},{len(data)}"
                    )
    return bad


MONOREPO = FIXTURES / "monorepo-ws"


def copy_monorepo(dest: Path, uv: str) -> Path:
    """A fresh copy of the issue-11 test monorepo with its uv workspace locked (never committed)."""
    shutil.copytree(MONOREPO, dest, ignore=shutil.ignore_patterns("build", "uv.lock", "__pycache__"))
    subprocess.run([uv, "lock", "--quiet", "--project", str(dest)], check=True)
    return dest
