"""ELF machine and glibc checks on real binaries."""

from __future__ import annotations

import shutil
import struct
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest
from packaging.version import Version

from orchestrator.core.errors import AuditError
from orchestrator.core.runtimes import Arch
from orchestrator.package.audit import audit_tree, read_elf


def aarch64_elf(path: Path) -> Path:
    """A minimal valid 64-bit little-endian ELF header for AArch64 (e_machine 183), no sections."""
    ident = b"\x7fELF" + bytes([2, 1, 1, 0]) + bytes(8)
    header = ident + struct.pack("<HHIQQQIHHHHHH", 3, 183, 1, 0, 0, 0, 0, 64, 0, 0, 64, 0, 0)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(header)
    return path


def host_extension() -> Path:
    """A real x86-64 (or host-machine) shared object: one of the interpreter's own extensions."""
    found = sorted(Path(sys.base_prefix, "lib").glob("python3*/lib-dynload/*.so"))
    found += sorted(Path("/usr/lib").glob("python3*/lib-dynload/*.so"))
    if not found:
        pytest.skip("this interpreter has no extension modules on disk")
    return found[0]


HOST = Arch.X86_64 if sysconfig.get_platform().endswith("x86_64") else Arch.ARM64
OTHER = Arch.ARM64 if HOST is Arch.X86_64 else Arch.X86_64


def test_read_elf_machine(tmp_path: Path) -> None:
    aarch64 = read_elf(aarch64_elf(tmp_path / "a.so"))
    assert aarch64 is not None and aarch64.machine == "EM_AARCH64"
    info = read_elf(host_extension())
    assert info is not None and info.machine == HOST.elf_machine
    (tmp_path / "x.py").write_text("print()")
    assert read_elf(tmp_path / "x.py") is None


def test_wrong_machine_is_caught_and_named(tmp_path: Path) -> None:
    tree = tmp_path / "python"
    (tree / "pkg").mkdir(parents=True)
    shutil.copy(host_extension(), tree / "pkg" / "_speedups.so")
    (tree / "pkg/__init__.py").write_text("")
    report = audit_tree(tree, HOST, Version("2.99"))
    assert report.elf_files == 1
    with pytest.raises(AuditError, match=r"pkg/_speedups.so is a .* binary but the target is"):
        audit_tree(tree, OTHER, Version("2.99"))


def test_right_machine_passes(tmp_path: Path) -> None:
    aarch64_elf(tmp_path / "pkg/a.so")
    assert audit_tree(tmp_path, Arch.ARM64, Version("2.26")).elf_files == 1
    with pytest.raises(AuditError, match="is a AArch64 binary but the target is x86_64"):
        audit_tree(tmp_path, Arch.X86_64, Version("2.26"))


@pytest.mark.skipif(shutil.which("gcc") is None, reason="needs gcc to compile a test library")
def test_too_new_glibc_is_caught(tmp_path: Path) -> None:
    # pthread_create moved into libc in glibc 2.34: a library calling it needs GLIBC_2.34.
    src = tmp_path / "t.c"
    src.write_text(
        "#include <pthread.h>\nvoid *f(void*a){return a;}\n"
        "int go(void){pthread_t t; return pthread_create(&t, 0, f, 0);}\n"
    )
    lib = tmp_path / "python" / "lib.so"
    lib.parent.mkdir()
    subprocess.run(["gcc", "-shared", "-fPIC", "-o", str(lib), str(src)], check=True)
    info = read_elf(lib)
    assert info is not None and info.glibc is not None and info.glibc >= Version("2.34")
    assert audit_tree(lib.parent, HOST, Version("2.34")).max_glibc == info.glibc
    with pytest.raises(AuditError, match=rf"lib.so needs GLIBC_{info.glibc} but the runtime has glibc 2.26"):
        audit_tree(lib.parent, HOST, Version("2.26"))


def test_unreadable_elf_is_an_audit_error(tmp_path: Path) -> None:
    (tmp_path / "bad.so").write_bytes(b"\x7fELF\x02\x01\x01" + b"\xff" * 20)
    with pytest.raises(AuditError, match="unreadable ELF"):
        audit_tree(tmp_path, HOST, Version("2.34"))
