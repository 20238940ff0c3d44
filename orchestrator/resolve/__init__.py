"""Lock file (or dependency list) -> the exact requirement set for one target.

Each tool has its own module; all return requirements.txt text that ``uv pip install`` (native)
or pip (in a container) installs as is. A tool's module is imported when a target of that tool
resolves (``requirements_for``): the check before a run reuses what its stamp recorded, so a
no-op run of a uv or pip workspace imports no reader of locks it does not read.
"""

from __future__ import annotations

from collections.abc import Mapping

import anyio

from ..core.tools import uv_environment
from ..plan.targets import Target
from ..workspace.discovery import Tool
from .pip import pin_requirements, pip_requirements

__all__ = ["requirements_for"]


async def requirements_for(target: Target, env: Mapping[str, str] | None = None) -> str:
    """The target's set, resolved afresh (``env``: uv's environment with the target's indexes,
    for a pip layer's pinning; the locks of the other tools are exported offline)."""
    if target.requirements is not None:
        return target.requirements  # found by the check before this run decided anything
    tool = target.layer.tool
    if tool is Tool.UV:
        from .uv import uv_requirements

        return await uv_requirements(target)
    if tool is Tool.POETRY:
        from .poetry import poetry_requirements

        return await anyio.to_thread.run_sync(poetry_requirements, target)  # reads, validates, hashes
    if tool is Tool.PYLOCK:
        from .pylock import pylock_requirements

        return await anyio.to_thread.run_sync(pylock_requirements, target)
    return await pin_requirements(target, pip_requirements(target), env or uv_environment())
