"""The engine pool's routing and failover, with stand-in engines (the real ones: the integration
test test_engines.py): native first, then an emulating engine with a free slot, else wait; a
step whose engine stops answering moves; none left for an arch is one line."""

from __future__ import annotations

from contextlib import AsyncExitStack
from typing import Any, cast

import anyio
import pytest

from orchestrator.building.executors import ExecutorSetup
from orchestrator.building.executors.endpoints import Endpoint
from orchestrator.building.executors.engine import DockerEngine
from orchestrator.building.executors.images import Images
from orchestrator.building.executors.pool import EngineDecl, EnginePool, Slot, _Member
from orchestrator.core.engine_settings import EngineSettings
from orchestrator.core.errors import BuildError, EnvironmentProblem
from orchestrator.core.runtimes import Arch

pytestmark = pytest.mark.anyio


class FakeDocker:
    def __init__(self) -> None:
        self.up = True

    async def version(self) -> dict[str, Any]:
        if not self.up:
            raise OSError("connection refused")
        return {"Version": "test"}


class FakeEngine:
    def __init__(self) -> None:
        self.docker = FakeDocker()
        self.warnings: list[str] = []


async def said(line: str) -> None:
    said.lines.append(line)  # type: ignore[attr-defined]


said.lines = []  # type: ignore[attr-defined]


def pool_of(stack: AsyncExitStack, **engines: tuple[Arch, int, tuple[Arch, ...] | None]) -> EnginePool:
    """A pool whose engines are stand-ins: name -> (native arch, capacity, emulates)."""
    decls = [
        EngineDecl(
            Endpoint(name), EngineSettings(url="unix:///x", capacity=cap, platforms=(arch,), emulates=emu)
        )
        for name, (arch, cap, emu) in engines.items()
    ]
    pool = EnginePool(decls, ExecutorSetup(progress=said), stack)

    async def connect() -> list[_Member]:
        pool._members = []
        for decl in decls:
            settings = decl.settings
            assert settings is not None and settings.platforms is not None
            engine, images = cast(DockerEngine, FakeEngine()), cast(Images, object())
            native = frozenset(settings.platforms)
            pool._members.append(_Member(decl, engine, images, native, settings.capacity))
        return pool._members

    pool._connect = connect  # type: ignore[method-assign]
    return pool


async def test_native_first_then_an_emulating_engine_with_a_free_slot_else_wait() -> None:
    async with AsyncExitStack() as stack:
        pool = pool_of(stack, x86=(Arch.X86_64, 1, None), arm=(Arch.ARM64, 1, ()))
        got: list[str] = []
        release = anyio.Event()

        async def hold(arch: Arch) -> None:
            async with pool.engine_for(arch) as slot:
                got.append(f"{arch}->{slot.name}{'' if slot.native else ' (emulated)'}")
                await release.wait()

        async with anyio.create_task_group() as group:
            group.start_soon(hold, Arch.ARM64)
            await anyio.sleep(0.02)
            group.start_soon(hold, Arch.ARM64)  # arm is full: x86 emulates it
            await anyio.sleep(0.02)
            group.start_soon(hold, Arch.X86_64)  # both full (arm emulates nothing): it waits
            await anyio.sleep(0.05)
            assert got == ["arm64->arm", "arm64->x86 (emulated)"]
            release.set()
        assert got[2] == "x86_64->x86"


async def test_a_step_whose_engine_stops_answering_moves_and_none_left_is_one_line() -> None:
    async with AsyncExitStack() as stack:
        pool = pool_of(stack, x86=(Arch.X86_64, 2, None), arm=(Arch.ARM64, 2, ()))
        ran: list[str] = []

        async def step(slot: Slot) -> str:
            ran.append(slot.name)
            if slot.name == "arm":
                slot.engine.docker.up = False  # type: ignore[attr-defined]
                raise BuildError("connection lost", transient=True)
            return slot.name

        assert await pool.on_engine(Arch.ARM64, step, label="t:arm64") == "x86"
        assert ran == ["arm", "x86"]
        assert any("engine arm stopped answering" in line and "t:arm64 moves" in line for line in said.lines)  # type: ignore[attr-defined]

        async def fails(slot: Slot) -> str:
            raise BuildError("pip failed (exit 1)")  # the step's own failure: the engine answers

        with pytest.raises(BuildError, match="pip failed"):
            await pool.on_engine(Arch.ARM64, fails, label="t:arm64")

        pool2 = pool_of(stack, arm=(Arch.ARM64, 1, ()), x86=(Arch.X86_64, 1, ()))

        async def loses(slot: Slot) -> str:
            slot.engine.docker.up = False  # type: ignore[attr-defined]
            raise BuildError("connection lost", transient=True)

        with pytest.raises(
            EnvironmentProblem,
            match=r"^no engine left that can build arm64 containers \(arm: engine arm stopped answering",
        ):
            await pool2.on_engine(Arch.ARM64, loses, label="t:arm64")
