"""The wheels a Lambda runtime takes: exactly its tags, chosen by packaging's priority."""

from __future__ import annotations

from pathlib import Path

import pytest
from packaging.specifiers import SpecifierSet

from orchestrator.core.errors import NoCompatibleWheel, ResolveError
from orchestrator.core.runtimes import Arch, get_runtime
from orchestrator.core.settings import LayerSettings
from orchestrator.plan.targets import Target
from orchestrator.resolve.reqset import RequirementSet
from orchestrator.resolve.wheels import choose_wheels
from orchestrator.workspace.discovery import Layer, Tool


def target_for(python: str, arch: Arch) -> Target:
    layer = Layer(
        name="l", root=Path("/l"), pyproject=Path("/l/pyproject.toml"), tool=Tool.PIP,
        requires_python=SpecifierSet(), dependencies=(),
    )  # fmt: skip
    return Target(layer=layer, runtime=get_runtime(python), arch=arch, settings=LayerSettings())


@pytest.mark.parametrize(
    ("python", "arch", "newest", "oldest", "count"),
    [
        ("3.11", Arch.X86_64, "manylinux_2_26_x86_64", "manylinux1_x86_64", 22 + 3),
        ("3.11", Arch.ARM64, "manylinux_2_26_aarch64", "manylinux2014_aarch64", 10 + 1),
        ("3.12", Arch.X86_64, "manylinux_2_34_x86_64", "manylinux1_x86_64", 30 + 3),
        ("3.13", Arch.ARM64, "manylinux_2_34_aarch64", "manylinux2014_aarch64", 18 + 1),
    ],
)
def test_platform_tags_are_exactly_the_runtimes(
    python: str, arch: Arch, newest: str, oldest: str, count: int
) -> None:
    tags = get_runtime(python).platform_tags(arch)
    assert tags[0] == newest and tags[-1] == oldest and len(tags) == count
    assert ("manylinux_2_27_x86_64" not in tags and "manylinux_2_28_aarch64" not in tags) or python != "3.11"


def _pylock(*wheels: tuple[str, str, list[str]]) -> str:
    """(name, version, wheel file names) -> a pylock.toml as uv writes it."""
    parts = ['lock-version = "1.0"\n']
    for name, version, files in wheels:
        listed = ", ".join(
            f'{{ url = "https://files.example/{f}", hashes = {{ sha256 = "{(name + f)[:8].encode().hex():0<64}" }} }}'
            for f in files
        )
        parts.append(f'[[packages]]\nname = "{name}"\nversion = "{version}"\nwheels = [{listed}]\n')
    return "\n".join(parts)


def test_a_manylinux_2_24_wheel_is_chosen_for_al2_and_a_2_28_one_never() -> None:
    target = target_for("3.11", Arch.X86_64)
    pylock = _pylock(
        ("greenlet", "3.1.1", ["greenlet-3.1.1-cp311-cp311-manylinux_2_24_x86_64.manylinux_2_28_x86_64.whl"]),
        (
            "cryptography",
            "44.0.0",
            [
                "cryptography-44.0.0-cp39-abi3-manylinux_2_28_x86_64.whl",
                "cryptography-44.0.0-cp39-abi3-manylinux_2_17_x86_64.manylinux2014_x86_64.whl",
            ],
        ),
        ("six", "1.16.0", ["six-1.16.0-py2.py3-none-any.whl"]),
    )
    chosen = {c.name: c for c in choose_wheels(pylock, target, {})}
    assert chosen["greenlet"].tag == "manylinux_2_24_x86_64"
    assert chosen["cryptography"].url.endswith("manylinux2014_x86_64.whl")
    assert chosen["six"].tag == "any"

    only_new = _pylock(
        ("numpy", "2.3.0", ["numpy-2.3.0-cp311-cp311-manylinux_2_27_x86_64.manylinux_2_28_x86_64.whl"])
    )
    with pytest.raises(NoCompatibleWheel) as caught:
        choose_wheels(only_new, target, {})
    assert caught.value.package == "numpy" and "manylinux_2_26" in caught.value.message


def test_a_wheel_the_lock_does_not_list_is_refused() -> None:
    target = target_for("3.11", Arch.X86_64)
    pylock = _pylock(("six", "1.16.0", ["six-1.16.0-py2.py3-none-any.whl"]))
    with pytest.raises(ResolveError, match="not one the lock lists"):
        choose_wheels(pylock, target, {"six": {"f" * 64}})


def test_locked_hashes_read_continuation_lines() -> None:
    text = (
        "six==1.16.0 \\\n    --hash=sha256:"
        + "a" * 64
        + " \\\n    --hash=sha256:"
        + "B" * 64
        + "\nidna==3.10\n"
    )
    assert RequirementSet.parse(text).locked_hashes() == {"six": {"a" * 64, "b" * 64}}
