"""Start-up costs nothing a command does not use: a stage is imported by the command that needs
it. Checked on the modules a real process has loaded when it ends, never on a time (speed is
measured by benchmarks/bench_noop.py)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from orchestrator import __version__
from orchestrator.__main__ import asks_version

# The stages no listing or version needs: containers, AWS, the ELF reader, building, publishing.
HEAVY = ("aiodocker", "boto3", "botocore", "elftools", "orchestrator.run.builds", "orchestrator.run.publish",
         "orchestrator.publish.aws", "orchestrator.publish.publisher", "orchestrator.building.pipeline", "orchestrator.package.audit",
         "orchestrator.run.clean", "orchestrator.run.verify", "orchestrator.report.html")  # fmt: skip
# Nothing beyond the interpreter and the command line's boundary prints the version.
NOT_FOR_THE_VERSION = ("typer", "click", "rich", "pydantic", "packaging", "anyio", "orchestrator.cli.app")

# Runs layerctl as `python -m orchestrator` does; writes the modules loaded when it exits.
PROBE = """
import atexit, json, pathlib, sys
out = pathlib.Path(sys.argv.pop(1))
atexit.register(lambda: out.write_text(json.dumps(sorted(sys.modules))))
sys.argv[0] = "layerctl"
from orchestrator.__main__ import main
main()
"""


def loaded(*args: str, cwd: Path) -> tuple[subprocess.CompletedProcess[str], set[str]]:
    """Run layerctl with ``args``; its result and the modules it had loaded."""
    root = Path(__file__).resolve().parents[2]
    out = cwd / ".modules.json"
    process = subprocess.run(
        [sys.executable, "-c", PROBE, str(out), *args],
        cwd=cwd, env={**os.environ, "PYTHONPATH": str(root), "NO_COLOR": "1"},
        capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    modules = set(json.loads(out.read_text())) if out.exists() else set()
    out.unlink(missing_ok=True)
    return process, modules


def _imported(modules: set[str], names: tuple[str, ...]) -> list[str]:
    return sorted(m for m in modules if any(m == n or m.startswith(f"{n}.") for n in names))


def test_the_version_imports_no_command_line_and_no_stage(tmp_path: Path) -> None:
    process, modules = loaded("--version", cwd=tmp_path)
    assert process.returncode == 0 and process.stdout == f"layerctl {__version__}\n", process.stderr
    assert modules, "the probe saw no modules"
    assert _imported(modules, HEAVY + NOT_FOR_THE_VERSION) == []


def test_list_imports_no_stage_it_does_not_use(make_workspace: Callable[..., Path]) -> None:
    root = make_workspace('builder = "native"')
    process, modules = loaded("-C", str(root), "list", "--no-decide", cwd=root)
    assert process.returncode == 0, process.stderr
    assert "orchestrator.run.explain" in modules  # it did list
    assert _imported(modules, HEAVY) == []


def test_the_root_help_makes_no_command(tmp_path: Path) -> None:
    """Listing the commands needs their names and help, not their settings (pydantic)."""
    process, modules = loaded("--help", cwd=tmp_path)
    assert process.returncode == 0 and "build-all" in process.stdout, process.stderr
    assert (
        _imported(modules, (*HEAVY, "pydantic", "orchestrator.cli.options", "orchestrator.core.settings"))
        == []
    )


def test_the_root_help_imports_no_markdown_parser_and_no_syntax_highlighter(tmp_path: Path) -> None:
    """typer's help module imports rich's markdown (markdown-it) and traceback (pygments); the
    root's help uses neither (its markup is rich's, exceptions are not typer's to print)."""
    process, modules = loaded("--help", cwd=tmp_path)
    assert process.returncode == 0 and "build-all" in process.stdout, process.stderr
    assert "typer.rich_utils" in modules  # the help typer draws, as before
    assert _imported(modules, ("markdown_it", "pygments", "rich.markdown", "rich.traceback")) == []


def test_a_stand_in_of_the_help_is_the_real_thing_when_used() -> None:
    """What the root's help keeps of rich's unused modules imports them when used after all."""
    from rich.markdown import Markdown
    from rich.traceback import Traceback

    from orchestrator.cli.lazycli import _stand_in

    assert isinstance(_stand_in("rich.markdown", "Markdown").Markdown("# a"), Markdown)
    try:
        raise ValueError("x")
    except ValueError as exc:
        made = _stand_in("rich.traceback", "Traceback").Traceback.from_exception(ValueError, exc, None)
    assert isinstance(made, Traceback)


@pytest.mark.parametrize(
    ("args", "asks"),
    [
        (["--version"], True),
        (["-C", "x", "--debug", "--version", "build-all"], True),
        (["--directory=x", "-Cy", "--no-debug", "--version"], True),
        (["--version", "--help"], True),  # the first eager option wins, as in click
        (["--help", "--version"], False),
        (["-C", "--version"], False),  # the directory is named "--version"
        (["-C"], False),
        (["build-all", "--version"], False),
        (["--bogus", "--version"], False),
        ([], False),
    ],
)
def test_the_version_fast_path_answers_only_what_the_command_line_would(args: list[str], asks: bool) -> None:
    assert asks_version(args) is asks


def test_pydantic_does_not_scan_the_installed_distributions_for_plugins(tmp_path: Path) -> None:
    """pydantic's plugin loader reads every installed distribution's entry points when the first
    model is built (tens of ms); layerctl uses no pydantic plugin and turns the loader off."""
    root = Path(__file__).resolve().parents[2]
    probe = PROBE.replace(
        "json.dumps(sorted(sys.modules))",
        "json.dumps(sys.modules['pydantic.plugin._loader']._plugins is None)",
    )
    env = {k: v for k, v in os.environ.items() if k != "PYDANTIC_DISABLE_PLUGINS"}
    process = subprocess.run(
        [sys.executable, "-c", probe, str(tmp_path / "scanned.json"), "list", "--help"],
        cwd=tmp_path, env={**env, "PYTHONPATH": str(root), "NO_COLOR": "1"},
        capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert process.returncode == 0, process.stderr
    assert json.loads((tmp_path / "scanned.json").read_text()) is True
