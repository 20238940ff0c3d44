"""Binary audit: every ELF file of a layer must be built for the target's machine and must need
no newer glibc than the runtime has. This catches the x86 ``.so`` shipped in an arm64 layer and
the manylinux_2_28 wheel shipped to Amazon Linux 2 before Lambda does, at import time."""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path

from elftools.common.exceptions import ELFError
from elftools.elf.elffile import ELFFile
from elftools.elf.gnuversions import GNUVerNeedSection
from packaging.version import Version

from ..core.errors import AuditError
from ..core.runtimes import Arch

__all__ = ["AuditReport", "ElfInfo", "audit_tree", "read_elf"]

_ELF_MAGIC = b"\x7fELF"
_GLIBC = re.compile(r"^GLIBC_(\d+(?:\.\d+)+)$")
_MACHINE_NAMES = {"EM_X86_64": "x86-64", "EM_AARCH64": "AArch64", "EM_386": "x86", "EM_ARM": "ARM"}


@dataclass(frozen=True)
class ElfInfo:
    machine: str  # pyelftools' e_machine name, e.g. EM_AARCH64
    glibc: Version | None  # highest GLIBC_x.y symbol version needed, None if none


@dataclass(frozen=True)
class AuditReport:
    elf_files: int
    max_glibc: Version | None


def read_elf(path: Path) -> ElfInfo | None:
    """The machine and glibc needs of ``path``, or None when it is not an ELF file."""
    with path.open("rb") as fh:
        if fh.read(4) != _ELF_MAGIC:
            return None
        fh.seek(0)
        try:
            elf = ELFFile(fh)
            machine = str(elf.header["e_machine"])
            highest: Version | None = None
            for section in elf.iter_sections():
                if not isinstance(section, GNUVerNeedSection):
                    continue
                for _verneed, auxiliaries in section.iter_versions():
                    for aux in auxiliaries:
                        match = _GLIBC.match(aux.name)
                        if match:
                            version = Version(match.group(1))
                            highest = version if highest is None or version > highest else highest
        except (ELFError, ValueError, KeyError) as exc:
            raise AuditError(f"{path}: unreadable ELF file ({exc})") from None
    return ElfInfo(machine=machine, glibc=highest)


def audit_tree(root: Path, arch: Arch, glibc: Version) -> AuditReport:
    """Check every ELF file under ``root``; raise AuditError naming the first offender."""
    count = 0
    highest: Version | None = None
    for path in _files(root):
        info = read_elf(path)
        if info is None:
            continue
        count += 1
        rel = path.relative_to(root)
        if info.machine != arch.elf_machine:
            found = _MACHINE_NAMES.get(info.machine, info.machine)
            want = _MACHINE_NAMES[arch.elf_machine]
            raise AuditError(
                f"{rel} is a {found} binary but the target is {arch} ({want})",
                hint="a binary for another architecture got in: make sure the dependency has a wheel "
                "for the target's arch, or build with --builder container",
            )
        if info.glibc is not None:
            if info.glibc > glibc:
                raise AuditError(
                    f"{rel} needs GLIBC_{info.glibc} but the runtime has glibc {glibc}; "
                    "a wheel with too new a manylinux tag was installed",
                    hint="a binary needs a newer glibc than the Lambda runtime has: the wheel's manylinux "
                    "tag is too new; pin an older release or build with --builder container",
                )
            highest = info.glibc if highest is None or info.glibc > highest else highest
    return AuditReport(elf_files=count, max_glibc=highest)


def _files(root: Path) -> list[Path]:
    found: list[Path] = []
    for dirpath, _dirs, files in os.walk(root):
        found.extend(Path(dirpath, f) for f in files if not os.path.islink(os.path.join(dirpath, f)))
    return found
