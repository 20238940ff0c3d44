"""The tools' own index configuration (issue 11): a uv layer with ``[[tool.uv.index]]`` (a default
index and an explicit one a package is pinned to) and a Poetry-style layer with a ``primary``
source, each index on loopback answering 401 without its own credentials, which come from the
tools' own variables. No layerctl index setting at all. Built natively with uv and in a container
with pip; the passwords show nowhere."""

from __future__ import annotations

import os
import secrets
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from orchestrator.core.tools import uv_bin
from tests.support.fixtures import make_wheel
from tests.support.servers import private_index

from .conftest import STAND_IN, layerctl, report

pytestmark = pytest.mark.integration


def _uv_layer(layer: Path, corp: str, pinned: str, builder: str) -> None:
    layer.mkdir(parents=True)
    (layer / "pyproject.toml").write_text(
        f'[project]\nname = "{layer.name}"\nversion = "1"\nrequires-python = ">=3.11"\n'
        'dependencies = ["privpkg", "pinpkg"]\n\n'
        f'[[tool.uv.index]]\nname = "corp"\nurl = "{corp}"\ndefault = true\n\n'
        f'[[tool.uv.index]]\nname = "pinned-idx"\nurl = "{pinned}"\nexplicit = true\n\n'
        '[tool.uv.sources]\npinpkg = { index = "pinned-idx" }\n\n'
        f'[tool.layerctl]\nbuilder = "{builder}"\n'
    )


def _poetry_layer(layer: Path, corp: str, builder: str) -> None:
    layer.mkdir(parents=True)
    (layer / "pyproject.toml").write_text(
        f'[tool.poetry]\nname = "{layer.name}"\nversion = "1"\ndescription = ""\nauthors = ["a"]\n'
        "package-mode = false\n\n"
        '[tool.poetry.dependencies]\npython = "^3.11"\nprivpkg = "^1.0"\n\n'
        f'[[tool.poetry.source]]\nname = "corp"\nurl = "{corp}"\npriority = "primary"\n\n'
        f'[tool.layerctl]\nbuilder = "{builder}"\n'
    )


def _run(cmd: list[str], cwd: Path, env: dict[str, str]) -> None:
    result = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]


@pytest.mark.parametrize("builder", ["native", pytest.param("container", marks=pytest.mark.docker)])
def test_the_tools_own_indexes_and_credentials_are_used(
    builder: str, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    if builder == "container":
        request.getfixturevalue("docker_engine")
    corp_pw, pinned_pw = f"c0rp:{secrets.token_hex(8)}@", f"p1n/{secrets.token_hex(8)}#"
    wheels = tmp_path / "wheels"
    priv = make_wheel(wheels, "privpkg", "1.0", {"privpkg/__init__.py": b"VALUE = 1\n"})
    pin = make_wheel(wheels, "pinpkg", "2.0", {"pinpkg/__init__.py": b"VALUE = 2\n"})
    env = {
        **os.environ,
        "UV_INDEX_CORP_USERNAME": "ci",
        "UV_INDEX_CORP_PASSWORD": corp_pw,
        "UV_INDEX_PINNED_IDX_USERNAME": "ci",
        "UV_INDEX_PINNED_IDX_PASSWORD": pinned_pw,
        "POETRY_HTTP_BASIC_CORP_USERNAME": "ci",
        "POETRY_HTTP_BASIC_CORP_PASSWORD": corp_pw,
        "UV_CACHE_DIR": str(tmp_path / "uv-cache"),
        "POETRY_CACHE_DIR": str(tmp_path / "poetry-cache"),
    }
    env.pop("LAYERCTL_INDEX_URL", None)
    with (
        private_index([priv], username="ci", password=corp_pw) as corp,
        private_index([pin], username="ci", password=pinned_pw) as pinned,
    ):
        root = tmp_path / "ws"
        root.mkdir()
        (root / "pyproject.toml").write_text(
            '[tool.layerctl]\npython = ["3.11"]\narch = ["x86_64"]\n'
            f'image = "{STAND_IN}"\ncache-dir = "cache"\ncontainer-network = "host"\n'
        )
        _uv_layer(root / "layers/withuv", corp.url, pinned.url, builder)
        _run([uv_bin(), "lock"], root / "layers/withuv", env)  # made here: a uv.lock records URLs
        _poetry_layer(root / "layers/withpoetry", corp.url, builder)
        poetry = str(Path(sys.executable).with_name("poetry"))
        _run([poetry, "lock", "--no-interaction"], root / "layers/withpoetry", env)

        result = layerctl("-C", str(root), "build-all", "--log-format", "plain", env=env)
        assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-2000:]
        installer = "pip" if builder == "container" else "uv"
        assert corp.authorised[installer] > 0 and pinned.authorised[installer] > 0

    rows = {row["id"]: row for row in report(root)["targets"]}
    with zipfile.ZipFile(rows["withuv:py3.11-x86_64"]["zip_path"]) as zf:
        assert zf.read("python/privpkg/__init__.py") == b"VALUE = 1\n"
        assert zf.read("python/pinpkg/__init__.py") == b"VALUE = 2\n"
    with zipfile.ZipFile(rows["withpoetry:py3.11-x86_64"]["zip_path"]) as zf:
        assert zf.read("python/privpkg/__init__.py") == b"VALUE = 1\n"
    assert rows["withuv:py3.11-x86_64"]["slug"] == "withuv-py3.11-x86_64"
    seen = result.stdout + result.stderr + (root / "build/layerctl/report.json").read_text()
    seen += "".join(Path(row["log"]).read_text() for row in rows.values())
    for password in (corp_pw, pinned_pw):
        assert password not in seen
        assert subprocess.run(["grep", "-rqF", password, str(root)], check=False).returncode == 1
