"""Deciding without resolving: whether each locked package has a wheel for a target's exact tags
is read from the lock's recorded files (uv.lock ``wheels``, poetry.lock ``files``, pylock.toml
``wheels``), offline; only a set the lock cannot answer for goes to a resolver."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import anyio
import pytest

from orchestrator.core.runtimes import Arch
from orchestrator.plan.targets import Target
from orchestrator.resolve import gaps
from orchestrator.resolve.gaps import find_gaps
from orchestrator.resolve.lockfiles import lock_gaps
from orchestrator.resolve.reqset import RequirementSet
from orchestrator.workspace.discovery import Tool

from .test_wheels import target_for

# name, version, files (file name, sha256)
_PACKAGES = [
    ("six", "1.16.0", [("six-1.16.0-py2.py3-none-any.whl", "a1" * 32), ("six-1.16.0.tar.gz", "a2" * 32)]),
    ("fastsum", "1.0.0", [("fastsum-1.0.0.tar.gz", "b1" * 32)]),  # an sdist only
    # aarch64 wheels for glibc 2.28 only: Amazon Linux 2 (py3.11, glibc 2.26) cannot take them
    ("numpy", "2.3.0", [("numpy-2.3.0-cp311-cp311-manylinux_2_28_aarch64.whl", "c1" * 32)]),
    # Amazon Linux 2 takes manylinux2014 (2_17) on aarch64
    (
        "orjson",
        "3.10.1",
        [("orjson-3.10.1-cp311-cp311-manylinux_2_17_aarch64.manylinux2014_aarch64.whl", "d1" * 32)],
    ),
]


def _uv_lock() -> str:
    out = ["version = 1\n"]
    for name, version, files in _PACKAGES:
        base = "https://files.example/packages"
        wheels = ", ".join(
            f'{{ url = "{base}/{f}", hash = "sha256:{h}" }}' for f, h in files if f.endswith(".whl")
        )
        sdists = [(f, h) for f, h in files if not f.endswith(".whl")]
        out.append(
            f'[[package]]\nname = "{name}"\nversion = "{version}"\nsource = {{ registry = "{base}" }}\n'
        )
        if sdists:
            out.append(f'sdist = {{ url = "{base}/{sdists[0][0]}", hash = "sha256:{sdists[0][1]}" }}\n')
        out.append(f"wheels = [{wheels}]\n\n")
    return "".join(out)


def _poetry_lock() -> str:
    out = []
    for name, version, files in _PACKAGES:
        listed = ", ".join(f'{{file = "{f}", hash = "sha256:{h}"}}' for f, h in files)
        out.append(f'[[package]]\nname = "{name}"\nversion = "{version}"\nfiles = [{listed}]\n\n')
    return "".join(out) + '[metadata]\nlock-version = "2.1"\n'


def _pylock() -> str:
    out = ['lock-version = "1.0"\ncreated-by = "test"\n']
    for name, version, files in _PACKAGES:
        out.append(f'[[packages]]\nname = "{name}"\nversion = "{version}"\n')
        for f, h in files:
            table = "packages.wheels" if f.endswith(".whl") else "packages.sdist"
            brackets = f"[[{table}]]" if f.endswith(".whl") else f"[{table}]"
            out.append(
                f'{brackets}\nname = "{f}"\nurl = "https://files.example/{f}"\nhashes = {{ sha256 = "{h}" }}\n'
            )
    return "".join(out)


_LOCKS = {
    Tool.UV: ("uv.lock", _uv_lock),
    Tool.POETRY: ("poetry.lock", _poetry_lock),
    Tool.PYLOCK: ("pylock.toml", _pylock),
}


def _set(*names: str) -> RequirementSet:
    """The set a lock exports: each package pinned with the hashes of all its files."""
    lines = []
    for name, version, files in _PACKAGES:
        if name in names:
            lines.append(
                f"{name}=={version}" + "".join(f" \\\n    --hash=sha256:{h}" for _, h in files) + "\n"
            )
    return RequirementSet.parse("".join(lines))


def _locked(tool: Tool, root: Path, python: str = "3.11", arch: Arch = Arch.ARM64) -> Target:
    name, text = _LOCKS[tool]
    (root / name).write_text(text())
    target = target_for(python, arch)
    return dataclasses.replace(target, layer=dataclasses.replace(target.layer, root=root, tool=tool))


@pytest.mark.parametrize("tool", [Tool.UV, Tool.POETRY, Tool.PYLOCK])
def test_each_lock_names_what_has_no_wheel_for_the_exact_tags(tool: Tool, tmp_path: Path) -> None:
    everything = _set("six", "fastsum", "numpy", "orjson")
    assert lock_gaps(_locked(tool, tmp_path), everything) == ["fastsum", "numpy"]  # AL2 aarch64
    # x86_64: none of the aarch64 wheels fit
    assert lock_gaps(_locked(tool, tmp_path, arch=Arch.X86_64), everything) == ["fastsum", "numpy", "orjson"]
    assert lock_gaps(_locked(tool, tmp_path), _set("six", "orjson")) == []


@pytest.mark.parametrize("tool", [Tool.UV, Tool.POETRY, Tool.PYLOCK])
def test_the_decision_from_a_lock_never_runs_a_resolver(
    tool: Tool, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def no_resolver(*args: object) -> list[str]:
        raise AssertionError("a resolution ran")

    monkeypatch.setattr(gaps, "wheel_gaps", no_resolver)
    monkeypatch.setenv("PATH", "")  # no uv to find either
    target = _locked(tool, tmp_path)
    assert anyio.run(find_gaps, target, _set("six", "fastsum", "orjson")) == ["fastsum"]


def test_a_set_the_lock_cannot_answer_for_goes_to_a_resolution(tmp_path: Path) -> None:
    target = _locked(Tool.UV, tmp_path)
    unknown = RequirementSet.parse("six==1.16.0 \\\n    --hash=sha256:" + "ee" * 32 + "\n")  # not in the lock
    assert lock_gaps(target, unknown) is None
    assert lock_gaps(target, RequirementSet.parse("six==1.16.0\n")) is None  # no hashes
    pip = dataclasses.replace(target, layer=dataclasses.replace(target.layer, tool=Tool.PIP))
    assert lock_gaps(pip, _set("six")) is None  # a pip layer has no lock
    (tmp_path / "uv.lock").write_text("not toml [")
    assert lock_gaps(target, _set("six")) is None  # the build reports the lock's problem


def test_a_direct_reference_to_an_sdist_is_compiled_and_a_wheel_is_not(tmp_path: Path) -> None:
    target = _locked(Tool.UV, tmp_path)
    direct = RequirementSet.parse(
        "fastsum @ file:///vendor/fastsum-1.0.0.tar.gz\nlib @ file:///wheels/lib-1-py3-none-any.whl\n"
    )
    assert lock_gaps(target, direct) == ["fastsum"]


def test_a_uv_path_source_to_an_sdist_is_compiled(tmp_path: Path) -> None:
    """``[tool.uv.sources] x = { path = "vendor/x-1.tar.gz" }``: uv export writes the bare path,
    which names no package; the set made absolute names it, and the lock's answer is a gap."""
    target = _locked(Tool.UV, tmp_path)
    (tmp_path / "vendor").mkdir()
    (tmp_path / "vendor" / "fastsum-1.0.0.tar.gz").write_bytes(b"sdist")
    (tmp_path / "vendor" / "lib-1-py3-none-any.whl").write_bytes(b"wheel")
    exported = (
        "./vendor/fastsum-1.0.0.tar.gz \\\n    --hash=sha256:" + "b1" * 32 + "\n"
        "./vendor/lib-1-py3-none-any.whl ; python_version >= '3.8'\n"
    )
    absolute = RequirementSet.parse(exported).absolute_paths(tmp_path)
    sdist, wheel = absolute.entries
    assert (sdist.name, sdist.path, sdist.hashes) == (
        "fastsum",
        tmp_path / "vendor" / "fastsum-1.0.0.tar.gz",
        ("sha256:" + "b1" * 32,),
    )
    assert (wheel.name, wheel.marker) == ("lib", 'python_version >= "3.8"')
    assert lock_gaps(target, absolute) == ["fastsum"]
    assert absolute.not_wheels() == ["fastsum"]  # a resolution's answer names it too


def test_a_pip_layers_pins_say_what_has_no_wheel_without_a_resolution(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A cold pip target costs one resolution (its pins, which record the packages with no
    wheel when they are made) and its install: deciding runs none."""
    from orchestrator.resolve.pip import PINS_HEADER, PINS_HOW

    async def no_resolver(*args: object) -> list[str]:
        raise AssertionError("a resolution ran")

    monkeypatch.setattr(gaps, "wheel_gaps", no_resolver)
    monkeypatch.setenv("PATH", "")
    locked = _locked(Tool.UV, tmp_path)
    target = dataclasses.replace(locked, layer=dataclasses.replace(locked.layer, tool=Tool.PIP))
    header = f"{PINS_HEADER} for {target.id} from pyproject.toml {PINS_HOW}\n"
    pins = "six==1.16.0 \\\n    --hash=sha256:" + "a1" * 32 + "\n"
    sources = "# built from source (no version has a wheel for manylinux_2_26 aarch64): mmh3, fastsum\n"
    direct = "lib @ file:///vendor/lib-2.0.tar.gz\n"
    assert anyio.run(find_gaps, target, RequirementSet.parse(header + pins)) == []
    assert anyio.run(find_gaps, target, RequirementSet.parse(header + sources + pins)) == ["mmh3", "fastsum"]
    assert anyio.run(find_gaps, target, RequirementSet.parse(header + pins + direct)) == ["lib"]
    # pins of another target, or of another layerctl's making, are not taken at their word
    other = header.replace(target.id, "x:py3.12-arm64")
    with pytest.raises(AssertionError, match="a resolution ran"):
        anyio.run(find_gaps, target, RequirementSet.parse(other + pins))
