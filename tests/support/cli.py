"""Running the CLI in tests: in-process (typer's runner) or as a real process, optionally as an
unprivileged user (file modes mean nothing to root)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from typer.testing import CliRunner, Result

from orchestrator.cli.app import app

__all__ = ["NOBODY", "as_nobody", "invoke", "layerctl"]

NOBODY = 65534


def _runner() -> CliRunner:
    try:  # click < 8.2 mixes stderr into stdout unless told not to
        return CliRunner(mix_stderr=False)  # type: ignore[call-arg]
    except TypeError:
        return CliRunner()


def invoke(args: Sequence[str], env: Mapping[str, str | None] | None = None) -> Result:
    """The CLI in this process (``env``: a None value unsets the variable); exceptions stay
    inside (the CLI's own boundary handles them)."""
    return _runner().invoke(app, list(args), env=dict(env or {}), catch_exceptions=True)


def as_nobody() -> list[str] | None:
    """The argv prefix that runs a command as an unprivileged user, [] when we are one already,
    None when this machine cannot (then permission tests skip)."""
    if os.geteuid() != 0:
        return []
    setpriv = shutil.which("setpriv")
    if setpriv is None:
        return None
    prefix = [setpriv, f"--reuid={NOBODY}", f"--regid={NOBODY}", "--clear-groups"]
    probe = subprocess.run(
        [*prefix, sys.executable, "-c", "import orchestrator"], capture_output=True, cwd="/"
    )
    return prefix if probe.returncode == 0 else None


def layerctl(
    *args: str,
    cwd: Path,
    prefix: Sequence[str] = (),
    env: Mapping[str, str] | None = None,
    shell_redirect: str = "",
    timeout: float = 120,
    **popen: Any,
) -> subprocess.CompletedProcess[str]:
    """The real CLI in a process; ``shell_redirect`` (e.g. ``>/dev/full``, ``>&-``) is applied by
    a shell around it. The checkout is put on PYTHONPATH so any user can import it."""
    root = Path(__file__).resolve().parents[2]
    environment = {**os.environ, "PYTHONPATH": str(root), "NO_COLOR": "1", **(env or {})}
    argv = [*prefix, sys.executable, "-m", "orchestrator", *args]
    if shell_redirect:
        argv = ["sh", "-c", 'exec "$@" ' + shell_redirect, "sh", *argv]
    return subprocess.run(
        argv, cwd=cwd, env=environment, capture_output=True, text=True, timeout=timeout, check=False, **popen
    )
