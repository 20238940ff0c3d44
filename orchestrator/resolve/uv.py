"""uv projects: ``uv export`` of the locked set, without dev groups and without the project itself.

uv runs in the layer's directory with the layer's own configuration only (tools.py), so the lock
is checked against what ``uv lock`` there used, never against the caller's uv set-up.

A member of a uv workspace (``uv_workspace.py``) is exported from the workspace's lock with
``--package <member>``: its requirement set is its own resolved set alone, so a change to the lock
elsewhere in the workspace changes nothing here. In-repo path dependencies come out as paths
relative to the lock's directory; they are made absolute here (``local.py`` builds them).
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import anyio

from ..core.errors import ResolveError
from ..core.tools import uv_argv, uv_error, uv_project_environment
from ..plan.targets import Target
from ..workspace.uv_workspace import find_uv_workspace
from .choices import check_choices
from .reqset import RequirementSet

__all__ = ["uv_requirements"]


async def uv_requirements(target: Target) -> str:
    await anyio.to_thread.run_sync(check_choices, target)
    layer = target.layer
    workspace = await anyio.to_thread.run_sync(find_uv_workspace, layer.root)
    lock = workspace.lock if workspace else layer.root / "uv.lock"
    package = ["--package", workspace.member] if workspace else []
    choices = [arg for group in target.settings.groups for arg in ("--group", group)]
    choices += [arg for extra in target.settings.extras for arg in ("--extra", extra)]
    argv = [
        *uv_argv("export", project_config=True),  # the layer's own configuration, as `uv lock` used
        "--locked",  # a lock that no longer matches pyproject.toml is an error, not a silent build
        "--no-default-groups",  # no dev groups: only those the layer names in `groups`
        *choices,
        *package,
        "--no-emit-project",  # the layer's own code only with include-project (local.py builds it)
        "--no-editable",
        "--no-header",
        "--no-annotate",
        "--format",
        "requirements-txt",
        "--project",
        str(layer.root),
    ]
    result = await anyio.run_process(
        argv, check=False, stderr=subprocess.PIPE, cwd=layer.root, env=uv_project_environment()
    )
    if result.returncode != 0:
        lines = tuple(result.stderr.decode("utf-8", "replace").strip().splitlines())
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
    return absolute_paths(result.stdout.decode("utf-8"), lock.parent)


def absolute_paths(requirements: str, base: Path) -> str:
    """Path lines (``./libs/x``, ``-e ../x``) made absolute: uv writes them relative to the
    lock's directory, and the requirement set is installed from elsewhere."""
    return RequirementSet.parse(requirements).absolute_paths(base).text
