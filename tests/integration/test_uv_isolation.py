"""Where layerctl is started from never changes a build: uv configuration in the caller's
directory or its parents, the user's own uv configuration and stray ``UV_*`` variables change
neither a zip nor an ``auto`` decision. Each case builds (``--force``) and decides from a
poisoned set-up and compares with a clean one. Needs the package index."""

from __future__ import annotations

import os
import subprocess
import zipfile
from collections.abc import Callable
from pathlib import Path

import pytest

from orchestrator.core.tools import uv_bin

from .conftest import layerctl, report

pytestmark = pytest.mark.integration

# Each poison pins what it can reach to old releases: six 1.17 -> 1.15 (or 1.13 by date), and
# numpy to releases without a wheel for CPython 3.12 (which would flip `auto` to a container).
CONSTRAINTS = ["six<1.16", "numpy<1.20"]
OLD_DATE = "2020-01-01T00:00:00Z"
DEAD_INDEX = "http://127.0.0.1:9/simple"


def clean_env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if not k.startswith("UV_")}


@pytest.fixture(scope="module")
def workspace(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, str]]:
    """Layers p (pip: six), u (uv: six, locked) and n (pip: numpy, only ever decided), one Python
    and one arch; built once from a clean set-up: the zips every poisoned build must reproduce."""
    root = tmp_path_factory.mktemp("isolation") / "ws"
    root.mkdir()
    (root / "pyproject.toml").write_text('[tool.layerctl]\npython = ["3.12"]\narch = ["x86_64"]\n')
    for name, deps in {"p": '["six"]', "u": '["six"]', "n": '["numpy"]'}.items():
        (root / "layers" / name).mkdir(parents=True)
        (root / "layers" / name / "pyproject.toml").write_text(
            f'[project]\nname = "{name}"\nversion = "1"\nrequires-python = ">=3.10"\ndependencies = {deps}\n'
            + ("[tool.uv]\npackage = false\n" if name == "u" else "")
        )
    subprocess.run(
        [uv_bin(), "lock", "--quiet", "--project", str(root / "layers/u")], check=True, env=clean_env()
    )
    result = layerctl("-C", str(root), "build-all", "--skip", "n:*", cwd=root, env=clean_env())
    assert result.returncode == 0, result.stdout + result.stderr
    shas = {row["id"]: row["sha256"] for row in report(root)["targets"]}
    assert set(shas) == {"p:py3.12-x86_64", "u:py3.12-x86_64"}
    return root, shas


def uv_toml() -> str:
    return f"constraint-dependencies = {CONSTRAINTS!r}\n".replace("'", '"')


def cwd_uv_toml(tmp: Path, env: dict[str, str]) -> Path:
    (tmp / "uv.toml").write_text(uv_toml())
    return tmp


def parent_uv_toml(tmp: Path, env: dict[str, str]) -> Path:
    (tmp / "uv.toml").write_text(uv_toml())
    (tmp / "a/b").mkdir(parents=True)
    return tmp / "a/b"


def cwd_tool_uv(tmp: Path, env: dict[str, str]) -> Path:
    (tmp / "pyproject.toml").write_text('[project]\nname = "caller"\nversion = "0"\n[tool.uv]\n' + uv_toml())
    return tmp


def cwd_tool_uv_pip(tmp: Path, env: dict[str, str]) -> Path:
    (tmp / "pyproject.toml").write_text(
        f'[project]\nname = "caller"\nversion = "0"\n[tool.uv.pip]\nexclude-newer = "{OLD_DATE}"\n'
    )
    return tmp


def xdg_user_config(tmp: Path, env: dict[str, str]) -> Path:
    (tmp / "xdg/uv").mkdir(parents=True)
    (tmp / "xdg/uv/uv.toml").write_text(uv_toml() + f'exclude-newer = "{OLD_DATE}"\n')
    env["XDG_CONFIG_HOME"] = str(tmp / "xdg")
    return tmp


def home_user_config(tmp: Path, env: dict[str, str]) -> Path:
    (tmp / "home/.config/uv").mkdir(parents=True)
    (tmp / "home/.config/uv/uv.toml").write_text(uv_toml())
    # the cache stays where it was: UV_CACHE_DIR is one of the variables that pass through
    cache = subprocess.run(
        [uv_bin(), "cache", "dir"], capture_output=True, text=True, check=True
    ).stdout.strip()
    env.update(HOME=str(tmp / "home"), UV_CACHE_DIR=cache)
    return tmp


def constraint_file(tmp: Path) -> str:
    (tmp / "constraints.txt").write_text("\n".join(CONSTRAINTS) + "\n")
    return str(tmp / "constraints.txt")


def env_constraint(tmp: Path, env: dict[str, str]) -> Path:
    env["UV_CONSTRAINT"] = constraint_file(tmp)
    return tmp


def env_override(tmp: Path, env: dict[str, str]) -> Path:
    (tmp / "overrides.txt").write_text("six==1.14.0\nnumpy==1.19.5\n")
    env["UV_OVERRIDE"] = str(tmp / "overrides.txt")
    return tmp


def env_exclude_newer(tmp: Path, env: dict[str, str]) -> Path:
    env["UV_EXCLUDE_NEWER"] = OLD_DATE
    return tmp


def env_config_file(tmp: Path, env: dict[str, str]) -> Path:
    (tmp / "elsewhere.toml").write_text(uv_toml())
    env["UV_CONFIG_FILE"] = str(tmp / "elsewhere.toml")
    return tmp


def env_index(tmp: Path, env: dict[str, str]) -> Path:
    env.update(UV_INDEX_URL=DEAD_INDEX, UV_DEFAULT_INDEX=DEAD_INDEX, UV_HTTP_RETRIES="0")
    return tmp


def env_many(tmp: Path, env: dict[str, str]) -> Path:
    env.update(
        UV_PRERELEASE="allow", UV_RESOLUTION="lowest", UV_NO_BINARY="1", UV_FROZEN="1", UV_NO_CONFIG="0"
    )
    return tmp


POISONS: dict[str, Callable[[Path, dict[str, str]], Path]] = {
    "uv.toml in the working directory": cwd_uv_toml,
    "uv.toml in a parent of the working directory": parent_uv_toml,
    "[tool.uv] of a pyproject.toml in the working directory": cwd_tool_uv,
    "[tool.uv.pip] of a pyproject.toml in the working directory": cwd_tool_uv_pip,
    "user uv.toml under XDG_CONFIG_HOME": xdg_user_config,
    "user uv.toml under HOME": home_user_config,
    "UV_CONSTRAINT": env_constraint,
    "UV_OVERRIDE": env_override,
    "UV_EXCLUDE_NEWER": env_exclude_newer,
    "UV_CONFIG_FILE": env_config_file,
    "UV_INDEX_URL and UV_DEFAULT_INDEX": env_index,
    "UV_PRERELEASE, UV_RESOLUTION, UV_NO_BINARY, UV_FROZEN": env_many,
}


@pytest.mark.parametrize("poison", POISONS.values(), ids=POISONS.keys())
def test_a_poisoned_caller_builds_the_same_zips(
    workspace: tuple[Path, dict[str, str]], tmp_path: Path, poison: Callable[[Path, dict[str, str]], Path]
) -> None:
    root, shas = workspace
    env = clean_env()
    cwd = poison(tmp_path, env)
    result = layerctl("-C", str(root), "build-all", "--skip", "n:*", "--force", cwd=cwd, env=env)
    assert result.returncode == 0, result.stdout + result.stderr
    rows = {row["id"]: row for row in report(root)["targets"]}
    with zipfile.ZipFile(rows["p:py3.12-x86_64"]["zip_path"]) as zf:
        assert "python/six-1.17.0.dist-info/METADATA" in zf.namelist()
    assert {target: row["sha256"] for target, row in rows.items()} == shas

    listed = layerctl("-C", str(root), "list", "--only", "n:*", cwd=cwd, env=env)
    assert listed.returncode == 0, listed.stderr
    assert "native  (every dependency has a wheel)" in listed.stdout, listed.stdout


def test_the_layers_own_uv_settings_still_count(tmp_path: Path) -> None:
    """The layer's own uv.toml / [tool.uv] are its configuration: the lock records them and is
    checked against them (``--no-config`` on ``uv export`` would call such a lock out of date)."""
    root = tmp_path / "ws"
    layer = root / "layers/own"
    layer.mkdir(parents=True)
    (root / "pyproject.toml").write_text('[tool.layerctl]\npython = ["3.12"]\narch = ["x86_64"]\n')
    (layer / "pyproject.toml").write_text(
        '[project]\nname = "own"\nversion = "1"\nrequires-python = ">=3.10"\ndependencies = ["six"]\n'
        f'[tool.uv]\npackage = false\nexclude-newer = "{OLD_DATE}"\n'
    )
    subprocess.run([uv_bin(), "lock", "--quiet", "--project", str(layer)], check=True, env=clean_env())
    result = layerctl("-C", str(root), "build-all", cwd=tmp_path, env=clean_env())
    assert result.returncode == 0, result.stdout + result.stderr
    assert "six==1.13.0" in (layer / "build/lambda/layer/py3.12-x86_64/requirements.txt").read_text()

    # the same setting on the caller's side does not count; dropping the layer's own does
    (tmp_path / "uv.toml").write_text(f'exclude-newer = "{OLD_DATE}"\n')
    pyproject = layer / "pyproject.toml"
    pyproject.write_text(pyproject.read_text().replace(f'exclude-newer = "{OLD_DATE}"\n', ""))
    result = layerctl("-C", str(root), "build-all", cwd=tmp_path, env=clean_env())
    assert result.returncode == 1
    (row,) = report(root)["targets"]
    assert row["error"] == f"{layer / 'uv.lock'}: out of date with pyproject.toml; run `uv lock` in {layer}"
