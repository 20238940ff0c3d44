"""The Docker engines of a run, as one pool of container slots (``[tool.layerctl.engines]``;
without the table, the one default engine). A container step asks for an engine by the
architecture it builds:

    async with pool.engine_for(arch) as slot:       # slot.engine, slot.images, slot.name
        ...

and gets one that runs ``arch`` natively when one has a free slot, else one that emulates it,
else waits for a slot. ``on_engine(arch, step)`` runs a step that way and moves it to another
engine when its engine stops answering: the step fails over, the engine is left out for the rest
of the run, and a run fails only when no engine is left for an architecture. Each engine is
connected, and asked its architecture and CPUs (``/info``), when the first step needs the pool;
each keeps its own image checks (``Images``: once per image per engine)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass, field
from typing import TypeVar, cast

import anyio

from ...core.engine_settings import EngineSettings
from ...core.errors import EnvironmentProblem, LayerctlError
from ...core.once import Once
from ...core.runtimes import Arch
from . import ExecutorSetup
from .endpoints import DEFAULT, Endpoint, endpoint_of
from .engine import DockerEngine, short
from .images import Images, Pull

__all__ = ["EngineDecl", "EnginePool", "Slot", "run_pool"]

T = TypeVar("T")
_ANSWER_S = 10.0  # how long an engine has to answer after a failed step before it counts as lost


_RUN_POOLS: dict[int, EnginePool] = {}  # by the run's ExecutorSetup: one pool per run


def run_pool(setup: ExecutorSetup, stack: AsyncExitStack) -> EnginePool:
    """The run's pool, one however many builders ask (container steps, a hybrid's compile
    steps): the first to ask makes it in its ``stack``, whose end closes its engines (the
    executors close in the reverse order they opened, so the first closes last)."""
    pool = _RUN_POOLS.get(id(setup))
    if pool is None:
        decls = [EngineDecl(endpoint_of(n, s), s) for n, s in setup.engines]
        pool = _RUN_POOLS[id(setup)] = EnginePool(decls or [EngineDecl(Endpoint(DEFAULT))], setup, stack)
        stack.callback(_RUN_POOLS.pop, id(setup), None)
    return pool


@dataclass(frozen=True)
class EngineDecl:
    """An engine as declared: where it is and what the table says of it."""

    endpoint: Endpoint
    settings: EngineSettings | None = None  # None: the default engine of a run without the table

    @property
    def name(self) -> str:
        return self.endpoint.name


@dataclass(eq=False)
class _Member:
    decl: EngineDecl
    engine: DockerEngine | None = None
    images: Images | None = None
    native: frozenset[Arch] = frozenset()
    capacity: int | None = None  # None: as many as the run's --jobs
    busy: int = 0
    down: str | None = None  # why it is out of the run
    done: int = 0  # steps it finished

    def can(self, arch: Arch) -> bool:
        emulates = self.decl.settings.emulates if self.decl.settings else None
        return self.down is None and (arch in self.native or emulates is None or arch in emulates)

    def free(self) -> bool:
        return self.capacity is None or self.busy < self.capacity


@dataclass(frozen=True)
class Slot:
    """One engine, held for one container step."""

    name: str
    engine: DockerEngine
    images: Images
    native: bool  # the engine runs the step's architecture natively (else under emulation)


@dataclass(eq=False)
class EnginePool:
    """The run's engines (see the module's words)."""

    decls: Sequence[EngineDecl]
    setup: ExecutorSetup
    stack: AsyncExitStack
    _members: list[_Member] = field(default_factory=list)
    _ready: Once[list[_Member]] = field(default_factory=Once)
    _changed: anyio.Event = field(default_factory=anyio.Event)

    @property
    def names(self) -> list[str]:
        return [d.name for d in self.decls]

    async def connect(self) -> None:
        """Connect the engines now (else the first step does); none reachable: EnvironmentProblem."""
        await self._ready.get("pool", self._connect)

    def warnings(self) -> list[str]:
        return [w for m in self._members if m.engine for w in m.engine.warnings]

    @asynccontextmanager
    async def engine_for(self, arch: Arch) -> AsyncIterator[Slot]:
        """An engine for one step of ``arch``, held until the block ends (see the module's words)."""
        members = await self._ready.get("pool", self._connect)
        while True:
            able = [m for m in members if m.can(arch)]
            if not able:
                raise self._none_left(arch)
            free = [m for m in able if m.free()]
            native = [m for m in free if arch in m.native]
            if native or free:
                member = min(native or free, key=lambda m: (m.busy / (m.capacity or 1_000_000), m.done))
                break
            changed = self._changed
            await changed.wait()
        member.busy += 1
        try:
            assert member.engine is not None and member.images is not None
            yield Slot(member.decl.name, member.engine, member.images, arch in member.native)
        finally:
            member.busy -= 1
            self._wake()

    async def on_engine(self, arch: Arch, step: Callable[[Slot], Awaitable[T]], *, label: str) -> T:
        """Run ``step`` on an engine for ``arch``; when it fails and its engine no longer answers,
        the engine leaves the run and the step runs again on another one (``label`` names it)."""
        while True:
            async with self.engine_for(arch) as slot:
                try:
                    result = await step(slot)
                except LayerctlError as exc:
                    if not await self._lost(self._member(slot.engine), exc):
                        raise
                    await self.setup.progress(
                        f"engine {slot.name} stopped answering ({short(exc)}); {label} moves to another engine"
                    )
                    continue
                self._member(slot.engine).done += 1
                return result

    async def on_preferred(self, arch: Arch, step: Callable[[Images], Awaitable[T]]) -> T:
        """Run ``step`` (what must be known before a step: its image checked, its id in the
        target's key) with the image checks of the engine a step of ``arch`` would go to first,
        taking no slot; moved to another engine as ``on_engine`` moves a step."""
        while True:
            members = await self._ready.get("pool", self._connect)
            able = [m for m in members if m.can(arch)]
            if not able:
                raise self._none_left(arch)
            member = min(able, key=lambda m: arch not in m.native)
            try:
                return await step(cast(Images, member.images))
            except LayerctlError as exc:
                if not await self._lost(member, exc):
                    raise

    def _member(self, engine: DockerEngine) -> _Member:
        return next(m for m in self._members if m.engine is engine)

    def _wake(self) -> None:
        self._changed.set()
        self._changed = anyio.Event()

    def _none_left(self, arch: Arch) -> EnvironmentProblem:
        if len(self._members) == 1 and self._members[0].down:
            return EnvironmentProblem(self._members[0].down)
        why = "; ".join(f"{m.decl.name}: {m.down or 'does not run ' + str(arch)}" for m in self._members)
        return EnvironmentProblem(f"no engine left that can build {arch} containers ({why})")

    async def _lost(self, member: _Member, exc: LayerctlError) -> bool:
        """Whether the engine of a failed step is gone. A transient failure (a lost connection,
        a container killed by its engine: an engine shutting down kills its containers first and
        stops answering after) waits up to ``_ANSWER_S`` for the engine to stop answering; any
        other failure is the step's own when the engine answers once."""
        if member.down is not None:
            return True
        assert member.engine is not None
        docker = member.engine.docker
        deadline = anyio.current_time() + (_ANSWER_S if exc.transient else 0)
        while True:
            try:
                with anyio.fail_after(_ANSWER_S):
                    await docker.version()
            except Exception:
                break  # it stopped answering
            if anyio.current_time() >= deadline:
                return False
            await anyio.sleep(0.5)
        member.down = f"engine {member.decl.name} stopped answering ({short(exc)})"
        self._wake()
        return True

    async def _connect(self) -> list[_Member]:
        """Connect every engine at once; one that cannot be reached is out of the run, said once."""
        self._members = [_Member(d) for d in self.decls]
        async with anyio.create_task_group() as group:
            for member in self._members:
                group.start_soon(self._open, member)
        up = [m for m in self._members if m.down is None]
        if not up:
            raise EnvironmentProblem(
                str(self._members[0].down)
                if len(self._members) == 1
                else "no engine reachable: " + "; ".join(str(m.down) for m in self._members)
            )
        for member in self._members:
            if member.down is not None:
                await self.setup.progress(f"warning: {member.down}; building on the others")
        return self._members

    async def _open(self, member: _Member) -> None:
        setup, decl = self.setup, member.decl
        try:
            engine = await self.stack.enter_async_context(
                DockerEngine(
                    keep_containers=setup.keep_containers,
                    masker=setup.masker,
                    workspace=setup.workspace,
                    endpoint=decl.endpoint,
                )
            )
            member.native, ncpu = await engine_arches(engine, decl.settings)
        except LayerctlError as exc:
            member.down = str(exc)
            return
        member.engine = engine
        if decl.settings is not None:
            member.capacity = decl.settings.capacity or ncpu
        member.images = Images(
            engine, pull=cast(Pull, setup.pull), pull_retries=setup.retries, progress=setup.progress
        )


async def engine_arches(engine: DockerEngine, settings: EngineSettings | None) -> tuple[frozenset[Arch], int]:
    """The architectures an engine runs natively (declared, else its ``/info``) and its CPUs."""
    try:
        with anyio.fail_after(30):
            info = await engine.docker.system.info()
    except Exception as exc:
        raise EnvironmentProblem(f"engine {engine.name}: /info failed ({short(exc)})") from None
    own = Arch.from_name(str(info.get("Architecture", "")))
    declared = settings.platforms if settings else None
    native = frozenset(declared) if declared else frozenset({own} if own else ())
    return native, max(1, int(info.get("NCPU") or 1))
