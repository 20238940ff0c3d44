"""The requirement-set type: parsed once, written back as it was, applied to a target (markers
evaluated for its runtime), its digest and pins, what changed, hashes, in-repo projects."""

from __future__ import annotations

from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from orchestrator.core.runtimes import Arch
from orchestrator.resolve.reqset import RequirementSet, describe_changes

from .test_wheels import target_for

H1, H2 = "a" * 64, "B" * 64
LOCK = (
    "# exported by a tool\n"
    "--index-url https://pypi.example/simple\n"
    f"Six==1.16.0 \\\n    --hash=sha256:{H2} \\\n    --hash=sha256:{H1}\n"
    "orjson==3.10.1 ; platform_machine == 'aarch64'  # via app\n"
    "tomli==2.0.1 ; python_version < '3.11'\n"
    "certifi>=2024\n"
)


def test_the_set_as_it_applies_to_each_target() -> None:
    requirements = RequirementSet.parse(LOCK)
    x86 = requirements.applicable(target_for("3.12", Arch.X86_64))
    arm = requirements.applicable(target_for("3.12", Arch.ARM64))
    assert x86.lines == (
        ("--index-url https://pypi.example/simple", "", "--index-url https://pypi.example/simple"),
        ("certifi", ">=2024", "certifi>=2024"),
        ("six", "1.16.0", f"Six==1.16.0 sha256:{H2} sha256:{H1}"),
    )
    assert arm.pins == {
        "--index-url https://pypi.example/simple": "",
        "certifi": ">=2024",
        "orjson": "3.10.1",
        "six": "1.16.0",
    }
    assert "tomli" in requirements.applicable(target_for("3.10", Arch.X86_64)).pins


def test_the_digest_follows_only_what_applies() -> None:
    target = target_for("3.12", Arch.X86_64)
    before = RequirementSet.parse(LOCK).applicable(target).digest
    elsewhere = LOCK.replace("orjson==3.10.1", "orjson==3.10.2").replace("# exported", "# written")
    assert RequirementSet.parse(elsewhere).applicable(target).digest == before
    hashes_reordered = LOCK.replace(f"{H2} \\\n    --hash=sha256:{H1}", f"{H1} \\\n    --hash=sha256:{H2}")
    assert RequirementSet.parse(hashes_reordered).applicable(target).digest == before
    assert RequirementSet.parse(LOCK.replace("1.16.0", "1.17.0")).applicable(target).digest != before


def test_what_changed_between_two_sets() -> None:
    target = target_for("3.12", Arch.ARM64)
    old = RequirementSet.parse(LOCK).applicable(target).pins
    new = RequirementSet.parse(LOCK.replace("orjson==3.10.1 ;", "orjson==3.10.2 ;") + "idna==3.10\n")
    assert describe_changes(old, new.applicable(target).pins) == "+idna 3.10, orjson 3.10.1 -> 3.10.2"
    many = {f"p{i}": "1" for i in range(8)}
    assert describe_changes({}, many, limit=2) == "+p0 1, +p1 1 and 6 more"


def test_hashes_in_repo_projects_and_direct_references(tmp_path: Path) -> None:
    lib = tmp_path / "libs" / "lib"
    lib.mkdir(parents=True)
    text = (
        LOCK
        + f"lib @ {lib.as_uri()} ; python_version >= '3.11'\n-e {lib}\n{tmp_path / 'gone'}\n"
        + "sdist @ https://files.example/sdist-1.tar.gz#sha256=00\n"
        + "wheel @ https://files.example/wheel-1-py3-none-any.whl#sha256=00\n"
    )
    requirements = RequirementSet.parse(text)
    assert requirements.hashed
    assert requirements.locked_hashes() == {"six": {H1, H2.lower()}}
    refs = requirements.in_repo()
    assert [(ref.path, ref.marker) for ref in refs] == [(lib, 'python_version >= "3.11"'), (lib, "")]
    assert refs[0].entry is not None and refs[0].entry.name == "lib"
    assert requirements.not_wheels() == ["lib", "sdist"]
    assert not RequirementSet.parse("--index-url x\n# nothing\n\n").installs_something
    assert not RequirementSet.parse("six==1\n").hashed


def test_entries_are_replaced_and_paths_made_absolute(tmp_path: Path) -> None:
    requirements = RequirementSet.parse("six==1\r\n./libs/a\n-e ../b ; sys_platform == 'linux'")
    absolute = requirements.absolute_paths(tmp_path / "ws")
    assert absolute.text == f"six==1\r\n{tmp_path}/ws/libs/a\n-e {tmp_path}/b ; sys_platform == 'linux'\n"
    named = requirements.replaced(lambda entry: f"# was {entry.name}" if entry.name else None)
    assert named.text.startswith("# was six\n./libs/a\n")


@given(st.text())
def test_any_text_is_written_back_as_it_was(text: str) -> None:
    assert RequirementSet.parse(text).text == text


_names = st.from_regex(r"[a-z][a-z0-9]{0,8}", fullmatch=True)
_versions = st.from_regex(r"[0-9]{1,3}(?:\.[0-9]{1,3}){0,2}", fullmatch=True)
_hashes = st.lists(st.from_regex(r"[0-9a-f]{64}", fullmatch=True), max_size=3)
_markers = st.sampled_from(["", "python_version >= '3.12'", "platform_machine == 'aarch64'"])


@settings(max_examples=60, suppress_health_check=[HealthCheck.too_slow])
@given(st.dictionaries(_names, st.tuples(_versions, _hashes, _markers), max_size=6))
def test_written_pins_are_read_back(pins: dict[str, tuple[str, list[str], str]]) -> None:
    text = "".join(
        f"{name}=={version}"
        + (f" ; {marker}" if marker else "")
        + "".join(f" \\\n    --hash=sha256:{h}" for h in hashes)
        + "\n"
        for name, (version, hashes, marker) in pins.items()
    )
    requirements = RequirementSet.parse(text)
    target = target_for("3.12", Arch.X86_64)
    expected = {
        name: version
        for name, (version, _, marker) in pins.items()
        if marker != "platform_machine == 'aarch64'"
    }
    assert requirements.applicable(target).pins == expected
    assert requirements.locked_hashes() == {
        name: set(hashes) for name, (_, hashes, _) in pins.items() if hashes
    }
    assert RequirementSet.parse(requirements.text) == requirements
