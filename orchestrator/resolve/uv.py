"""uv projects: ``uv export`` of the locked set, without dev groups and without the project itself.

uv runs in the layer's directory with the layer's own configuration only (tools.py), so the lock
is checked against what ``uv lock`` there used, never against the caller's uv set-up.
"""

from __future__ import annotations

import subprocess

import anyio

from ..errors import ResolveError
from ..plan import Target
from ..tools import uv_bin, uv_error, uv_project_environment

__all__ = ["uv_requirements"]


async def uv_requirements(target: Target) -> str:
    argv = [
        uv_bin(),
        "export",
        "--locked",  # a lock that no longer matches pyproject.toml is an error, not a silent build
        "--no-dev",
        "--no-emit-project",
        "--no-editable",
        "--no-header",
        "--no-annotate",
        "--no-python-downloads",
        "--format",
        "requirements-txt",
        "--color",
        "never",
        "--project",
        str(target.layer.root),
    ]
    result = await anyio.run_process(
        argv, check=False, stderr=subprocess.PIPE, cwd=target.layer.root, env=uv_project_environment()
    )
    if result.returncode != 0:
        lines = tuple(result.stderr.decode("utf-8", "replace").strip().splitlines())
        lock = target.layer.root / "uv.lock"
        if "needs to be updated" in " ".join(lines):
            raise ResolveError(f"{lock}: out of date with pyproject.toml; run `uv lock` in {lock.parent}")
        last = next((line.strip() for line in reversed(lines) if line.strip()), "no output")
        error = uv_error(lines, fallback=last)
        if error.startswith("Failed to parse `uv.lock`"):  # `uv lock` cannot read it either
            raise ResolveError(
                f"{lock}: uv cannot read it: {error}; restore it from version control, "
                f"or delete it and run `uv lock` in {lock.parent}"
            )
        raise ResolveError(f"{lock}: uv export failed: {error}; run `uv lock` in {lock.parent}")
    return result.stdout.decode("utf-8")
