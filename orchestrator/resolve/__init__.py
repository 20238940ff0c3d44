"""Lock file (or dependency list) -> the exact requirement set for one target.

Each tool has its own module; all return requirements.txt text that ``uv pip install`` (native)
or pip (in a container) installs as is.
"""

from __future__ import annotations

import anyio

from ..discovery import Tool
from ..plan import Target
from .pip import pip_requirements
from .poetry import poetry_requirements
from .uv import uv_requirements

__all__ = ["requirements_for"]


async def requirements_for(target: Target) -> str:
    tool = target.layer.tool
    if tool is Tool.UV:
        return await uv_requirements(target)
    if tool is Tool.POETRY:
        return await anyio.to_thread.run_sync(poetry_requirements, target)  # reads, validates, hashes
    return pip_requirements(target)
