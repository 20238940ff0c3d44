"""The hybrid builder's own logic: which packages it compiles (a real uv), whether a built wheel
fits the target, the set naming the built wheels, and wheels built once per sdist and image
(the sdist builder here writes a wheel file as pip in the image would: no engine in this tier)."""

from __future__ import annotations

import zipfile
from pathlib import Path

import anyio
import pytest

from orchestrator.building.executors import SdistRequest
from orchestrator.building.sdists import BuiltWheel, SdistWheels, compiled_on, fits, with_built
from orchestrator.core.errors import BuildError
from orchestrator.core.runtimes import Arch
from orchestrator.plan.targets import Target
from orchestrator.resolve.gaps import wheel_gaps
from orchestrator.resolve.reqset import RequirementSet
from tests.support.fixtures import make_sdist

from .test_wheels import target_for


@pytest.mark.parametrize(
    ("name", "python", "arch", "fit"),
    [
        ("fastsum-1.0.0-cp311-cp311-linux_x86_64.whl", "3.11", Arch.X86_64, True),  # pip in the image
        ("fastsum-1.0.0-cp311-cp311-manylinux_2_17_x86_64.whl", "3.11", Arch.X86_64, True),
        ("fastsum-1.0.0-cp311-abi3-linux_aarch64.whl", "3.11", Arch.ARM64, True),
        ("fastsum-1.0.0-py3-none-any.whl", "3.13", Arch.ARM64, True),
        ("fastsum-1.0.0-cp311-cp311-linux_aarch64.whl", "3.11", Arch.X86_64, False),  # another machine
        ("fastsum-1.0.0-cp313-cp313-linux_x86_64.whl", "3.11", Arch.X86_64, False),  # another Python
        ("fastsum-1.0.0-cp311-cp311-manylinux_2_28_x86_64.whl", "3.11", Arch.X86_64, False),  # AL2: 2_26
        ("not-a-wheel.whl", "3.11", Arch.X86_64, False),
    ],
)
def test_a_built_wheel_fits_only_its_target(name: str, python: str, arch: Arch, fit: bool) -> None:
    assert fits(Path(name), target_for(python, arch)) is fit


def test_the_set_names_each_built_wheel_by_path_and_hash(tmp_path: Path) -> None:
    wheel = tmp_path / "fastsum-1.0.0-cp311-cp311-linux_x86_64.whl"
    built = {"fastsum": BuiltWheel("fastsum", "1.0.0", wheel, "ab" * 32, reused=False)}
    hashed = RequirementSet.parse(
        "fastsum==1.0.0 ; python_version >= '3.8' \\\n    --hash=sha256:"
        + "cd" * 32
        + "\nsix==1.16.0 \\\n    --hash=sha256:"
        + "ef" * 32
        + "\n"
    )
    text = with_built(hashed, built).text
    line = text.split("\nsix")[0]
    assert line.startswith(f"fastsum @ {wheel.as_uri()} ; python_version >= ")
    assert line.endswith(f" \\\n    --hash=sha256:{'ab' * 32}")
    assert "six==1.16.0" in text and "cd" * 32 not in text
    plain = with_built(RequirementSet.parse("fastsum==1.0.0\nsix\n"), built).text
    assert plain == f"fastsum @ {wheel.as_uri()}\nsix\n"


def test_every_package_without_a_wheel_is_named_and_no_other(tmp_path: Path) -> None:
    """A real uv: two local sdists among nothing else are both found, each by one resolution."""
    first = make_sdist("fastsum", tmp_path / "a")
    second = make_sdist("fastcpp", tmp_path / "b")
    target = target_for("3.11", Arch.X86_64)
    requirements = RequirementSet.parse(f"fastsum @ {first.as_uri()}\nfastcpp @ {second.as_uri()}\n")
    gaps = anyio.run(wheel_gaps, _in(target, tmp_path), requirements)
    assert sorted(gaps) == ["fastcpp", "fastsum"]
    assert anyio.run(wheel_gaps, _in(target, tmp_path), RequirementSet.parse("")) == []


def _in(target: Target, root: Path) -> Target:
    import dataclasses

    return dataclasses.replace(target, layer=dataclasses.replace(target.layer, root=root))


class _Image:
    """An SdistBuilder whose "image" writes the wheel pip would have built (``wheel`` names it)."""

    def __init__(self, wheel: str, digest: str = "sha256:one") -> None:
        self.wheel, self.digest, self.builds = wheel, digest, 0

    async def image_digest(self, target: Target) -> str:
        return self.digest

    async def build_sdist(self, request: SdistRequest, log: object) -> str:
        self.builds += 1
        assert request.source is not None and str(request.source) in request.requirements.read_text()
        with zipfile.ZipFile(request.out_dir / self.wheel, "w") as zf:
            zf.writestr("fastsum.py", "x = 1\n")
        return "arm-box"  # the engine it ran on


class _Quiet:
    async def __call__(self, line: str) -> None:
        return None

    async def batch(self, lines: list[str]) -> None:
        return None


_quiet = _Quiet()


def _request(target: Target, tmp_path: Path) -> SdistRequest:
    return SdistRequest(target=target, name="", version="", requirements=tmp_path, out_dir=tmp_path)


def test_a_wheel_is_built_once_per_sdist_and_image_and_kept_for_the_next_run(tmp_path: Path) -> None:
    sdist = make_sdist("fastsum", tmp_path / "vendor")
    (entry,) = RequirementSet.parse(f"fastsum @ {sdist.as_uri()}\n").entries
    target = target_for("3.11", Arch.X86_64)
    image = _Image("fastsum-1.0.0-cp311-cp311-linux_x86_64.whl")

    async def twice(wheels: SdistWheels) -> list[bool]:
        first = await wheels.wheel(entry, _request(target, tmp_path), image, _quiet)
        second = await wheels.wheel(entry, _request(target, tmp_path), image, _quiet)
        assert first.path == second.path and first.path.is_file()
        return [first.reused, second.reused]

    assert anyio.run(twice, SdistWheels(tmp_path / "cache")) == [False, True]
    assert image.builds == 1
    assert anyio.run(twice, SdistWheels(tmp_path / "cache")) == [True, True]  # the next run
    assert image.builds == 1
    other = _Image(image.wheel, digest="sha256:two")  # another image: built again
    anyio.run(lambda: SdistWheels(tmp_path / "cache").wheel(entry, _request(target, tmp_path), other, _quiet))
    assert other.builds == 1


def test_a_built_wheel_for_another_platform_is_one_line_and_not_kept(tmp_path: Path) -> None:
    sdist = make_sdist("fastsum", tmp_path / "vendor")
    (entry,) = RequirementSet.parse(f"fastsum @ {sdist.as_uri()}\n").entries
    target = target_for("3.11", Arch.X86_64)
    image = _Image("fastsum-1.0.0-cp311-cp311-linux_aarch64.whl")
    wheels = SdistWheels(tmp_path / "cache")
    with pytest.raises(BuildError) as info:
        anyio.run(lambda: wheels.wheel(entry, _request(target, tmp_path), image, _quiet))
    message = info.value.message
    assert "\n" not in message and "fastsum-1.0.0-cp311-cp311-linux_aarch64.whl" in message
    assert "does not fit l:py3.11-x86_64" in message
    assert list((tmp_path / "cache/built-wheels").glob("*/*.whl")) == []


@pytest.mark.parametrize("builder", ["hybrid", "auto"])
def test_list_says_what_a_hybrid_target_compiles_whichever_setting_chose_it(
    tmp_path: Path, builder: str
) -> None:
    """`builder = "hybrid"` set by hand: `list` and `--dry-run` name what it compiles as they
    do when `auto` chose it (not only "builder = hybrid")."""
    from orchestrator.building.decide import decide_builders
    from orchestrator.plan.targets import make_plan
    from orchestrator.workspace.config import load_workspace
    from orchestrator.workspace.discovery import discover_layers

    sdist = make_sdist("fastsum", tmp_path / "vendor")
    (tmp_path / "pyproject.toml").write_text(
        f'[tool.layerctl]\nlayers = ["l*"]\npython = ["3.11"]\narch = ["x86_64"]\nbuilder = "{builder}"\n'
    )
    for name, deps in {"l1": f'["fastsum @ {sdist.as_uri()}"]', "l2": "[]"}.items():
        (tmp_path / name).mkdir()
        (tmp_path / name / "pyproject.toml").write_text(
            f'[project]\nname = "{name}"\nversion = "1"\ndependencies = {deps}\n'
        )
    workspace = load_workspace(tmp_path)
    targets = make_plan(workspace, discover_layers(workspace)).targets
    reasons = {t.layer.name: (t.decided, t.builder_reason) for t in anyio.run(decide_builders, targets)}
    compiles = "compiles fastsum in the image (no wheel for manylinux_2_26 x86_64)"
    if builder == "hybrid":
        assert reasons == {
            "l1": ("hybrid", f"builder = hybrid: {compiles}"),
            "l2": ("hybrid", "builder = hybrid: every dependency has a wheel, nothing to compile"),
        }
    else:
        assert reasons == {"l1": ("hybrid", compiles), "l2": ("native", "every dependency has a wheel")}


def test_a_compiled_wheel_says_which_engine_built_it_and_a_reused_one_none(tmp_path: Path) -> None:
    """The hybrid target's report names the engine its compile ran on (as a container target's
    does); a target that reused a built wheel started no container."""
    sdist = make_sdist("fastsum", tmp_path / "vendor")
    (entry,) = RequirementSet.parse(f"fastsum @ {sdist.as_uri()}\n").entries
    target = target_for("3.11", Arch.X86_64)
    image = _Image("fastsum-1.0.0-cp311-cp311-linux_x86_64.whl")

    async def twice(wheels: SdistWheels) -> list[str | None]:
        first = await wheels.wheel(entry, _request(target, tmp_path), image, _quiet)
        second = await wheels.wheel(entry, _request(target, tmp_path), image, _quiet)
        return [first.engine, second.engine, compiled_on([first, second])]

    assert anyio.run(twice, SdistWheels(tmp_path / "cache")) == ["arm-box", None, "arm-box"]
    assert anyio.run(twice, SdistWheels(tmp_path / "cache")) == [None, None, None]  # the next run
