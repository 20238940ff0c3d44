"""The test monorepo's compiled in-repo library (libs/fastmath, a C extension) built from source in
the target's image (stand-ins, arm64 under QEMU), and `layerctl verify` importing every module of
every layer for 3.11 on both arches."""

from __future__ import annotations

import zipfile
from pathlib import Path

import pytest

from orchestrator.core.tools import uv_bin
from orchestrator.package.audit import read_elf
from tests.support.fixtures import copy_monorepo

from .conftest import STAND_IN, layerctl, report

pytestmark = [pytest.mark.integration, pytest.mark.docker, pytest.mark.usefixtures("docker_engine")]

ELF = {"x86_64": "EM_X86_64", "arm64": "EM_AARCH64"}


def test_compiled_library_builds_in_the_image_and_every_layer_imports(
    tmp_path_factory: pytest.TempPathFactory, tmp_path: Path
) -> None:
    root = copy_monorepo(tmp_path_factory.mktemp("mono-c") / "repo", uv_bin())
    pyproject = root / "pyproject.toml"
    text = pyproject.read_text().replace(
        "[tool.uv.workspace]", f'image = "{STAND_IN}"\n\n[tool.uv.workspace]'
    )
    pyproject.write_text(text)

    result = layerctl("-C", str(root), "build-all", "--python", "3.11", "--jobs", "4")
    assert result.returncode == 0, result.stdout[-4000:]
    rows = {row["id"]: row for row in report(root)["targets"]}
    assert len(rows) == 14 and {row["status"] for row in rows.values()} == {"built"}  # 7 layers x 2 arches
    for arch in ("x86_64", "arm64"):
        row = rows[f"jobs:py3.11-{arch}"]
        assert row["builder"] == "hybrid" and "libs/fastmath" in row["builder_reason"]
        zip_path = root / f"layers/jobs/build/lambda/layer/py3.11-{arch}/layer.zip"
        with zipfile.ZipFile(zip_path) as zf:
            (so,) = [n for n in zf.namelist() if n.startswith("python/fastmath") and n.endswith(".so")]
            info = read_elf(Path(zf.extract(so, tmp_path / arch)))
            assert "python/acme_common/__init__.py" in zf.namelist()
        assert info is not None and info.machine == ELF[arch]

    verify = layerctl("-C", str(root), "verify", "--python", "3.11", "--image", STAND_IN)
    assert verify.returncode == 0, verify.stdout[-4000:]
    for module in ("fastmath", "acme_common", "own_handlers", "idna", "attr", "six"):
        assert f"import ok: {module}" in verify.stdout

    # the native builder never compiles on the host: one line naming the library and the way out
    native = layerctl("-C", str(root), "build", "jobs", "--python", "3.11", "--arch", "x86_64",
                      "--builder", "native", "--force")  # fmt: skip
    assert native.returncode == 1
    (row,) = report(root)["targets"]
    assert row["error"].startswith(f"{root / 'libs/fastmath'} (an in-repo project) has compiled code")
    assert "use --builder container" in row["error"]
