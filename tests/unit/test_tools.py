"""Locating and asking the external tools: ``--version`` is asked without blocking the event loop."""

from __future__ import annotations

import time
from pathlib import Path

import anyio
import pytest

from orchestrator.core import tools
from orchestrator.core.tools import tool_version


def fake_tool(tmp_path: Path, seconds: float) -> tuple[str, Path]:
    """A tool that takes ``seconds`` to print its version and counts how often it is asked."""
    calls = tmp_path / "calls"
    tool = tmp_path / "slowtool"
    tool.write_text(f"#!/bin/sh\necho asked >> '{calls}'\nsleep {seconds}\necho 'slowtool 1.2.3'\n")
    tool.chmod(0o755)
    return str(tool), calls


def test_tool_version_leaves_the_event_loop_running(tmp_path: Path) -> None:
    tool, calls = fake_tool(tmp_path, 0.5)
    ticks: list[float] = []

    async def main() -> list[str]:
        versions: list[str] = []

        async def ticker() -> None:
            while True:
                ticks.append(anyio.current_time())
                await anyio.sleep(0.02)

        async def ask() -> None:
            versions.append(await tool_version(tool))

        async with anyio.create_task_group() as tg:
            tg.start_soon(ticker)
            async with anyio.create_task_group() as askers:  # three targets asking at once
                for _ in range(3):
                    askers.start_soon(ask)
            versions.append(await tool_version(tool))  # and one later: cached
            tg.cancel_scope.cancel()
        return versions

    assert anyio.run(main) == ["slowtool 1.2.3"] * 4
    assert len(ticks) >= 10  # the loop kept ticking while the tool took its half second
    assert calls.read_text().splitlines() == ["asked"]  # asked once per binary


def test_a_tool_that_does_not_answer_is_unknown(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    tool = tmp_path / "stuck"
    tool.write_text("#!/bin/sh\nexec sleep 30\n")
    tool.chmod(0o755)
    monkeypatch.setattr(tools, "_TIMEOUT_S", 0.2)
    started = time.monotonic()
    assert anyio.run(tool_version, str(tool)) == "unknown"
    assert time.monotonic() - started < 10  # the tool was stopped, not waited for
    assert anyio.run(tool_version, str(tmp_path / "absent")) == "unknown"


def test_layerctls_own_uv_is_found_and_named_once_per_process(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every target's freshness asks for the uv identity: finding the binary and reading the
    distribution's metadata once, not once per target (a no-op run of 200 targets)."""
    import importlib.metadata

    asked: list[str] = []
    real = importlib.metadata.version

    def version(name: str) -> str:
        asked.append(name)
        return real(name)

    monkeypatch.setattr(importlib.metadata, "version", version)
    tools._own_uv.cache_clear()
    try:
        names = [anyio.run(tools.uv_identity) for _ in range(5)]
    finally:
        tools._own_uv.cache_clear()
    assert len(set(names)) == 1 and names[0].startswith("uv ")
    assert asked == ["uv"]
