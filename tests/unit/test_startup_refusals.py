"""A run refused at start-up writes nothing: every check that can refuse runs before the first
directory is created or marked and before any lock file is made. Each case snapshots the whole
tree (the workspace and the HOME the default cache would go to) before and after the command."""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path

import pytest

from orchestrator.core.errors import EXIT_PUBLISH, EXIT_USAGE
from orchestrator.core.outputs import MARKER
from orchestrator.core.runlock import LOCK_NAME
from tests.support.cli import invoke

LAYER = '[tool.layerctl]\npython = ["3.12"]\narch = ["x86_64"]\n'
OUT = Path("layers/a/build/lambda/layer")
# No AWS configuration at all: no region, no credentials (and no instance metadata to ask).
NO_AWS = {
    "AWS_CONFIG_FILE": os.devnull,
    "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
    "AWS_EC2_METADATA_DISABLED": "true",
}


@pytest.fixture(autouse=True)
def _no_aws_variables(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in [n for n in os.environ if n.startswith("AWS_")]:
        monkeypatch.delenv(name)


def snapshot(root: Path) -> dict[str, tuple[object, ...]]:
    """Every entry under ``root``: kind, mode and content (a link's target), and each
    directory's mtime (an entry made and removed again changes it)."""
    found: dict[str, tuple[object, ...]] = {}
    for dirpath, dirnames, filenames in os.walk(root):
        for name in [*dirnames, *filenames, "."]:
            path = Path(dirpath) / name
            st = path.lstat()
            key = str(path.relative_to(root))
            if path.is_symlink():
                found[key] = ("link", os.readlink(path))
            elif path.is_dir():
                found[key] = ("dir", st.st_mode, st.st_mtime_ns)
            else:
                found[key] = ("file", st.st_mode, path.read_bytes())
    return found


def _marked_output(root: Path) -> None:
    """The output directory as an earlier run left it: layerctl's (marked)."""
    (root / OUT).mkdir(parents=True)
    (root / OUT / MARKER).write_text("Made by layerctl.\n")


def _target_dir_is_a_link(root: Path) -> None:
    _marked_output(root)
    (root / "elsewhere").mkdir()
    (root / OUT / "py3.12-x86_64").symlink_to(root / "elsewhere")


def _lock_is_a_directory(root: Path) -> None:
    _marked_output(root)
    (root / OUT / LOCK_NAME).mkdir()


@dataclass(frozen=True)
class Case:
    workspace: str = ""  # the root's [tool.layerctl] body
    layer: str = ""  # added to layer a's [tool.layerctl]
    files: dict[str, str] = field(default_factory=dict)
    setup: Callable[[Path], None] | None = None
    env: dict[str, str] = field(default_factory=dict)
    args: tuple[str, ...] = ()
    code: int = EXIT_USAGE
    says: str = ""


AWS = {**NO_AWS, "AWS_DEFAULT_REGION": "eu-west-1", "AWS_ACCESS_KEY_ID": "AKIDEXAMPLE"}
AWS["AWS_SECRET_ACCESS_KEY"] = "not-a-secret-at-all"
USER_REPORT_DIR = Case('report-dir = "docs"\n', files={"docs/index.md": "mine\n"}, says="did not make")
NO_REGION = Case(env=NO_AWS, says="no region")
NO_CREDENTIALS = Case(
    env={**NO_AWS, "AWS_DEFAULT_REGION": "eu-west-1"}, code=EXIT_PUBLISH, says="no AWS credentials"
)
BUILD_CASES = {
    "bad SOURCE_DATE_EPOCH": Case(env={"SOURCE_DATE_EPOCH": "yesterday"}, says="SOURCE_DATE_EPOCH"),
    "SOURCE_DATE_EPOCH past 2107": Case(env={"SOURCE_DATE_EPOCH": "9999999999"}, says="2107"),
    "bad CA bundle": Case('ca-bundle = "certs/missing.pem"\n', says="ca-bundle"),
    "password without an index URL": Case(env={"LAYERCTL_INDEX_PASSWORD": "s3cret-pw"}, says="no index-url"),
    "cache-dir is the workspace": Case('cache-dir = "."\n', says="cache-dir"),
    "cache-dir inside a layer": Case('cache-dir = "layers/a/cache"\n', says="overlaps"),
    "cache-dir holds a user's files": Case('cache-dir = "mine"\n', files={"mine/notes.txt": "mine\n"}, says="did not make"),
    "output holds a user's files": Case(layer='output = "dist"\n', files={"layers/a/dist/notes.txt": "mine\n"}, says="did not make"),
    "report-dir holds a user's files": USER_REPORT_DIR,
    "a target directory is a link": Case(setup=_target_dir_is_a_link, says="symlink"),
    "the run lock is a directory": Case(setup=_lock_is_a_directory, says="run lock"),
    "publish without a region": replace(NO_REGION, args=("--publish",)),
    "publish without credentials": replace(NO_CREDENTIALS, args=("--publish",)),
}  # fmt: skip
PUBLISH_CASES = {
    "report-dir holds a user's files": replace(USER_REPORT_DIR, env=AWS),
    "the run lock is a directory": Case(setup=_lock_is_a_directory, env=AWS, says="run lock"),
    "no region": NO_REGION,
    "no credentials": NO_CREDENTIALS,
}


def _refused(make_workspace: Callable[..., Path], tmp_path: Path, command: str, case: Case) -> None:
    root = make_workspace(case.workspace, {"a": LAYER + case.layer})
    for rel, text in case.files.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text(text)
    if case.setup is not None:
        case.setup(root)
    (tmp_path / "home").mkdir()  # where the default cache-dir would go
    before = snapshot(tmp_path)

    env = {"HOME": str(tmp_path / "home"), **case.env}
    result = invoke(["-C", str(root), command, *case.args, "--log-format", "plain"], env=env)

    assert result.exit_code == case.code, result.stdout + result.stderr
    assert case.says in result.stderr and "Traceback" not in result.stderr
    assert snapshot(tmp_path) == before


@pytest.mark.parametrize("case", BUILD_CASES)
def test_a_refused_build_writes_nothing(
    case: str, make_workspace: Callable[..., Path], tmp_path: Path
) -> None:
    _refused(make_workspace, tmp_path, "build-all", BUILD_CASES[case])


@pytest.mark.parametrize("case", PUBLISH_CASES)
def test_a_refused_publish_writes_nothing(
    case: str, make_workspace: Callable[..., Path], tmp_path: Path
) -> None:
    _refused(make_workspace, tmp_path, "publish", PUBLISH_CASES[case])
