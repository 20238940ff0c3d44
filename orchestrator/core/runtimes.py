"""The Lambda runtime table (``resources/runtimes.toml``) and the two architectures."""

from __future__ import annotations

import enum
import platform
from functools import cache
from importlib import resources

from packaging.version import Version
from pydantic import BaseModel, ConfigDict, Field

from ._toml import loads as toml_loads

__all__ = ["Arch", "Runtime", "get_runtime", "runtimes", "supported_pythons"]


class Arch(str, enum.Enum):
    """A Lambda architecture, named as Lambda names it."""

    X86_64 = "x86_64"
    ARM64 = "arm64"

    @property
    def machine(self) -> str:
        """What ``uname -m`` prints and what uv's target triples start with."""
        return _MACHINE[self]

    @property
    def elf_machine(self) -> str:
        """The ELF ``e_machine`` name (as pyelftools spells it) of binaries for this arch."""
        return _ELF_MACHINE[self]

    @property
    def docker_platform(self) -> str:
        return _DOCKER_PLATFORM[self]

    @property
    def docker_arch(self) -> str:
        """The architecture an image's config records (``docker image inspect``)."""
        return _DOCKER_PLATFORM[self].partition("/")[2]

    @classmethod
    def from_name(cls, name: str) -> Arch | None:
        """The arch any of its names means: Lambda's, uname's or Docker's (arm64/aarch64, x86_64/amd64)."""
        return _BY_NAME.get(name.lower())

    @classmethod
    def host(cls) -> Arch | None:
        return cls.from_name(platform.machine())

    def __str__(self) -> str:
        return self.value


# The one table of an arch's names.
_MACHINE = {Arch.X86_64: "x86_64", Arch.ARM64: "aarch64"}
_ELF_MACHINE = {Arch.X86_64: "EM_X86_64", Arch.ARM64: "EM_AARCH64"}
_DOCKER_PLATFORM = {Arch.X86_64: "linux/amd64", Arch.ARM64: "linux/arm64"}
_BY_NAME = {
    name: arch
    for arch in Arch
    for name in (arch.value, _MACHINE[arch], _DOCKER_PLATFORM[arch].partition("/")[2])
}


class Runtime(BaseModel):
    """One row of the runtime table."""

    model_config = ConfigDict(frozen=True, extra="forbid", populate_by_name=True)

    python: str
    lambda_runtime: str = Field(alias="lambda-runtime")
    os: str
    glibc: str
    manylinux: str
    uv_manylinux: str = Field(alias="uv-manylinux")
    uv_manylinux_above: str | None = Field(default=None, alias="uv-manylinux-above")
    build_image: str = Field(alias="build-image")
    runtime_image: str = Field(alias="runtime-image")

    @property
    def glibc_version(self) -> Version:
        return Version(self.glibc)

    def uv_platform(self, arch: Arch) -> str:
        """The ``uv pip install --python-platform`` triple, e.g. ``aarch64-manylinux_2_34``."""
        return f"{arch.machine}-{self.uv_manylinux}"

    def uv_platform_above(self, arch: Arch) -> str | None:
        """For a runtime uv cannot name exactly: the uv platform just above it (see wheels.py)."""
        return f"{arch.machine}-{self.uv_manylinux_above}" if self.uv_manylinux_above else None

    def platform_tags(self, arch: Arch) -> tuple[str, ...]:
        """Every wheel platform tag the runtime accepts on ``arch``, the most preferred first:
        manylinux_2_X for its glibc down to the oldest (aarch64 wheels start at 2_17), each with
        its legacy alias (manylinux2014 = 2_17, manylinux2010 = 2_12, manylinux1 = 2_5)."""
        newest = int(self.manylinux.rsplit("_", 1)[1])
        oldest = 17 if arch is Arch.ARM64 else 5
        tags: list[str] = []
        for minor in range(newest, oldest - 1, -1):
            tags.append(f"manylinux_2_{minor}_{arch.machine}")
            if minor in _LEGACY_MANYLINUX:
                tags.append(f"{_LEGACY_MANYLINUX[minor]}_{arch.machine}")
        return tuple(tags)


_LEGACY_MANYLINUX = {17: "manylinux2014", 12: "manylinux2010", 5: "manylinux1"}


@cache
def runtimes() -> tuple[Runtime, ...]:
    text = resources.files("orchestrator").joinpath("resources/runtimes.toml").read_text("utf-8")
    rows = toml_loads(text)["runtime"]
    return tuple(Runtime.model_validate(row) for row in rows)


def supported_pythons() -> tuple[str, ...]:
    return tuple(r.python for r in runtimes())


def get_runtime(python: str) -> Runtime:
    for runtime in runtimes():
        if runtime.python == python:
            return runtime
    raise KeyError(python)
