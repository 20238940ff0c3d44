"""One input key on the real example (examples/monorepo), built once: what its builds do not use
(verify-image, an image for targets that build natively, run settings, the log format, the
checkout's place) leaves every target up to date, for `list` and for `build-all`; what changes
a zip rebuilds exactly the targets it changes, with the reason."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest

from .conftest import layerctl

pytestmark = pytest.mark.integration

UNUSED = """\
verify-image = "example.org/verify:{python}-{arch}"
image = "example.org/build:{python}-{arch}"
jobs = 2
retries = 1
timeout = 900
report-dir = "elsewhere/report"
"""


def _listed(root: Path) -> dict[str, tuple[str, str | None]]:
    result = layerctl("-C", str(root), "list", "--format", "json")
    assert result.returncode == 0, result.stderr
    return {row["id"]: (row["state"], row["reason"]) for row in json.loads(result.stdout)}


def _built(root: Path, *args: str) -> dict[str, str]:
    result = layerctl("-C", str(root), "build-all", *args)
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr
    report = json.loads((root / "elsewhere/report/report.json").read_text())
    assert all(Path(row["zip_path"]).is_relative_to(root) for row in report["targets"]), report
    return {row["id"]: row["status"] for row in report["targets"]}


def test_one_key_on_the_example(
    built_example: tuple[Path, subprocess.CompletedProcess[str]], tmp_path: Path
) -> None:
    first, result = built_example
    assert result.returncode == 0, result.stdout[-4000:]
    root = tmp_path / "another" / "checkout"  # the built workspace, copied elsewhere
    shutil.copytree(first, root, symlinks=True)
    workspace = root / "pyproject.toml"
    workspace.write_text(workspace.read_text() + UNUSED)

    listed = _listed(root)
    assert len(listed) == 12 and set(listed.values()) == {("up-to-date", None)}, listed
    built = _built(root, "--log-format", "json", "--retries", "2", "--timeout", "600", "--jobs", "3")
    assert len(built) == 12 and set(built.values()) == {"up-to-date"}, built

    utils = root / "layers/utils/pyproject.toml"
    utils.write_text(utils.read_text() + 'exclude = ["yaml/*.py"]\ncompression-level = 9\n')
    listed = _listed(root)
    assert {t: s for t, s in listed.items() if s[0] == "will-build"} == {
        t: ("will-build", "settings changed: compression-level, exclude")
        for t in listed
        if t.startswith("utils:")
    }
    built = _built(root, "--log-format", "plain")
    assert {t for t, s in built.items() if s == "built"} == {t for t in built if t.startswith("utils:")}
    assert {s for t, s in built.items() if not t.startswith("utils:")} == {"up-to-date"}
