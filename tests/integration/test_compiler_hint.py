"""A C++ extension built in an image that has no C++ compiler: the failure's hint names it."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.fixtures import make_sdist

from .conftest import STAND_IN, layerctl, report

pytestmark = [pytest.mark.integration, pytest.mark.docker, pytest.mark.usefixtures("docker_engine")]

NO_CXX = "layerctl-testbed/build-python{python}-nocxx:{arch}"


@pytest.fixture(scope="module")
def image_without_cxx() -> Iterator[str]:
    """The stand-in build image with its C++ compiler (g++ and gcc's cc1plus) taken out."""
    image = NO_CXX.format(python="3.11", arch="x86_64")
    dockerfile = (
        f"FROM {STAND_IN.format(python='3.11', arch='x86_64')}\n"
        'RUN rm -f "$(gcc -print-prog-name=cc1plus)" /usr/bin/g++* /usr/bin/c++ /usr/bin/*-linux-gnu-g++*\n'
    )
    subprocess.run(["docker", "build", "-q", "-t", image, "-"], input=dockerfile, text=True, check=True)
    yield image
    subprocess.run(["docker", "image", "rm", "-f", image], capture_output=True, check=False)


def test_a_missing_cxx_compiler_is_named(tmp_path: Path, image_without_cxx: str) -> None:
    layer = tmp_path / "layers" / "cpp"
    sdist = make_sdist("fastcpp", layer / "vendor")
    (tmp_path / "pyproject.toml").write_text(
        f'[tool.layerctl]\npython = ["3.11"]\narch = ["x86_64"]\nimage = "{NO_CXX}"\n'
    )
    deps = [f"fastcpp @ {sdist.as_uri()}"]
    (layer / "pyproject.toml").write_text(
        f'[project]\nname = "cpp"\nversion = "1"\ndependencies = {json.dumps(deps)}\n'
    )
    result = layerctl("-C", str(tmp_path), "build-all", "--log-format", "plain")
    assert result.returncode == 1, result.stdout[-3000:] + result.stderr
    row = report(tmp_path)["targets"][0]
    assert row["status"] == "failed" and row["builder"] == "hybrid"
    hint = "the image lacks a C++ compiler (g++): use an image that has it, as the SAM build images do"
    assert row["hint"] == hint
    assert f"hint: {hint}" in result.stdout
