"""Container builds of a layer whose set names local files outside the layer's directory (an
sdist and a wheel kept elsewhere in the repository): each is mounted at its own path, and the
zip records none of them, so it is the same from every checkout."""

from __future__ import annotations

import json
import shutil
import zipfile
from pathlib import Path

import pytest

from orchestrator.package.zip import sha256_file
from tests.support.fixtures import make_sdist, make_wheel, record_mismatches

from .conftest import STAND_IN, labelled_containers, layerctl, report

pytestmark = [pytest.mark.integration, pytest.mark.docker, pytest.mark.usefixtures("docker_engine")]


def workspace(root: Path) -> Path:
    """Layer ``c`` (py3.11 x86_64, builder container) naming by ``file:`` URL fastsum's sdist and
    a pure wheel, both in ``<root>/src``: in the repository, not under the layer."""
    sdist = make_sdist("fastsum", root / "src")
    wheel = make_wheel(root / "src", "purehelp", "1.0", {"purehelp/__init__.py": b"VALUE = 1\n"})
    (root / "pyproject.toml").write_text(
        '[tool.layerctl]\npython = ["3.11"]\narch = ["x86_64"]\nbuilder = "container"\n'
        f'image = "{STAND_IN}"\n'
    )
    layer = root / "layers" / "c"
    layer.mkdir(parents=True)
    deps = [f"fastsum @ {sdist.as_uri()}", f"purehelp @ {wheel.as_uri()}"]
    (layer / "pyproject.toml").write_text(
        f'[project]\nname = "c"\nversion = "1"\ndependencies = {json.dumps(deps)}\n'
    )
    return root


def build(root: Path) -> Path:
    result = layerctl("-C", str(root), "build-all")
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr
    (row,) = report(root)["targets"]
    assert row["status"] == "built" and row["builder"] == "container", row
    assert labelled_containers(root) == []
    return Path(row["zip_path"])


def test_local_files_outside_the_layer_build_and_are_not_recorded(tmp_path: Path) -> None:
    first = workspace(tmp_path / "a" / "ws")
    zip_path = build(first)
    with zipfile.ZipFile(zip_path) as zf:
        names = zf.namelist()
        assert "python/purehelp/__init__.py" in names
        assert [n for n in names if n.endswith(".so")], names  # fastsum compiled in the image
        assert not [n for n in names if n.endswith("direct_url.json")]
        assert not [n for n in names if str(first).encode() in zf.read(n)]  # no path of the checkout
    assert record_mismatches(zip_path) == []

    # the same repository checked out elsewhere: its lines name the files there
    second = tmp_path / "b" / "elsewhere"
    shutil.copytree(first, second, ignore=shutil.ignore_patterns("build"))
    project = second / "layers/c/pyproject.toml"
    project.write_text(project.read_text().replace(first.as_uri(), second.as_uri()))
    assert sha256_file(build(second)) == sha256_file(zip_path)
