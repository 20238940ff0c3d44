"""The hybrid builder against the real engine: `auto` picks it for a layer with a C sdist among
wheels; only the sdist is compiled, in the stand-in image, once for every layer that needs it;
everything is installed natively; the zip imports in the stand-in and holds what a container
build holds. A C syntax error fails only its target, with one line."""

from __future__ import annotations

import io
import json
import re
import shutil
import subprocess
import tarfile
import zipfile
from pathlib import Path

import pytest

from tests.support.fixtures import FIXTURES, make_sdist

from .conftest import STAND_IN, labelled_containers, layerctl, report

pytestmark = [pytest.mark.integration, pytest.mark.docker, pytest.mark.usefixtures("docker_engine")]


def workspace(root: Path, cache: Path, layers: dict[str, list[str]]) -> Path:
    """py3.11 x86_64 on the stand-in image; each layer's dependencies (``{sdist}``: fastsum's)."""
    root.mkdir(parents=True, exist_ok=True)
    (root / "pyproject.toml").write_text(
        f'[tool.layerctl]\npython = ["3.11"]\narch = ["x86_64"]\nimage = "{STAND_IN}"\n'
        f'cache-dir = "{cache}"\nkeep-going = true\n'
    )
    sdist = make_sdist("fastsum", root / "layers" / "c" / "vendor")  # inside c: its container build sees it
    for name, deps in layers.items():
        layer = root / "layers" / name
        layer.mkdir(parents=True, exist_ok=True)
        deps = [d.format(sdist=f"fastsum @ {sdist.as_uri()}") for d in deps]
        (layer / "pyproject.toml").write_text(
            f'[project]\nname = "{name}"\nversion = "1"\ndependencies = {json.dumps(deps)}\n'
        )
    return root


def packages(zip_path: str) -> set[str]:
    """The distributions a zip holds, as ``name-version`` (its .dist-info directories)."""
    with zipfile.ZipFile(zip_path) as zf:
        return {n.split("/")[1].removesuffix(".dist-info") for n in zf.namelist() if ".dist-info/" in n}


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, subprocess.CompletedProcess[str]]:
    base = tmp_path_factory.mktemp("hybrid")
    root = workspace(base / "ws", base / "cache", {"c": ["{sdist}", "six==1.16.0"], "d": ["{sdist}"]})
    return root, layerctl("-C", str(root), "build-all", "--jobs", "1", "--log-format", "plain")


def test_auto_picks_hybrid_and_compiles_the_sdist_once(
    built: tuple[Path, subprocess.CompletedProcess[str]],
) -> None:
    root, result = built
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr
    rows = {row["id"]: row for row in report(root)["targets"]}
    assert set(rows) == {"c:py3.11-x86_64", "d:py3.11-x86_64"}
    for row in rows.values():
        assert row["status"] == "built" and row["builder"] == "hybrid", row
        assert row["builder_reason"] == "compiles fastsum in the image (no wheel for manylinux_2_26 x86_64)"
        assert row["tool_versions"]["uv"] and row["tool_versions"]["image"]
    logs = {target: Path(row["log"]).read_text() for target, row in rows.items()}
    compiled = [t for t, log in logs.items() if "sdist: fastsum-1.0.0.tar.gz compiled in" in log]
    reused = [t for t, log in logs.items() if "sdist: fastsum-1.0.0.tar.gz reused, built earlier" in log]
    assert len(compiled) == 1 and len(reused) == 1 and compiled != reused
    # its build requirements made on the host; in the image, only the backend's build_wheel
    assert "$ uv pip install --target <build environment> setuptools>=61 wheel" in logs[compiled[0]]
    assert "-S (its backend setuptools.build_meta: build_wheel)" in logs[compiled[0]]
    assert "layerctl: built fastsum-1.0.0-cp311-cp311-linux_x86_64.whl" in logs[compiled[0]]
    assert "build isolation instead" not in logs[compiled[0]]
    assert "$ docker run" not in logs[reused[0]]  # the second layer started no build container
    assert (rows[compiled[0]]["engine"], rows[reused[0]]["engine"]) == ("default", None)
    for log in logs.values():  # installed natively, audited as any build
        assert "uv pip install" in log and re.search(r"audit: 1 ELF files, all x86_64", log)
    for row in rows.values():  # the cache's path is not recorded in the layer
        with zipfile.ZipFile(row["zip_path"]) as zf:
            assert not [n for n in zf.namelist() if n.endswith("direct_url.json")]
    assert labelled_containers(root) == []


def test_the_zip_imports_and_holds_what_a_container_build_holds(
    built: tuple[Path, subprocess.CompletedProcess[str]], tmp_path: Path
) -> None:
    root, _ = built
    verify = layerctl("-C", str(root), "verify", "--image", STAND_IN)
    assert verify.returncode == 0, verify.stdout[-3000:]
    assert "c:py3.11-x86_64 | import ok: fastsum" in verify.stdout
    assert "c:py3.11-x86_64 | import ok: six" in verify.stdout

    other = tmp_path / "container"
    shutil.copytree(root, other, ignore=shutil.ignore_patterns("build"))
    project = other / "layers/c/pyproject.toml"  # its sdist, in the copy (the container sees the layer only)
    project.write_text(project.read_text().replace(root.as_uri(), other.as_uri()))
    result = layerctl("-C", str(other), "build", "c", "--builder", "container")
    assert result.returncode == 0, result.stdout[-3000:]
    (container,) = report(other)["targets"]
    hybrid = next(r for r in report(root)["targets"] if r["id"] == "c:py3.11-x86_64")
    assert container["builder"] == "container"
    assert packages(container["zip_path"]) == packages(hybrid["zip_path"]) == {"fastsum-1.0.0", "six-1.16.0"}


def test_a_second_run_with_force_starts_no_container(
    built: tuple[Path, subprocess.CompletedProcess[str]],
) -> None:
    root, _ = built
    result = layerctl("-C", str(root), "build-all", "--force", "--log-format", "plain")
    assert result.returncode == 0, result.stdout[-3000:]
    for row in report(root)["targets"]:
        log = Path(row["log"]).read_text()
        assert "sdist: fastsum-1.0.0.tar.gz reused, built earlier" in log and "$ docker run" not in log


def broken_sdist(dest: Path) -> Path:
    """fastsum with a syntax error in its C file, packed as an sdist."""
    src = dest / "src-copy"
    shutil.copytree(FIXTURES / "fastsum", src)
    c_file = src / "src" / "fastsum.c"
    c_file.write_text(c_file.read_text() + "\nint broken( {\n")
    out = dest / "fastsum-1.0.0.tar.gz"
    info = b"Metadata-Version: 2.1\nName: fastsum\nVersion: 1.0.0\n"
    with tarfile.open(out, "w:gz") as tar:
        for path in sorted(src.rglob("*")):
            if path.is_file():
                tar.add(path, arcname=f"fastsum-1.0.0/{path.relative_to(src)}")
        entry = tarfile.TarInfo("fastsum-1.0.0/PKG-INFO")
        entry.size = len(info)
        tar.addfile(entry, io.BytesIO(info))
    return out


def test_a_compile_in_another_checkout_gives_the_same_zip(
    built: tuple[Path, subprocess.CompletedProcess[str]], tmp_path: Path
) -> None:
    """Another runner (its own checkout and an empty cache-dir) compiles the sdist again: the
    same wheel, so the same zip (debug information recorded pip's random build directory)."""
    first, result = built
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr
    root = workspace(tmp_path / "ws", tmp_path / "cache", {"c": ["{sdist}", "six==1.16.0"]})
    again = layerctl("-C", str(root), "build-all", "--log-format", "plain")
    assert again.returncode == 0, again.stdout[-3000:] + again.stderr
    (row,) = report(root)["targets"]
    assert "sdist: fastsum-1.0.0.tar.gz compiled in" in Path(row["log"]).read_text()
    before = {r["id"]: r for r in report(first)["targets"]}["c:py3.11-x86_64"]
    assert row["sha256"] == before["sha256"]


def test_a_c_syntax_error_fails_only_its_target_with_one_line(tmp_path: Path) -> None:
    root = workspace(tmp_path / "ws", tmp_path / "cache", {"good": ["six==1.16.0"], "bad": []})
    sdist = broken_sdist(tmp_path / "vendor")
    (root / "layers/bad/pyproject.toml").write_text(
        f'[project]\nname = "bad"\nversion = "1"\ndependencies = ["fastsum @ {sdist.as_uri()}", "six==1.16.0"]\n'
    )
    result = layerctl("-C", str(root), "build-all", "--log-format", "plain")
    assert result.returncode == 1, result.stdout[-3000:]
    rows = {row["id"]: row for row in report(root)["targets"]}
    assert rows["good:py3.11-x86_64"]["status"] == "built"
    bad = rows["bad:py3.11-x86_64"]
    assert bad["status"] == "failed" and bad["builder"] == "hybrid"
    assert "\n" not in bad["error"]
    assert bad["error"].startswith(
        f"the build of fastsum-1.0.0.tar.gz in {STAND_IN.format(python='3.11', arch='x86_64')} failed"
    )
    assert "C build failed in the image" in bad["hint"]
    log = Path(bad["log"]).read_text()
    assert "fastsum.c" in log  # the compiler's lines are in the log
    assert "build isolation instead" not in log  # a failed compile is not compiled again by pip


def test_an_arm64_hybrid_target_builds_under_emulation_and_imports(tmp_path: Path) -> None:
    """The compile alone runs in the arm64 image (under QEMU on an x86_64 host); the zip holds an
    aarch64 extension that imports in the arm64 stand-in."""
    root = workspace(tmp_path / "ws", tmp_path / "cache", {"c": ["{sdist}", "six==1.16.0"]})
    config = root / "pyproject.toml"
    config.write_text(config.read_text().replace('arch = ["x86_64"]', 'arch = ["arm64"]'))
    result = layerctl("-C", str(root), "build-all", "--log-format", "plain")
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr
    (row,) = report(root)["targets"]
    assert row["id"] == "c:py3.11-arm64" and row["builder"] == "hybrid" and row["status"] == "built"
    log = Path(row["log"]).read_text()
    assert "--platform linux/arm64" in log and re.search(r"audit: 1 ELF files, all aarch64", log), log[-2000:]
    verify = layerctl("-C", str(root), "verify", "--image", STAND_IN)
    assert verify.returncode == 0, verify.stdout[-3000:]
    assert "c:py3.11-arm64 | import ok: fastsum" in verify.stdout


def test_a_backend_that_asks_for_more_is_built_by_pip_with_its_isolation(tmp_path: Path) -> None:
    """An in-tree backend whose get_requires_for_build_wheel asks for six (not in its
    ``requires``): the direct build stops before building, pip builds it with its isolation."""
    root = workspace(tmp_path / "ws", tmp_path / "cache", {"n": []})
    sdist = make_sdist("needsix", root / "layers" / "n" / "vendor")
    (root / "layers/n/pyproject.toml").write_text(
        f'[project]\nname = "n"\nversion = "1"\ndependencies = ["needsix @ {sdist.as_uri()}"]\n'
    )
    result = layerctl("-C", str(root), "build-all", "--log-format", "plain")
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr
    (row,) = report(root)["targets"]
    assert row["builder"] == "hybrid" and row["status"] == "built", row
    log = Path(row["log"]).read_text()
    assert "layerctl: the backend also needs six" in log
    assert "pip wheel with its build isolation instead" in log
    assert "sdist: needsix-1.0.0.tar.gz compiled in" in log
    assert "needsix.py" in packages_files(row["zip_path"])


def packages_files(zip_path: str) -> set[str]:
    with zipfile.ZipFile(zip_path) as zf:
        return {n.removeprefix("python/") for n in zf.namelist()}


def legacy_sdist(dest: Path) -> Path:
    """A C extension packed as older sdists are: setup.py only (no pyproject.toml), Metadata 2.1:
    its metadata is known only by running its build backend."""
    c = b"""#include <Python.h>
static struct PyModuleDef def = {PyModuleDef_HEAD_INIT, "oldsum", NULL, -1, NULL};
PyMODINIT_FUNC PyInit_oldsum(void) { return PyModule_Create(&def); }
"""
    files = {
        "setup.py": b'from setuptools import Extension, setup\n\nsetup(name="oldsum", version="1.0.0", '
        b'ext_modules=[Extension("oldsum", ["oldsum.c"])])\n',
        "oldsum.c": c,
        "PKG-INFO": b"Metadata-Version: 2.1\nName: oldsum\nVersion: 1.0.0\n",
    }
    dest.mkdir(parents=True, exist_ok=True)
    out = dest / "oldsum-1.0.0.tar.gz"
    with tarfile.open(out, "w:gz") as tar:
        for name, data in files.items():
            info = tarfile.TarInfo(f"oldsum-1.0.0/{name}")
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return out


def test_an_older_sdist_whose_metadata_needs_its_backend_builds_hybrid(tmp_path: Path) -> None:
    root = workspace(tmp_path / "ws", tmp_path / "cache", {"o": []})
    sdist = legacy_sdist(root / "layers" / "o" / "vendor")
    (root / "layers/o/pyproject.toml").write_text(
        f'[project]\nname = "o"\nversion = "1"\ndependencies = ["oldsum @ {sdist.as_uri()}", "six==1.16.0"]\n'
    )
    result = layerctl("-C", str(root), "build-all", "--log-format", "plain")
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr
    (row,) = report(root)["targets"]
    assert row["builder"] == "hybrid" and row["status"] == "built", row
    assert {"oldsum-1.0.0", "six-1.16.0"} <= packages(row["zip_path"])
