"""Container builds against the real engine: stand-in SAM images (tests/testbed.sh), arm64 under
QEMU, the C-extension fixture that exists only as an sdist."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
import zipfile
from pathlib import Path

import pytest

from orchestrator.package.audit import read_elf
from orchestrator.package.zip import sha256_file
from tests.support.fixtures import make_sdist, record_mismatches

from .conftest import STAND_IN, labelled_containers, layerctl, report

pytestmark = [pytest.mark.integration, pytest.mark.docker, pytest.mark.usefixtures("docker_engine")]

ELF = {"x86_64": "EM_X86_64", "arm64": "EM_AARCH64"}


def sdist_workspace(
    root: Path,
    *,
    python: str = '"3.11", "3.13"',
    arch: str = '"x86_64", "arm64"',
    extra_deps: tuple[str, ...] = (),
) -> Path:
    """A workspace with one layer `c` that depends on the sdist-only C extension `fastsum`."""
    layer = root / "layers" / "c"
    sdist = make_sdist("fastsum", layer / "vendor")
    sdist_workspace_settings(root, python=python, arch=arch)
    deps = [f"fastsum @ {sdist.as_uri()}", *extra_deps]
    (layer / "pyproject.toml").write_text(
        f'[project]\nname = "c"\nversion = "1"\ndependencies = {json.dumps(deps)}\n'
    )
    return root


def sdist_workspace_settings(root: Path, *, python: str, arch: str) -> None:
    (root / "pyproject.toml").write_text(
        f'[tool.layerctl]\npython = [{python}]\narch = [{arch}]\nimage = "{STAND_IN}"\n'
    )


@pytest.fixture(scope="module")
def sdist_built(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, subprocess.CompletedProcess[str]]:
    root = sdist_workspace(tmp_path_factory.mktemp("sdist"))
    return root, layerctl("-C", str(root), "build-all", "--jobs", "4", "--builder", "container")


def built_x86_64_copy(sdist_built: tuple[Path, subprocess.CompletedProcess[str]], dest: Path) -> Path:
    """``sdist_workspace(dest, python='"3.11"', arch='"x86_64"')`` with its one target already built:
    a copy of ``sdist_built`` (whose c:py3.11-x86_64 is that build) narrowed to that target, so a
    test that needs a good container build first does not compile fastsum again. Its requirement
    still names the sdist in ``sdist_built``'s workspace (so the copy is up to date): good for
    what reads the zips (verify), not for a rebuild, whose container sees only this workspace."""
    source, result = sdist_built
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr
    root = dest / "ws"
    shutil.copytree(source, root, symlinks=True)
    sdist_workspace_settings(root, python='"3.11"', arch='"x86_64"')
    return root


def test_auto_picks_hybrid_and_names_what_it_compiles(tmp_path: Path) -> None:
    root = sdist_workspace(tmp_path)
    listed = json.loads(layerctl("-C", str(root), "list", "--format", "json").stdout)
    assert len(listed) == 4
    for row in listed:
        assert row["builder"] == "hybrid"
        assert row["builder_reason"].startswith("compiles fastsum in the image (no wheel for manylinux_2_")


def test_sdist_only_extension_builds_for_every_arch(
    sdist_built: tuple[Path, subprocess.CompletedProcess[str]], tmp_path: Path
) -> None:
    root, result = sdist_built
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr
    rows = {row["id"]: row for row in report(root)["targets"]}
    assert set(rows) == {f"c:py{py}-{arch}" for py in ("3.11", "3.13") for arch in ("x86_64", "arm64")}
    for target_id, row in rows.items():
        python, arch = target_id.split(":py")[1].split("-")
        assert row["status"] == "built" and row["builder"] == "container"
        assert row["image"] == STAND_IN.format(python=python, arch=arch)
        assert row["image_id"].startswith("sha256:") and row["tool_versions"]["pip"].startswith("pip ")
        with zipfile.ZipFile(row["zip_path"]) as zf:
            sos = [n for n in zf.namelist() if n.endswith(".so")]
            assert len(sos) == 1 and f"cpython-{python.replace('.', '')}" in sos[0]
            info = read_elf(Path(zf.extract(sos[0], tmp_path / target_id.replace(":", "_"))))
        assert info is not None and info.machine == ELF[arch], target_id

    # each target's log holds only its own lines; live output is prefixed with the target id
    for target_id, row in rows.items():
        log = Path(row["log"]).read_text()
        tag = "cp" + target_id.split(":py")[1].split("-")[0].replace(".", "")
        assert tag in log and all(other not in log for other in ("cp311", "cp313") if other != tag)
    body = [line for line in result.stdout.splitlines() if " | " in line]
    assert all(line.split(" | ")[0].strip() in {*rows, "layerctl"} for line in body)
    assert labelled_containers(root) == []


def test_verify_imports_the_layer_on_its_platform(
    sdist_built: tuple[Path, subprocess.CompletedProcess[str]],
) -> None:
    root, _ = sdist_built
    result = layerctl("-C", str(root), "verify", "--image", STAND_IN)
    assert result.returncode == 0, result.stdout + result.stderr
    for py in ("3.11", "3.13"):
        assert f"c:py{py}-arm64 | python {py}" in result.stdout
        assert f"c:py{py}-arm64 | import ok: fastsum" in result.stdout
    assert "on aarch64" in result.stdout and "on x86_64" in result.stdout
    assert result.stdout.count("imported 1 modules") == 4
    assert labelled_containers(root) == []


def test_verify_fails_on_a_broken_layer(
    sdist_built: tuple[Path, subprocess.CompletedProcess[str]], tmp_path: Path
) -> None:
    root = built_x86_64_copy(sdist_built, tmp_path)
    assert layerctl("-C", str(root), "build-all").returncode == 0
    zip_path = root / "layers/c/build/lambda/layer/py3.11-x86_64/layer.zip"
    with zipfile.ZipFile(zip_path, "a") as zf:
        zf.writestr("python/broken_mod.py", "raise ImportError('deliberately broken')\n")
    result = layerctl("-C", str(root), "verify", "--image", STAND_IN)
    assert result.returncode == 1
    assert "import FAILED: broken_mod: ImportError: deliberately broken" in result.stdout


def test_verify_of_a_corrupt_zip_is_its_failure_row(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text(
        '[tool.layerctl]\npython = ["3.11"]\narch = ["x86_64"]\nbuilder = "container"\n'
    )
    layer = tmp_path / "layers" / "c"
    layer.mkdir(parents=True)
    (layer / "pyproject.toml").write_text('[project]\nname = "c"\nversion = "1"\ndependencies = ["six"]\n')
    zip_path = layer / "build/lambda/layer/py3.11-x86_64/layer.zip"
    zip_path.parent.mkdir(parents=True)
    zip_path.write_bytes(b"PK\x03\x04 truncated")
    result = layerctl("-C", str(tmp_path), "verify", "--image", STAND_IN)
    assert result.returncode == 1, result.stdout + result.stderr
    assert "Traceback" not in result.stdout + result.stderr
    row = next(line for line in result.stdout.splitlines() if line.startswith("c:py3.11-x86_64 "))
    assert f"FAILED  {zip_path} is not a readable zip (" in row
    assert row.endswith("rebuild it: layerctl build-all --force")


def test_record_matches_the_zip_after_pip_target_install(tmp_path: Path) -> None:
    """pip --target records console scripts as ../../bin/x (pypa/pip#7658) and the stand-in's
    shebang names its /usr/bin/python3: once rewritten, RECORD must still describe the zip."""
    (tmp_path / "pyproject.toml").write_text(
        f'[tool.layerctl]\npython = ["3.11"]\narch = ["x86_64"]\nbuilder = "container"\nimage = "{STAND_IN}"\n'
    )
    layer = tmp_path / "layers" / "s"
    layer.mkdir(parents=True)
    (layer / "pyproject.toml").write_text(
        '[project]\nname = "s"\nversion = "1"\ndependencies = ["charset-normalizer==3.4.2"]\n'
    )
    result = layerctl("-C", str(tmp_path), "build-all")
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr
    zip_path = layer / "build/lambda/layer/py3.11-x86_64/layer.zip"
    with zipfile.ZipFile(zip_path) as zf:
        assert zf.read("python/bin/normalizer").startswith(b"#!/var/lang/bin/python3.11\n")
    assert record_mismatches(zip_path) == []


# The example's 12 targets but py3.11 on arm64: each layer (uv, Poetry, pip) with its compiled
# wheels (numpy, pydantic-core, orjson, PyYAML) builds and imports in a container of both arches,
# arm64 once (py3.13) under QEMU. py3.11 arm64 containers build and verify in
# test_sdist_only_extension_builds_for_every_arch, test_verify_imports_the_layer_on_its_platform
# and test_monorepo_container (each layer of a uv workspace); three more emulated pip installs
# and numpy imports here took minutes and tested nothing new.
EXAMPLE_IN_CONTAINERS = ("--python", "3.11,3.13", "--skip", "*:py3.11-arm64")


def test_example_monorepo_builds_in_containers() -> None:
    from orchestrator.core.tools import uv_bin
    from tests.support.fixtures import copy_example

    root = copy_example(Path(os.environ.get("TMPDIR", "/tmp")) / f"layerctl-ex-{os.getpid()}", uv_bin())
    with (root / "pyproject.toml").open("a") as fh:
        fh.write(f'image = "{STAND_IN}"\n')
    try:
        result = layerctl(
            "-C", str(root), "build-all", "--builder", "container", *EXAMPLE_IN_CONTAINERS, "--jobs", "4",
            timeout=1800,
        )  # fmt: skip
        assert result.returncode == 0, result.stdout[-4000:] + result.stderr
        rows = report(root)["targets"]
        assert sorted(r["id"] for r in rows) == sorted(
            f"{layer}:py{py}-{arch}"
            for layer in ("data", "utils", "web")
            for py, arch in (("3.11", "x86_64"), ("3.13", "x86_64"), ("3.13", "arm64"))
        )
        assert {r["builder"] for r in rows} == {"container"}
        assert {r["status"] for r in rows} == {"built"}
        for row in rows:
            arch = row["arch"]
            with zipfile.ZipFile(row["zip_path"]) as zf:
                assert any(n.endswith(".so") for n in zf.namelist()), row["id"]
            assert row["elf_files"] > 0
        verify = layerctl("-C", str(root), "verify", *EXAMPLE_IN_CONTAINERS, "--image", STAND_IN)
        assert verify.returncode == 0, verify.stdout[-4000:]
        for row in rows:  # every built target imported, on its own machine
            assert f"{row['id']} | " in verify.stdout, row["id"]
        assert "on aarch64" in verify.stdout and "on x86_64" in verify.stdout
        assert arch
    finally:
        subprocess.run(["rm", "-rf", str(root)], check=False)


def test_sigint_removes_containers_and_keeps_the_good_zip(tmp_path: Path) -> None:
    root = sdist_workspace(tmp_path, python='"3.11"', arch='"x86_64"')
    assert layerctl("-C", str(root), "build-all", "--builder", "container").returncode == 0
    out = root / "layers/c/build/lambda/layer/py3.11-x86_64"
    good = sha256_file(out / "layer.zip")
    # a new dependency whose build takes minutes: the next build is interrupted in the middle of it
    slow = make_sdist("slowbuild", root / "layers/c/vendor")
    pyproject = root / "layers/c/pyproject.toml"
    pyproject.write_text(
        pyproject.read_text().replace("dependencies = [", f'dependencies = ["slowbuild @ {slow.as_uri()}", ')
    )

    process = subprocess.Popen(
        [sys.executable, "-m", "orchestrator", "-C", str(root), "build-all"],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    assert process.stdout is not None
    seen = []
    deadline = time.monotonic() + 300
    for line in process.stdout:  # lines arrive live, while the container runs
        seen.append(line)
        # pip's "Processing .../slowbuild..." (a container build), or the backend's own first line
        # (a hybrid build of a local sdist runs its backend directly)
        if line.startswith("c:py3.11-x86_64 | ") and (
            "slowbuild: building slowly" in line or "Processing" in line
        ):
            break
        assert time.monotonic() < deadline, "".join(seen)
    time.sleep(2)
    assert labelled_containers(root), "the build container should be running now"
    process.send_signal(signal.SIGINT)
    rest, _ = process.communicate(timeout=120)
    assert process.returncode == 130, "".join(seen) + rest
    assert labelled_containers(root) == []
    assert sha256_file(out / "layer.zip") == good
    assert sorted(p.name for p in out.iterdir()) == [
        ".layerctl-stamp.json",
        "artifacts",
        "build.log",
        "layer.zip",
        "requirements.txt",
    ]
    row = report(root)["targets"][0]
    assert row["status"] == "cancelled" and row["error"] == "interrupted"


def test_image_of_the_wrong_architecture_is_refused(tmp_path: Path) -> None:
    subprocess.run(
        ["docker", "tag", STAND_IN.format(python="3.11", arch="x86_64"), "layerctl-test/wrong-arch:arm64"],
        check=True,
    )
    root = sdist_workspace(tmp_path, python='"3.11"', arch='"arm64"')
    (root / "layers/c/pyproject.toml").write_text(
        (root / "layers/c/pyproject.toml").read_text()
        + '\n[tool.layerctl]\nimage = "layerctl-test/wrong-arch:{arch}"\n'
    )
    result = layerctl("-C", str(root), "build-all", "--pull", "never", "--log-format", "plain")
    assert result.returncode == 3, result.stdout + result.stderr
    row = report(root)["targets"][0]
    assert row["status"] == "failed" and row["exit_code"] == 3
    assert row["error"] == (
        "image layerctl-test/wrong-arch:arm64 is built for amd64, but the target is arm64; "
        "use the image made for arm64"
    )
    assert "Traceback" not in result.stdout + result.stderr


def _mixed_workspace(root: Path, container_settings: str) -> Path:
    """Layer `c` (an sdist: a container build) and layer `n` (wheels only: native), py3.11 x86_64."""
    sdist_workspace(root, python='"3.11"', arch='"x86_64"')
    (root / "layers/c/pyproject.toml").write_text(
        (root / "layers/c/pyproject.toml").read_text() + "\n[tool.layerctl]\n" + container_settings
    )
    (root / "layers/n").mkdir()
    (root / "layers/n/pyproject.toml").write_text(
        '[project]\nname = "n"\nversion = "1"\ndependencies = ["six"]\n'
    )
    return root


def test_a_missing_image_fails_only_the_targets_that_need_it(tmp_path: Path) -> None:
    """No registry here: the pull fails. Native targets build anyway; no container stays behind."""
    root = _mixed_workspace(tmp_path, 'image = "layerctl-testbed/no-such-image:{arch}"\n')
    result = layerctl("-C", str(root), "build-all", "--keep-going", "--log-format", "plain")
    assert result.returncode == 3, result.stdout + result.stderr
    rows = {r["id"]: r for r in report(root)["targets"]}
    assert rows["n:py3.11-x86_64"]["status"] == "built"
    failed = rows["c:py3.11-x86_64"]
    assert failed["status"] == "failed" and failed["exit_code"] == 3
    assert "layerctl-testbed/no-such-image:x86_64 is not on this machine" in failed["error"]
    assert "Traceback" not in result.stdout + result.stderr
    assert labelled_containers(root) == []


def test_an_engine_that_refuses_a_container_leaves_none_behind(tmp_path: Path) -> None:
    root = _mixed_workspace(tmp_path, "")
    result = layerctl(
        "-C", str(root), "build-all", "--keep-going", "--container-network", "layerctl-no-such-network"
    )
    assert result.returncode == 1, result.stdout + result.stderr
    rows = {r["id"]: r for r in report(root)["targets"]}
    assert rows["n:py3.11-x86_64"]["status"] == "built"
    # the engine refuses it at creation or at start, depending on its version: none stays either way
    error = rows["c:py3.11-x86_64"]["error"]
    assert "layerctl-no-such-network" in error and ("cannot create" in error or "did not start" in error)
    assert labelled_containers(root) == []


def test_clean_containers_removes_leftovers() -> None:
    name = f"layerctl-leftover-{os.getpid()}"
    subprocess.run(
        [
            "docker",
            "create",
            "--name",
            name,
            "--label",
            "layerctl=crashed-run",
            STAND_IN.format(python="3.11", arch="x86_64"),
            "true",
        ],
        check=True,
        capture_output=True,
    )
    assert name in labelled_containers()
    result = layerctl("clean", "--containers")
    assert result.returncode == 0 and f"removed container {name}" in result.stdout
    assert name not in labelled_containers()
