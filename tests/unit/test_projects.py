"""Real monorepos (issue 11): Poetry-style projects, broken layers in `list`, the workspace found
from any directory inside it, the layer's own python/arch lists, slugs."""

from __future__ import annotations

import itertools
import json
from collections.abc import Callable
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.specifiers import SpecifierSet

from orchestrator.core.errors import EXIT_USAGE, ConfigError
from orchestrator.workspace.config import load_workspace
from orchestrator.workspace.discovery import Tool, discover_layers
from orchestrator.workspace.locate import find_workspace
from orchestrator.workspace.poetry_deps import poetry_dependencies, to_specifier
from tests.support.cli import invoke

CONSTRAINTS = [
    "^1.2.3", "^0.2.3", "^0.0.3", "^0.0", "^0", "^1.2", "^1", "^2.0.0rc1", "~1.2.3", "~1.2", "~1", "~0.0.1",
    "1.2.3", "1.2", "1.2.*", "*", ">=1.2,<2.0", ">=1.2 <2.0", ">= 1.2, < 2", "~=1.2", "~=1.2.3", "==1.2",
    "!=1.5", "<2", "<=2.1", ">1.2", "1.2.3.4", "^1.2.3a1", "=1.2.3", ">=0.9,!=1.0.1,<1.2", "^10.4.1",
]  # fmt: skip
VERSIONS = [
    f"{a}.{b}.{c}{pre}"
    for a, b, c in itertools.product((0, 1, 2, 10), (0, 1, 2, 3, 4, 5), (0, 1, 3, 4))
    for pre in ("", "a1", ".post1")
] + ["1.2", "1", "2", "0", "0.0", "1.2.3.4", "1.2.3.5", "10.4.1", "11.0"]


@pytest.mark.parametrize("constraint", CONSTRAINTS)
def test_constraints_mean_what_poetry_means(constraint: str) -> None:
    """Compared with real Poetry (poetry-core's own PEP 508 form) on many versions."""
    from poetry.core.factory import Factory

    theirs = Requirement(Factory.create_dependency("foo", constraint).to_pep_508()).specifier
    ours = SpecifierSet(to_specifier(constraint, "here"))
    for version in VERSIONS:
        assert ours.contains(version, prereleases=True) == theirs.contains(version, prereleases=True), version


TABLES = [
    {"version": "^1.2", "python": "^3.8"},
    {"version": "~1.2", "python": ">=3.8,<3.11", "extras": ["a", "b"]},
    {"version": "*", "python": "~3.9"},
    {"version": ">=1", "python": "3.9.*", "markers": "platform_machine == 'aarch64'"},
    {"version": "^1.2", "python": ">=3.9.1", "platform": "linux"},
    {"version": "^1.2", "markers": "sys_platform == 'linux' or sys_platform == 'darwin'"},
]
ENVIRONMENTS = [
    {"python_version": f"3.{minor}", "python_full_version": f"3.{minor}.{micro}", "sys_platform": plat,
     "platform_machine": machine}
    for minor in range(7, 15) for micro in (0, 1, 2)
    for plat in ("linux", "darwin") for machine in ("x86_64", "aarch64")
]  # fmt: skip


@pytest.mark.parametrize("table", TABLES)
def test_table_forms_mean_what_poetry_means(table: dict[str, object], tmp_path: Path) -> None:
    from poetry.core.factory import Factory

    theirs = Requirement(Factory.create_dependency("foo", table).to_pep_508())
    (ours,) = (Requirement(r) for r in poetry_dependencies({"dependencies": {"foo": table}}, tmp_path))
    assert ours.name == theirs.name and ours.extras == theirs.extras
    for version in VERSIONS:
        assert ours.specifier.contains(version) == theirs.specifier.contains(version), version
    for env in ENVIRONMENTS:
        mine = ours.marker.evaluate(env) if ours.marker else True
        assert mine == (theirs.marker.evaluate(env) if theirs.marker else True), env


def test_a_union_has_no_requirement_form(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"\[tool.poetry.dependencies\] foo: '\^1.0 \|\| \^2.0' is a union"):
        poetry_dependencies({"dependencies": {"foo": "^1.0 || ^2.0"}}, tmp_path / "pyproject.toml")


POETRY_PROJECT = """\
[tool.poetry]
name = "legacy"
version = "0.1.0"
description = ""
authors = ["someone"]

[tool.poetry.dependencies]
python = "^3.11"
six = "^1.16"
attrs = { version = "~23.1", python = ">=3.12" }
colorama = { version = "*", optional = true }
local = { path = "../lib", develop = true }
fastsum = [
    { version = "^1.0", python = "<3.12" },
    { version = "^2.0", python = ">=3.12" },
]

[tool.poetry.group.dev.dependencies]
pytest = "*"
"""


def test_a_poetry_style_project_is_a_layer(make_workspace: Callable[..., Path]) -> None:
    """Before, a project without [project] was refused, and with it the whole workspace."""
    root = make_workspace('python = ["3.10", "3.11", "3.12"]', {"legacy": "[project]\n", "web": ""})
    (root / "layers/legacy/pyproject.toml").write_text(POETRY_PROJECT)
    layers = {layer.name: layer for layer in discover_layers(load_workspace(root))}
    legacy = layers["legacy"]
    assert legacy.problem is None and legacy.tool is Tool.PIP
    assert legacy.requires_python == SpecifierSet(">=3.11,<4.0")
    assert legacy.dependencies == (
        "six>=1.16,<2.0",
        'attrs>=23.1,<23.2 ; python_version >= "3.12"',
        f"local @ {(root / 'layers/lib').resolve().as_uri()}",
        'fastsum>=1.0,<2.0 ; python_version < "3.12"',
        'fastsum>=2.0,<3.0 ; python_version >= "3.12"',
    )
    result = invoke(["-C", str(root), "list", "--builder", "native"])
    assert result.exit_code == 0, result.output
    assert "# legacy: Python 3.10 left out (outside the layer's requires-python <4.0,>=3.11)" in result.output
    assert "legacy:py3.12-arm64" in result.output


def test_a_broken_layer_is_an_error_row_and_the_others_are_listed(
    make_workspace: Callable[..., Path],
) -> None:
    root = make_workspace("", {"bad": "[tool.layerctl]\narch = ['sparc']\n", "web": ""})
    result = invoke(["-C", str(root), "list", "--builder", "native"])
    assert result.exit_code == EXIT_USAGE
    lines = result.output.splitlines()
    assert any(line.startswith("web:py3.12-x86_64") and "native" in line for line in lines)
    bad = [line for line in lines if line.startswith("bad:")]
    assert len(bad) == 2 and all(" error " in line and "[tool.layerctl]: 'arch'" in line for line in bad)
    listed = json.loads(invoke(["-C", str(root), "list", "--format", "json", "--builder", "native"]).stdout)
    rows = {row["id"]: row for row in listed}
    assert rows["bad:py3.12-arm64"]["error"].startswith(f"{root}/layers/bad/pyproject.toml [tool.layerctl]")
    assert rows["web:py3.12-arm64"]["slug"] == "web-py3.12-arm64" and "error" not in rows["web:py3.12-arm64"]


def test_clean_skips_a_broken_layer(make_workspace: Callable[..., Path]) -> None:
    root = make_workspace("", {"bad": "[tool.layerctl\n", "web": ""})
    result = invoke(["-C", str(root), "clean"])
    assert result.exit_code == 0, result.output
    assert f"skipped layer bad: {root}/layers/bad/pyproject.toml: not valid TOML" in result.output


def test_the_workspace_is_found_upward(
    make_workspace: Callable[..., Path], tmp_path_factory: pytest.TempPathFactory
) -> None:
    """Before, running inside a layer directory did not find the workspace above it."""
    root = make_workspace("", {"web": '[tool.layerctl]\nname = "webby"\n', "data": ""})
    (root / "layers/web/src/pkg").mkdir(parents=True)
    for start in ("", "layers", "layers/web", "layers/web/src/pkg", "layers/data"):
        assert find_workspace(root / start) == root, start
    result = invoke(["-C", str(root / "layers/web/src"), "list", "--builder", "native"])
    assert result.exit_code == 0 and "webby:py3.12-arm64" in result.output and "data:" in result.output
    nowhere = tmp_path_factory.mktemp("elsewhere")
    with pytest.raises(ConfigError, match="not inside a layerctl workspace"):
        find_workspace(nowhere)


def test_a_workspace_without_settings_is_found_by_its_layers(tmp_path: Path) -> None:
    (tmp_path / "layers/a").mkdir(parents=True)
    (tmp_path / "pyproject.toml").write_text('[project]\nname = "mono"\nversion = "1"\n')
    (tmp_path / "layers/a/pyproject.toml").write_text('[project]\nname = "a"\nversion = "1"\n')
    assert find_workspace(tmp_path / "layers/a") == tmp_path


def test_a_nested_workspace_is_its_own(make_workspace: Callable[..., Path]) -> None:
    """A workspace inside another one's tree, and not one of its layers, is the root there."""
    root = make_workspace()
    inner = root / "tools/inner"
    (inner / "layers/x").mkdir(parents=True)
    (inner / "layerctl.toml").write_text("")
    (inner / "layers/x/pyproject.toml").write_text('[project]\nname = "x"\nversion = "1"\n')
    assert find_workspace(inner / "layers/x") == inner


def test_a_selection_of_nothing_exits_2_in_list(make_workspace: Callable[..., Path]) -> None:
    root = make_workspace()
    result = invoke(["-C", str(root), "list", "--only", "nothing:*"])
    assert result.exit_code == EXIT_USAGE
    assert "no targets match the selection" in result.stderr


def test_the_command_line_selects_within_a_layers_own_lists(make_workspace: Callable[..., Path]) -> None:
    """Before, --python re-added versions a layer had left out of its own list."""
    root = make_workspace("", {"old": '[tool.layerctl]\npython = ["3.11"]\narch = ["x86_64"]\n', "new": ""})
    result = invoke(
        ["-C", str(root), "list", "--builder", "native", "--python", "3.11,3.13", "--arch", "arm64"]
    )
    assert result.exit_code == 0, result.output
    ids = [line.split()[0] for line in result.output.splitlines() if not line.startswith("#")]
    assert ids == ["new:py3.11-arm64", "new:py3.13-arm64"]
    assert "# old: Python 3.13 left out (the layer's own python list is 3.11)" in result.output
    assert "# old: arm64 left out (the layer's own arch list is x86_64)" in result.output


def test_only_takes_slugs(make_workspace: Callable[..., Path]) -> None:
    root = make_workspace("", {"web": "", "data": ""})
    result = invoke(["-C", str(root), "list", "--builder", "native", "--only", "web-py3.12-arm64"])
    assert result.exit_code == 0 and result.output.split()[0] == "web:py3.12-arm64"
    assert len(result.output.splitlines()) == 1
    result = invoke(["-C", str(root), "list", "--builder", "native", "--skip", "*-x86_64"])
    assert {line.split()[0] for line in result.output.splitlines()} == {
        "web:py3.12-arm64",
        "data:py3.12-arm64",
    }


def test_a_layer_with_its_own_table_under_a_root_without_settings(tmp_path: Path) -> None:
    """The root only a uv workspace marks (no [tool.layerctl]) still wins over a layer whose own
    table sets `python`, `extras` or `name`: from inside the layer, the root is found."""
    (tmp_path / "layers/api").mkdir(parents=True)
    (tmp_path / "pyproject.toml").write_text('[tool.uv.workspace]\nmembers = ["layers/*"]\n')
    for own in ('python = ["3.11"]', 'name = "api"', 'builder = "native"'):
        (tmp_path / "layers/api/pyproject.toml").write_text(
            f'[project]\nname = "api"\nversion = "1"\n\n[tool.layerctl]\n{own}\n'
        )
        assert find_workspace(tmp_path / "layers/api") == tmp_path, own
