"""Requirement sets from poetry.lock (read directly) and from [project.dependencies]."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from orchestrator.core.errors import ConfigError, ResolveError
from orchestrator.plan.targets import Target, make_plan
from orchestrator.resolve.pip import pip_requirements
from orchestrator.resolve.poetry import poetry_content_hash, poetry_requirements
from orchestrator.workspace.config import load_workspace, read_toml
from orchestrator.workspace.discovery import discover_layers

LOCK = """
[[package]]
name = "numpy"
version = "2.2.6"
groups = ["main"]
files = [
    {file = "numpy-2.2.6.tar.gz", hash = "sha256:bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb"},
    {file = "numpy-2.2.6-cp312-cp312-manylinux_2_17_aarch64.whl", hash = "sha256:aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"},
]

[[package]]
name = "tomli"
version = "2.0.1"
groups = ["main", "dev"]
markers = {main = "python_version < \\"3.11\\"", dev = "python_version < \\"3.12\\""}
files = [{file = "any.whl", hash = "sha256:cccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccc"}]

[[package]]
name = "pytest"
version = "8.0.0"
groups = ["dev"]
files = [{file = "any.whl", hash = "sha256:cccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccc"}]

[[package]]
name = "uvloop"
version = "0.19.0"
groups = ["main"]
markers = "platform_machine == \\"aarch64\\""
files = [{file = "any.whl", hash = "sha256:cccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccc"}]

[[package]]
name = "local-lib"
version = "0.1.0"
groups = ["main"]
files = [{file = "any.whl", hash = "sha256:cccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccc"}]

[package.source]
type = "directory"
url = "../libs/local"

[metadata]
lock-version = "2.1"
python-versions = ">=3.10"
content-hash = "0"
"""


def targets(make_workspace: Callable[..., Path], lock: str = LOCK) -> dict[str, Target]:
    root = make_workspace('python = ["3.10", "3.12"]', {"d": ""})
    layer = root / "layers/d"
    fresh = poetry_content_hash(read_toml(layer / "pyproject.toml"))
    (layer / "poetry.lock").write_text(lock.replace('content-hash = "0"', f'content-hash = "{fresh}"'))
    workspace = load_workspace(root)
    return {t.id: t for t in make_plan(workspace, discover_layers(workspace)).targets}


def pins(text: str) -> set[str]:
    return {line.split(" ")[0] for line in text.splitlines() if line and line[0].isalpha()}


def test_main_group_with_markers_evaluated_per_target(make_workspace: Callable[..., Path]) -> None:
    by_id = targets(make_workspace)
    assert pins(poetry_requirements(by_id["d:py3.10-x86_64"])) == {
        "numpy==2.2.6",
        "tomli==2.0.1",
        "local-lib",
    }
    assert pins(poetry_requirements(by_id["d:py3.12-x86_64"])) == {"numpy==2.2.6", "local-lib"}
    assert "uvloop==0.19.0" in pins(poetry_requirements(by_id["d:py3.12-arm64"]))


def test_hashes_and_local_sources(make_workspace: Callable[..., Path]) -> None:
    text = poetry_requirements(targets(make_workspace)["d:py3.12-arm64"])
    assert (
        "numpy==2.2.6 \\\n    --hash=sha256:aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa \\\n    --hash=sha256:bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb\n"
        in text
    )
    assert "local-lib @ file://" in text and "\nuvloop==0.19.0 \\\n    --hash=sha256:" in text


def test_poetry1_lock_is_refused(make_workspace: Callable[..., Path]) -> None:
    by_id = targets(make_workspace, LOCK.replace('lock-version = "2.1"', 'lock-version = "2.0"'))
    with pytest.raises(ResolveError, match="lock-version 2.0 was written by Poetry 1"):
        poetry_requirements(by_id["d:py3.12-arm64"])


def test_pip_requirements_are_the_project_dependencies(make_workspace: Callable[..., Path]) -> None:
    layer = '[project]\nname = "a"\nversion = "1"\ndependencies = ["orjson>=3", "tomli; python_version<\'3.11\'"]\n'
    root = make_workspace("", {"a": layer})
    workspace = load_workspace(root)
    target = make_plan(workspace, discover_layers(workspace)).targets[0]
    assert pip_requirements(target).splitlines()[1:] == ["orjson>=3", "tomli; python_version<'3.11'"]


EXTRAS_LOCK = LOCK.replace(
    "[metadata]",
    """[[package]]
name = "idna"
version = "3.10"
optional = true
groups = ["main"]
markers = "extra == \\"fast\\""
files = [{file = "any.whl", hash = "sha256:cccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccc"}]

[[package]]
name = "attrs"
version = "25.1.0"
groups = ["tools"]
files = [{file = "any.whl", hash = "sha256:cccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccc"}]

[metadata]""",
)
CHOICES = """
[project.optional-dependencies]
fast = ["idna"]

[tool.poetry.group.tools.dependencies]
attrs = "*"

[tool.layerctl]
{choices}
"""


def chosen(make_workspace: Callable[..., Path], choices: str) -> Target:
    root = make_workspace('python = ["3.12"]\narch = ["x86_64"]', {"d": CHOICES.format(choices=choices)})
    layer = root / "layers/d"
    fresh = poetry_content_hash(read_toml(layer / "pyproject.toml"))
    (layer / "poetry.lock").write_text(EXTRAS_LOCK.replace('content-hash = "0"', f'content-hash = "{fresh}"'))
    workspace = load_workspace(root)
    (target,) = make_plan(workspace, discover_layers(workspace)).targets
    return target


def test_poetry_extras_and_groups_are_chosen_by_the_layer(make_workspace: Callable[..., Path]) -> None:
    assert pins(poetry_requirements(chosen(make_workspace, ""))) == {"numpy==2.2.6", "local-lib"}
    picked = pins(poetry_requirements(chosen(make_workspace, 'extras = ["fast"]\ngroups = ["tools"]')))
    assert picked == {"numpy==2.2.6", "local-lib", "idna==3.10", "attrs==25.1.0"}  # never pytest (dev)


def test_a_choice_the_project_lacks_is_one_line(make_workspace: Callable[..., Path]) -> None:
    target = chosen(make_workspace, 'groups = ["tools", "docs"]')
    pyproject = target.layer.pyproject
    with pytest.raises(ConfigError) as caught:
        poetry_requirements(target)
    assert str(caught.value) == (
        f"{pyproject}: groups names 'docs', which [dependency-groups] or [tool.poetry.group] does not "
        "define (it has: tools)"
    )


def test_pip_extras_groups_and_relative_file_urls(make_workspace: Callable[..., Path]) -> None:
    layer = """[project]
name = "a"
version = "1"
dependencies = ["six", "lib @ file:../../libs/lib"]
[project.optional-dependencies]
fast = ["idna"]
[dependency-groups]
base = ["attrs"]
aws = ["boto3", {include-group = "base"}]
[tool.layerctl]
extras = ["fast"]
groups = ["aws"]
"""
    root = make_workspace("", {"a": layer})
    workspace = load_workspace(root)
    target = make_plan(workspace, discover_layers(workspace)).targets[0]
    lib = (root / "libs/lib").resolve()
    assert pip_requirements(target).splitlines()[1:] == [
        "six",
        f"lib @ {lib.as_uri()}",
        "idna",
        "boto3",
        "attrs",
    ]
