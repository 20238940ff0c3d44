"""Native builds for real: uv installs target-platform wheels, the audit reads the binaries,
the zips are written and compared byte for byte. Needs the package index."""

from __future__ import annotations

import json
import os
import subprocess
import zipfile
from pathlib import Path

import pytest

from orchestrator.package.audit import read_elf
from orchestrator.package.zip import sha256_file
from tests.support.fixtures import make_mistagged_wheel, make_sdist, record_mismatches

from .conftest import layerctl, report

pytestmark = pytest.mark.integration

ARCH_MACHINE = {"x86_64": "EM_X86_64", "arm64": "EM_AARCH64"}


def zips(root: Path) -> dict[str, Path]:
    return {
        f"{p.parents[4].name}:{p.parent.name}": p
        for p in sorted(root.glob("layers/*/build/lambda/layer/*/layer.zip"))
    }


def test_example_builds_every_target(built_example: tuple[Path, subprocess.CompletedProcess[str]]) -> None:
    root, result = built_example
    assert result.returncode == 0, result.stdout + result.stderr
    built = zips(root)
    assert len(built) == 12  # 3 layers x 2 pythons x 2 arches
    rows = {row["id"]: row for row in report(root)["targets"]}
    assert set(rows) == set(built)
    for target_id, path in built.items():
        row = rows[target_id]
        assert row["status"] == "built" and row["sha256"] == sha256_file(path)
        assert row["zipped_size"] == path.stat().st_size and row["unzipped_size"] > row["zipped_size"]
        assert (path.parent / "artifacts/python").is_dir() and (path.parent / "build.log").is_file()
    # every line of live output carries its target id (run-level notices carry "layerctl")
    body = [line for line in result.stdout.splitlines() if " | " in line]
    assert body and all(line.split(" | ")[0].strip() in {*built, "layerctl"} for line in body)


def test_every_binary_matches_the_target_arch(
    built_example: tuple[Path, subprocess.CompletedProcess[str]], tmp_path: Path
) -> None:
    root, _ = built_example
    seen = {"x86_64": 0, "arm64": 0}
    for target_id, path in zips(root).items():
        arch = target_id.rsplit("-", 1)[1]
        with zipfile.ZipFile(path) as zf:
            for name in zf.namelist():
                assert name.startswith("python/") and "__pycache__" not in name
                if ".so" not in name:
                    continue
                extracted = Path(zf.extract(name, tmp_path / target_id.replace(":", "_")))
                info = read_elf(extracted)
                assert info is not None and info.machine == ARCH_MACHINE[arch], (target_id, name)
                seen[arch] += 1
    assert seen["x86_64"] > 10 and seen["arm64"] > 10  # numpy, pydantic-core, orjson, PyYAML


def test_runtime_provided_packages_are_left_out(
    built_example: tuple[Path, subprocess.CompletedProcess[str]],
) -> None:
    root, _ = built_example
    with zipfile.ZipFile(zips(root)["utils:py3.12-arm64"]) as zf:
        tops = {n.split("/")[1] for n in zf.namelist()}
    assert "orjson" in tops and "yaml" in tops
    assert not {"boto3", "botocore", "s3transfer", "jmespath"} & tops


def test_unchanged_inputs_are_not_rebuilt_and_rebuilds_are_identical(
    built_example: tuple[Path, subprocess.CompletedProcess[str]],
) -> None:
    root, _ = built_example
    before = {k: sha256_file(p) for k, p in zips(root).items()}
    again = layerctl("-C", str(root), "build-all")
    assert again.returncode == 0, again.stdout + again.stderr
    assert {row["status"] for row in report(root)["targets"]} == {"up-to-date"}
    forced = layerctl("-C", str(root), "build-all", "--force", "--jobs", "2")
    assert forced.returncode == 0, forced.stdout + forced.stderr
    assert {row["status"] for row in report(root)["targets"]} == {"built"}
    assert {k: sha256_file(p) for k, p in zips(root).items()} == before


def test_list_json_and_selection(built_example: tuple[Path, subprocess.CompletedProcess[str]]) -> None:
    root, _ = built_example
    listed = layerctl("-C", str(root), "list", "--format", "json")
    assert listed.returncode == 0, listed.stderr
    rows = json.loads(listed.stdout)
    assert {r["id"] for r in rows} == set(zips(root))
    assert all({"id", "layer", "python", "arch", "builder"} <= set(r) for r in rows)
    only = json.loads(layerctl("-C", str(root), "list", "--format", "json", "--only", "web:*-arm64").stdout)
    assert [r["id"] for r in only] == ["web:py3.11-arm64", "web:py3.12-arm64"]


def write_layer(root: Path, name: str, deps: list[str], extra: str = "") -> None:
    layer = root / "layers" / name
    layer.mkdir(parents=True, exist_ok=True)
    (layer / "pyproject.toml").write_text(
        f'[project]\nname = "{name}"\nversion = "1"\ndependencies = {json.dumps(deps)}\n{extra}'
    )


def test_mistagged_wheel_is_caught_by_the_audit(tmp_path: Path) -> None:
    host_so = next(Path(os.__file__).parent.glob("lib-dynload/*.so"))
    wheel = make_mistagged_wheel(tmp_path / "wheels", host_so)
    (tmp_path / "pyproject.toml").write_text('[tool.layerctl]\npython = ["3.12"]\narch = ["arm64"]\n')
    write_layer(tmp_path, "bad", [f"badwheel @ {wheel.as_uri()}"])
    result = layerctl("-C", str(tmp_path), "build-all")
    assert result.returncode == 1
    row = report(tmp_path)["targets"][0]
    assert row["status"] == "failed"
    assert row["error"] == "badwheel/_native.so is a x86-64 binary but the target is arm64 (AArch64)"
    assert "badwheel/_native.so is a x86-64 binary" in result.stdout
    assert not (tmp_path / "layers/bad/build/lambda/layer/py3.12-arm64/layer.zip").exists()


def test_sdist_only_dependency_says_a_container_is_needed(tmp_path: Path) -> None:
    sdist = make_sdist("fastsum", tmp_path / "dist")
    (tmp_path / "pyproject.toml").write_text('[tool.layerctl]\nbuilder = "native"\narch = ["x86_64"]\n')
    write_layer(tmp_path, "c", [f"fastsum @ {sdist.as_uri()}"])
    result = layerctl("-C", str(tmp_path), "build-all")
    assert result.returncode == 1
    error = report(tmp_path)["targets"][0]["error"]
    assert error.startswith("fastsum has no wheel for manylinux_2_34 x86_64 CPython 3.12")
    assert "--builder container" in error


def test_failed_build_keeps_the_previous_zip_and_keep_going(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text('[tool.layerctl]\narch = ["x86_64"]\njobs = 1\n')
    write_layer(tmp_path, "a", ["six==1.16.0"])
    write_layer(tmp_path, "b", ["six==1.16.0"])
    assert layerctl("-C", str(tmp_path), "build-all").returncode == 0
    good = tmp_path / "layers/a/build/lambda/layer/py3.12-x86_64/layer.zip"
    good_sha = sha256_file(good)

    write_layer(tmp_path, "a", ["layerctl-test-no-such-package-zz==1.0"])
    # without the first run's durations (longest first would go by them), a starts first
    (tmp_path / "build/layerctl/report.json").unlink()
    failed = layerctl("-C", str(tmp_path), "build-all", "--force")
    assert failed.returncode == 1
    rows = {r["id"]: r for r in report(tmp_path)["targets"]}
    assert rows["a:py3.12-x86_64"]["status"] == "failed"
    assert "layerctl-test-no-such-package-zz" in rows["a:py3.12-x86_64"]["error"]
    assert rows["b:py3.12-x86_64"]["status"] == "not-run"  # fail-fast
    assert sha256_file(good) == good_sha
    assert sorted(p.name for p in good.parent.iterdir()) == [
        ".layerctl-stamp.json",
        "artifacts",
        "build.log",
        "layer.zip",
        "requirements.txt",
    ]
    assert "layerctl-test-no-such-package-zz" in (good.parent / "build.log").read_text()

    kept = layerctl("-C", str(tmp_path), "build-all", "--force", "--keep-going")
    assert kept.returncode == 1
    rows = {r["id"]: r for r in report(tmp_path)["targets"]}
    assert rows["b:py3.12-x86_64"]["status"] == "built"


@pytest.mark.parametrize(
    ("workspace", "layer", "message"),
    [
        (
            'pyton = ["3.12"]\n',
            "",
            "pyproject.toml [tool.layerctl]: unknown key 'pyton'; did you mean 'python'?",
        ),
        ('python = ["3.8"]\n', "", "'python': unsupported Python 3.8"),
        ('layers = ["layers/missing"]\n', "", "layers/missing/pyproject.toml: no such file"),
    ],
)
def test_user_errors_are_one_line_exit_2(tmp_path: Path, workspace: str, layer: str, message: str) -> None:
    (tmp_path / "pyproject.toml").write_text("[tool.layerctl]\n" + workspace)
    write_layer(tmp_path, "a", ["six"], layer)
    result = layerctl("-C", str(tmp_path), "build-all")
    assert result.returncode == 2
    assert result.stdout == ""
    assert result.stderr.count("\n") == 1 and message in result.stderr
    assert "Traceback" not in result.stderr


def test_a_broken_layer_fails_its_own_targets_with_exit_2(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text('[tool.layerctl]\narch = ["x86_64"]\n')
    write_layer(tmp_path, "a", ["six"], '[tool.layerctl]\ntool = "poetry"\n')
    write_layer(tmp_path, "b", ["six"])
    result = layerctl("-C", str(tmp_path), "build-all", "--log-format", "plain")
    assert result.returncode == 2, result.stdout + result.stderr
    rows = {r["id"]: r for r in report(tmp_path)["targets"]}
    assert rows["b:py3.12-x86_64"]["status"] == "built"
    broken = rows["a:py3.12-x86_64"]
    assert broken["status"] == "failed" and broken["exit_code"] == 2
    assert 'tool = "poetry" but there is no poetry.lock next to it' in broken["error"]
    assert "Traceback" not in result.stdout + result.stderr


def test_missing_workspace_pyproject(tmp_path: Path) -> None:
    result = layerctl("-C", str(tmp_path), "list")
    assert result.returncode == 2 and "not inside a layerctl workspace" in result.stderr
    assert result.stderr.count("\n") == 1


def test_zip_is_the_same_wherever_it_is_built(tmp_path: Path) -> None:
    """Console-script shebangs name the build machine's interpreter; they must not leak in."""
    digests = []
    for where in ("one", "some/other/place"):
        root = tmp_path / where
        root.mkdir(parents=True)
        (root / "pyproject.toml").write_text('[tool.layerctl]\narch = ["arm64"]\n')
        write_layer(root, "s", ["charset-normalizer==3.4.2"])
        result = layerctl("-C", str(root), "build-all")
        assert result.returncode == 0, result.stdout + result.stderr
        zip_path = root / "layers/s/build/lambda/layer/py3.12-arm64/layer.zip"
        with zipfile.ZipFile(zip_path) as zf:
            script = zf.read("python/bin/normalizer").decode()
            record = zf.read("python/charset_normalizer-3.4.2.dist-info/RECORD").decode()
        assert script.startswith("#!/var/lang/bin/python3.12\n")
        line = next(x for x in record.splitlines() if x.startswith("bin/normalizer,"))
        assert line.endswith(f",{len(script.encode())}")
        assert record_mismatches(zip_path) == []
        digests.append(sha256_file(zip_path))
    assert digests[0] == digests[1]


def test_engine_down_fails_the_container_targets_only(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text('[tool.layerctl]\narch = ["x86_64"]\n')
    write_layer(tmp_path, "a", ["six"], '[tool.layerctl]\nbuilder = "container"\n')
    write_layer(tmp_path, "b", ["six"])
    env = {**os.environ, "DOCKER_HOST": f"unix://{tmp_path}/no-engine.sock"}
    result = layerctl("-C", str(tmp_path), "build-all", "--keep-going", "--log-format", "plain", env=env)
    assert result.returncode == 3, result.stdout + result.stderr
    rows = {r["id"]: r for r in report(tmp_path)["targets"]}
    assert rows["b:py3.12-x86_64"]["status"] == "built"
    failed = rows["a:py3.12-x86_64"]
    assert failed["status"] == "failed" and failed["exit_code"] == 3
    assert failed["error"].startswith(f"Docker engine not reachable at unix://{tmp_path}/no-engine.sock")
    assert "Traceback" not in result.stdout + result.stderr
