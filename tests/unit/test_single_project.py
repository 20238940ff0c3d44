"""One project that is its own layer (issue 16, item 8), and help texts that show what they
say (item 9)."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
import typer

from orchestrator.cli.app import app
from orchestrator.core.errors import EXIT_USAGE, ConfigError
from orchestrator.workspace.config import load_workspace
from orchestrator.workspace.discovery import Tool, discover_layers
from orchestrator.workspace.locate import find_workspace
from tests.support.cli import invoke

PROJECT = '[project]\nname = "hello-layer"\nversion = "1"\ndependencies = ["six"]\n'
POETRY = (
    '[tool.poetry]\nname = "poetic"\nversion = "1"\n\n'
    '[tool.poetry.dependencies]\npython = "^3.11"\nsix = "^1.16"\n'
)


def listed(root: Path, *args: str) -> dict[str, dict[str, str]]:
    result = invoke(["-C", str(root), "list", "--format", "json", "--builder", "native", *args])
    assert result.exit_code == 0, result.output
    return {row["id"]: row for row in json.loads(result.stdout)}


def test_a_project_with_no_settings_is_its_own_layer(tmp_path: Path) -> None:
    """Before: "not inside a layerctl workspace"."""
    (tmp_path / "pyproject.toml").write_text(PROJECT)
    (tmp_path / "src/hello").mkdir(parents=True)
    assert find_workspace(tmp_path / "src/hello") == tmp_path
    rows = listed(tmp_path / "src")
    assert set(rows) == {"hello-layer:py3.12-x86_64", "hello-layer:py3.12-arm64"}
    workspace = load_workspace(tmp_path)
    (layer,) = discover_layers(workspace)
    assert layer.root == tmp_path and layer.tool is Tool.PIP and layer.dependencies == ("six",)
    target_dir = tmp_path / "build/lambda/layer/py3.12-arm64"
    assert rows["hello-layer:py3.12-arm64"]["slug"] == "hello-layer-py3.12-arm64"
    assert not target_dir.exists()  # list writes nothing


def test_a_poetry_style_project_is_its_own_layer_named_by_its_project(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text(POETRY)
    assert set(listed(tmp_path)) == {"poetic:py3.12-x86_64", "poetic:py3.12-arm64"}


def test_a_project_of_no_usable_name_is_named_by_its_directory(tmp_path: Path) -> None:
    root = tmp_path / "mylayer"
    root.mkdir()
    (root / "pyproject.toml").write_text('[project]\nname = "-odd"\ndependencies = []\n')
    assert set(listed(root)) == {"mylayer:py3.12-x86_64", "mylayer:py3.12-arm64"}


@pytest.mark.parametrize("pattern", [".", "pyproject.toml", "./pyproject.toml"])
def test_a_root_listed_in_layers_is_that_layer(tmp_path: Path, pattern: str) -> None:
    """Before: "no targets match the selection", which names the wrong cause."""
    (tmp_path / "pyproject.toml").write_text(
        PROJECT + f'\n[tool.layerctl]\nlayers = ["{pattern}"]\nname = "mine"\npython = ["3.11"]\n'
        'arch = ["arm64"]\n'
    )
    assert set(listed(tmp_path)) == {"mine:py3.11-arm64"}


def test_one_table_holds_the_workspace_and_the_layer_settings(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text(
        PROJECT + '\n[tool.layerctl]\nname = "one"\narch = ["x86_64"]\njobs = 2\nreport-dir = "out/report"\n'
    )
    assert set(listed(tmp_path)) == {"one:py3.12-x86_64"}
    assert load_workspace(tmp_path).options.jobs == 2


def test_a_root_with_layers_is_not_a_layer_itself(tmp_path: Path) -> None:
    """A monorepo root that declares dependencies of its own (dev tools) stays a workspace."""
    (tmp_path / "pyproject.toml").write_text(PROJECT)
    (tmp_path / "layers/web").mkdir(parents=True)
    (tmp_path / "layers/web/pyproject.toml").write_text('[project]\nname = "w"\ndependencies = ["six"]\n')
    assert find_workspace(tmp_path / "layers/web") == tmp_path
    assert {row.split(":")[0] for row in listed(tmp_path)} == {"web"}
    # a glob that matches the root's project does not make it a layer either
    (tmp_path / "pyproject.toml").write_text(PROJECT + '[tool.layerctl]\nlayers = ["**/pyproject.toml"]\n')
    assert {row.split(":")[0] for row in listed(tmp_path)} == {"web"}


def test_a_name_in_a_root_that_is_no_layer_is_one_line(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text('[tool.layerctl]\nname = "x"\n')
    (tmp_path / "layers/web").mkdir(parents=True)
    (tmp_path / "layers/web/pyproject.toml").write_text('[project]\nname = "w"\ndependencies = []\n')
    result = invoke(["-C", str(tmp_path), "list"])
    assert result.exit_code == EXIT_USAGE
    assert "'name' is a layer's own setting, and this workspace root is no layer" in result.stderr
    with pytest.raises(ConfigError, match="unknown key 'name'"):  # a layerctl.toml is never a layer's
        (tmp_path / "layerctl.toml").write_text('name = "x"\n')
        (tmp_path / "pyproject.toml").write_text("")
        load_workspace(tmp_path)


def test_a_root_without_dependencies_or_layers_is_still_no_workspace(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text('[project]\nname = "x"\nversion = "1"\n')
    with pytest.raises(ConfigError, match="not inside a layerctl workspace"):
        find_workspace(tmp_path)
    (tmp_path / "pyproject.toml").write_text('[project]\nname = "x"\n[tool.layerctl]\n')
    result = invoke(["-C", str(tmp_path), "list"])
    assert result.exit_code == EXIT_USAGE and "matches no pyproject.toml" in result.stderr


@pytest.mark.parametrize("setting", ['report-dir = "build/lambda/layer"', 'output = "build"'])
def test_the_report_dir_and_the_outputs_do_not_overlap(tmp_path: Path, setting: str) -> None:
    (tmp_path / "pyproject.toml").write_text(PROJECT + f"\n[tool.layerctl]\n{setting}\n")
    for command in ("build-all", "clean"):
        result = invoke(["-C", str(tmp_path), command])
        assert result.exit_code == EXIT_USAGE, result.output
        assert "'report-dir' = " in result.stderr and "overlaps" in result.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["pyproject.toml"]  # nothing written


def _rendered(args: list[str]) -> str:
    result = invoke([*args, "--help"], env={"COLUMNS": "300"})
    assert result.exit_code == 0, result.output
    return re.sub(r"\s+", " ", re.sub(r"[│╭╮╰╯─]", " ", result.output))


def test_help_texts_show_what_they_say() -> None:
    """Before: "(see )" where the docstring says "(see [tool.layerctl.publish])": rich markup
    took the table's name for a tag."""
    root = typer.main.get_command(app)
    assert isinstance(root, typer.core.TyperGroup)
    context = typer.Context(root)
    made = {
        name: root.get_command(context, name) for name in root.list_commands(context)
    }  # full, not stand-ins
    commands = [([], root), *(([name], command) for name, command in made.items() if command is not None)]
    checked = 0
    for args, command in commands:
        shown = _rendered(args)
        for text in [command.help or "", *(getattr(p, "help", None) or "" for p in command.params)]:
            said = re.sub(r"\s+", " ", re.sub(r"\\(\[)", r"\1", text.split("\n\n")[0])).strip()
            assert said in shown, (args, said)
            checked += "[" in said
    assert checked >= 3  # publish, and build-all's and build's --publish
    assert "(see [tool.layerctl.publish])" in _rendered(["publish"])
