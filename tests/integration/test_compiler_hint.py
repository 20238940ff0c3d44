"""An extension built in an image that lacks what it needs: no C++ compiler, or no Python
headers. The failure is one line on its target with a hint naming what is missing; the other
targets build."""

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
NO_HEADERS = "layerctl-testbed/build-python{python}-noheaders:{arch}"


def derived(image: str, run: str) -> str:
    """The py3.11 x86_64 stand-in build image with ``run`` run in it, tagged ``image``."""
    tag = image.format(python="3.11", arch="x86_64")
    dockerfile = f"FROM {STAND_IN.format(python='3.11', arch='x86_64')}\nRUN {run}\n"
    subprocess.run(["docker", "build", "-q", "-t", tag, "-"], input=dockerfile, text=True, check=True)
    return tag


@pytest.fixture(scope="module")
def image_without_cxx() -> Iterator[str]:
    """The stand-in build image with its C++ compiler (g++ and gcc's cc1plus) taken out."""
    image = derived(
        NO_CXX, 'rm -f "$(gcc -print-prog-name=cc1plus)" /usr/bin/g++* /usr/bin/c++ /usr/bin/*-linux-gnu-g++*'
    )
    yield image
    subprocess.run(["docker", "image", "rm", "-f", image], capture_output=True, check=False)


@pytest.fixture(scope="module")
def image_without_headers() -> Iterator[str]:
    """The stand-in build image with its Python's headers (``Python.h`` and the rest) taken out;
    its compilers stay."""
    image = derived(
        NO_HEADERS, 'rm -rf "$(python3 -c \'import sysconfig; print(sysconfig.get_paths()["include"])\')"'
    )
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


def test_an_image_without_python_headers_fails_only_its_target_with_one_line(
    tmp_path: Path, image_without_headers: str
) -> None:
    (tmp_path / "pyproject.toml").write_text(
        f'[tool.layerctl]\npython = ["3.11"]\narch = ["x86_64"]\nimage = "{NO_HEADERS}"\nkeep-going = true\n'
    )
    c = tmp_path / "layers" / "c"
    sdist = make_sdist("fastsum", c / "vendor")
    layers = {"c": [f"fastsum @ {sdist.as_uri()}", "six==1.16.0"], "wheels": ["six==1.16.0"]}
    for name, deps in layers.items():
        (tmp_path / "layers" / name).mkdir(parents=True, exist_ok=True)
        (tmp_path / "layers" / name / "pyproject.toml").write_text(
            f'[project]\nname = "{name}"\nversion = "1"\ndependencies = {json.dumps(deps)}\n'
        )
    result = layerctl("-C", str(tmp_path), "build-all", "--log-format", "plain")
    assert result.returncode == 1, result.stdout[-3000:] + result.stderr
    assert "Traceback" not in result.stdout + result.stderr
    rows = {row["id"]: row for row in report(tmp_path)["targets"]}
    assert rows["wheels:py3.11-x86_64"]["status"] == "built"
    bad = rows["c:py3.11-x86_64"]
    assert bad["status"] == "failed" and bad["builder"] == "hybrid"
    assert "\n" not in bad["error"] and bad["error"].startswith("the build of fastsum-1.0.0.tar.gz in "), bad[
        "error"
    ]
    assert bad["hint"].startswith("the image lacks Python's development headers (Python.h)"), bad["hint"]
    assert f"hint: {bad['hint']}" in result.stdout
    assert "Python.h: No such file or directory" in Path(bad["log"]).read_text()
