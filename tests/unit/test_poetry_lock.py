"""poetry.lock is checked before it is read: a stale lock (its content-hash is not that of
pyproject.toml) and a malformed one fail the layer's targets with one line, in the build and in
the ``auto`` builder decision alike."""

from __future__ import annotations

import re
import shutil
from collections.abc import Callable
from pathlib import Path

import anyio
import pytest

from orchestrator.building.decide import decide_builders
from orchestrator.core.errors import ResolveError
from orchestrator.plan.targets import Target, make_plan
from orchestrator.resolve.poetry import poetry_content_hash, poetry_requirements
from orchestrator.workspace.config import load_workspace, read_toml
from orchestrator.workspace.discovery import discover_layers
from tests.support.fixtures import EXAMPLE


@pytest.fixture
def data_layer(tmp_path: Path) -> Path:
    """A copy of the example's Poetry layer (its lock was made, and its hash set, by Poetry)."""
    root = tmp_path / "ws"
    (root / "layers").mkdir(parents=True)
    (root / "pyproject.toml").write_text('[tool.layerctl]\npython = ["3.12"]\narch = ["x86_64"]\n')
    shutil.copytree(EXAMPLE / "layers/data", root / "layers/data", ignore=shutil.ignore_patterns("build"))
    return root / "layers/data"


def target(layer: Path) -> Target:
    workspace = load_workspace(layer.parents[1])
    (only,) = make_plan(workspace, discover_layers(workspace)).targets
    return only


def resolve_error(layer: Path) -> str:
    with pytest.raises(ResolveError) as caught:
        poetry_requirements(target(layer))
    message = caught.value.message
    assert "\n" not in message and message.startswith(f"{layer / 'poetry.lock'}: ")
    assert message.endswith(f"`poetry lock` in {layer}") or f"`poetry lock` in {layer})" in message
    return message


def test_the_example_lock_is_fresh(data_layer: Path) -> None:
    recorded = read_toml(data_layer / "poetry.lock")["metadata"]["content-hash"]
    assert poetry_content_hash(read_toml(data_layer / "pyproject.toml")) == recorded
    assert "numpy==2.2.6" in poetry_requirements(target(data_layer))


@pytest.mark.parametrize(
    ("old", "new"),
    [
        ('"numpy>=2.0,<2.3",', '"numpy>=2.0,<2.4",'),  # a dependency's range
        ('"python-dateutil>=2.9",', '"python-dateutil>=2.9",\n    "six",'),  # a new dependency
        ('requires-python = ">=3.10"', 'requires-python = ">=3.11"'),
        ('pytest = ">=8"', 'pytest = ">=8"\nruff = "*"'),  # a group of [tool.poetry]
        ("[build-system]", '[dependency-groups]\nlint = ["ruff"]\n\n[build-system]'),
        ("package-mode = false", 'package-mode = false\n[tool.poetry.extras]\nfast = ["numpy"]'),
    ],
)
def test_a_stale_lock_is_refused(data_layer: Path, old: str, new: str) -> None:
    pyproject = data_layer / "pyproject.toml"
    assert old in pyproject.read_text()
    pyproject.write_text(pyproject.read_text().replace(old, new))
    message = resolve_error(data_layer)
    assert "out of date with pyproject.toml" in message


@pytest.mark.parametrize(
    ("old", "new"),
    [
        ('version = "0.1.0"', 'version = "0.2.0"'),
        ("description = ", 'readme = "README.md"\ndescription = '),
        ("[build-system]", '[tool.layerctl]\nexclude = ["*.pyi"]\n\n[build-system]'),
    ],
)
def test_edits_poetry_does_not_hash_keep_the_lock_fresh(data_layer: Path, old: str, new: str) -> None:
    pyproject = data_layer / "pyproject.toml"
    pyproject.write_text(pyproject.read_text().replace(old, new))
    assert "numpy==2.2.6" in poetry_requirements(target(data_layer))


def test_a_lock_of_poetry_before_2_3_may_leave_dependency_groups_out(data_layer: Path) -> None:
    pyproject = data_layer / "pyproject.toml"
    pyproject.write_text(pyproject.read_text() + '\n[dependency-groups]\nlint = ["ruff"]\n')
    without_groups = poetry_content_hash(read_toml(pyproject), with_dependency_groups=False)
    lock = data_layer / "poetry.lock"
    text = re.sub(r'content-hash = "\w+"', f'content-hash = "{without_groups}"', lock.read_text())
    lock.write_text(text.replace("by Poetry 2.5.1", "by Poetry 2.2.1"))
    assert "numpy==2.2.6" in poetry_requirements(target(data_layer))  # as Poetry 2.2 hashed it
    lock.write_text(text)  # Poetry 2.5 hashes the groups: the same hash is stale
    assert "out of date" in resolve_error(data_layer)


def test_a_lock_without_content_hash_is_stale(data_layer: Path) -> None:
    lock = data_layer / "poetry.lock"
    lock.write_text(re.sub(r'content-hash = "\w+"\n', "", lock.read_text()))
    assert "out of date" in resolve_error(data_layer)


def _edit_lock(text: str, case: str) -> str:
    first = text.index("[[package]]")
    numpy = text.index('name = "numpy"')
    edits: dict[str, Callable[[], str]] = {
        "empty": lambda: "",
        "not toml": lambda: text + "\n[[package]\n",
        "no metadata": lambda: text[: text.index("[metadata]")],
        "metadata not a table": lambda: 'metadata = "2.1"\n' + text[: text.index("[metadata]")],
        "bad lock-version": lambda: text.replace('lock-version = "2.1"', 'lock-version = "two"'),
        "lock-version a number": lambda: text.replace('lock-version = "2.1"', "lock-version = 2.1"),
        "future lock-version": lambda: text.replace('lock-version = "2.1"', 'lock-version = "3.0"'),
        "package without name": lambda: text[:first] + text[first:].replace('name = "colorama"\n', "", 1),
        "files not a list": lambda: text[:numpy] + re.sub(r"files = \[[^\]]*\]", 'files = "numpy.whl"', text[numpy:], count=1),
        "files of strings": lambda: text[:numpy] + re.sub(r"files = \[[^\]]*\]", 'files = ["numpy.whl"]', text[numpy:], count=1),
        "file without hash": lambda: text[:numpy] + re.sub(r", hash = \"sha256:\w+\"", "", text[numpy:], count=1),
        "groups not a list": lambda: text[:numpy] + text[numpy:].replace('groups = ["main"]', 'groups = "main"', 1),
        "package not a table": lambda: "package = [1]\n" + text[text.index("[metadata]") :],
        "bad marker": lambda: text[:numpy] + text[numpy:].replace('groups = ["main"]', 'groups = ["main"]\nmarkers = "python_version =="', 1),
        "no files": lambda: text[:numpy] + re.sub(r"files = \[[^\]]*\]", "files = []", text[numpy:], count=1),
        "empty hash": lambda: text[:numpy] + re.sub(r"hash = \"sha256:\w+\"", 'hash = ""', text[numpy:], count=1),
        "md5 hash": lambda: text[:numpy] + re.sub(r"hash = \"sha256:\w+\"", 'hash = "md5:abc"', text[numpy:], count=1),
        "version with spaces": lambda: text[:numpy] + re.sub(r'version = "[^"]+"', 'version = "2.2.6 --index-url x"', text[numpy:], count=1),
        "name with a newline": lambda: text.replace('name = "numpy"', 'name = "numpy\\nevil==1"', 1),
    }  # fmt: skip
    return edits[case]()


@pytest.mark.parametrize(
    ("case", "says"),
    [
        ("empty", "no [metadata] lock-version"),
        ("not toml", "not valid TOML"),
        ("no metadata", "no [metadata] lock-version"),
        ("metadata not a table", "no [metadata] lock-version"),
        ("bad lock-version", "lock-version 'two' is not a version"),
        ("lock-version a number", "lock-version 2.1 is not a version"),
        ("future lock-version", "lock-version 3.0 is newer than Poetry 2's format"),
        ("package without name", "[[package]] number 1 has no 'name'"),
        ("files not a list", "[[package]] 'numpy' files: input should be a valid tuple"),
        ("files of strings", "[[package]] 'numpy' files[0]: input should be a valid dictionary"),
        ("file without hash", "[[package]] 'numpy' has no 'files[0].hash'"),
        ("groups not a list", "[[package]] 'numpy' groups: input should be a valid tuple"),
        ("package not a table", "[[package]] number 1 is not a table"),
        ("bad marker", "[[package]] 'numpy': bad marker"),
        ("no files", "[[package]] 'numpy' lists no files (hashes); run `poetry lock`"),
        ("empty hash", "[[package]] 'numpy' files[0].hash"),
        ("md5 hash", "[[package]] 'numpy' files[0].hash"),
        ("version with spaces", "is not a version"),
        ("name with a newline", "name"),
    ],
)
def test_a_malformed_lock_is_one_line(data_layer: Path, case: str, says: str) -> None:
    lock = data_layer / "poetry.lock"
    lock.write_text(_edit_lock(lock.read_text(), case))
    message = resolve_error(data_layer)
    assert says in message and "\n" not in message


def test_the_auto_decision_reports_the_lock_problem(data_layer: Path) -> None:
    """`layerctl list` and the build's decision: the target is undecided, with the reason, and
    nothing escapes as a traceback."""
    lock = data_layer / "poetry.lock"
    lock.write_text(_edit_lock(lock.read_text(), "package without name"))
    (decided,) = anyio.run(decide_builders, [target(data_layer)])
    assert decided.builder_reason is not None
    assert decided.builder_reason.startswith("undecided: ")
    assert "[[package]] number 1 has no 'name'" in decided.builder_reason

    lock.write_text((EXAMPLE / "layers/data/poetry.lock").read_text())
    pyproject = data_layer / "pyproject.toml"
    pyproject.write_text(pyproject.read_text().replace("<2.3", "<2.4"))
    (decided,) = anyio.run(decide_builders, [target(data_layer)])
    assert decided.builder_reason is not None and "out of date with pyproject.toml" in decided.builder_reason
