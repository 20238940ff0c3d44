"""The engines of a run (``[tool.layerctl.engines]``, ``--engine``) and ``layerctl engines``: each
engine checked (reachable, version, native and emulated architectures, the workspace's build
images present), one row each, an unreachable engine a row saying so; ``clean --containers``
on every engine."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

import anyio

from ..core.engine_settings import EngineSettings
from ..core.errors import EXIT_ENVIRONMENT, EXIT_OK, ConfigError, LayerctlError
from ..core.runtimes import Arch
from ..plan.targets import Plan

__all__ = [
    "EngineRow",
    "check_engines",
    "clean_containers",
    "engines_command",
    "remove_leftover_containers",
    "selected_engines",
    "show_engines",
]


def selected_engines(
    engines: Mapping[str, EngineSettings], only: Sequence[str]
) -> tuple[tuple[str, EngineSettings], ...]:
    """The table's engines a run uses: those ``--engine`` names, else all (none: the default)."""
    for name in only:
        if name not in engines:
            known = ", ".join(engines) or "none: there is no [tool.layerctl.engines] table"
            raise ConfigError(f"--engine {name}: no such engine in [tool.layerctl.engines] (known: {known})")
    return tuple((n, s) for n, s in engines.items() if not only or n in only)


def check_endpoints(engines: Iterable[tuple[str, EngineSettings]]) -> None:
    """Every engine's address resolves (a context that exists, readable): before the run starts."""
    from ..building.executors.endpoints import endpoint_of

    for name, settings in engines:
        endpoint_of(name, settings)


@dataclass
class EngineRow:
    name: str
    where: str
    reachable: bool
    version: str | None = None
    native: list[str] = field(default_factory=list)
    emulated: list[str] = field(default_factory=list)
    capacity: int | None = None
    images: list[str] = field(default_factory=list)  # the workspace's build images it has
    missing: list[str] = field(default_factory=list)  # ... and those it lacks
    error: str | None = None


async def check_engines(plan: Plan) -> list[EngineRow]:
    """One row per engine (the default one without the table), checked at once."""
    from ..building.executors.endpoints import DEFAULT, Endpoint, endpoint_of
    from ..building.executors.pool import EngineDecl

    chosen = selected_engines(plan.workspace.engines, plan.options.engine)
    checks: list[tuple[EngineDecl, EngineRow]] = []
    rows: list[EngineRow] = []
    for name, settings in chosen:
        try:
            decl = EngineDecl(endpoint_of(name, settings), settings)
        except ConfigError as exc:  # a context that is not there, ssh:// without asyncssh: a row
            where = settings.url or f"context {settings.context}"
            rows.append(EngineRow(name, where, False, error=exc.message))
            continue
        rows.append(EngineRow(decl.name, decl.endpoint.where, False))
        checks.append((decl, rows[-1]))
    if not chosen:
        decl = EngineDecl(Endpoint(DEFAULT))
        rows.append(EngineRow(decl.name, decl.endpoint.where, False))
        checks.append((decl, rows[-1]))
    images = sorted({(t.build_image, t.arch) for t in plan.targets if not t.problem})
    async with anyio.create_task_group() as group:
        for decl, row in checks:
            group.start_soon(_check, decl, row, images)
    return rows


async def _check(decl: object, row: EngineRow, images: list[tuple[str, Arch]]) -> None:
    from ..building.executors.engine import DockerEngine
    from ..building.executors.pool import EngineDecl, engine_arches

    assert isinstance(decl, EngineDecl)
    try:
        async with DockerEngine(endpoint=decl.endpoint) as engine:
            row.reachable, row.version = True, engine.version
            native, ncpu = await engine_arches(engine, decl.settings)
            row.native = sorted(str(a) for a in native)
            row.capacity = (decl.settings.capacity if decl.settings else None) or ncpu
            present: dict[tuple[str, Arch], bool] = {}
            for image, arch in images:
                present[(image, arch)] = await _has_image(engine, image, arch)
            row.images = sorted({i for (i, _), ok in present.items() if ok})
            row.missing = sorted({i for (i, _), ok in present.items() if not ok})
            declared = decl.settings.emulates if decl.settings else None
            for arch in (a for a in Arch if a not in native):
                if declared is not None:
                    row.emulated += [str(arch)] if arch in declared else []
                    continue
                found = next((i for (i, a), ok in present.items() if ok and a is arch), None)
                if found is None:
                    row.emulated.append(f"{arch}?")  # no image of it here to try
                elif await _runs(engine, found, arch):
                    row.emulated.append(str(arch))
    except LayerctlError as exc:
        row.error = str(exc)


async def _has_image(engine: object, image: str, arch: Arch) -> bool:
    import aiodocker

    from ..building.executors.engine import DockerEngine

    assert isinstance(engine, DockerEngine)
    try:
        info = await engine.docker.images.inspect(image)
    except aiodocker.DockerError:
        return False
    return bool(info.get("Architecture") == arch.docker_arch)


async def _runs(engine: object, image: str, arch: Arch) -> bool:
    """Whether a container of ``arch`` starts on the engine (``uname -m``: nothing heavy)."""
    from ..building.executors.engine import DockerEngine

    assert isinstance(engine, DockerEngine)
    seen: list[str] = []

    async def sink(line: str) -> None:
        seen.append(line.strip())

    config = {"Image": image, "Entrypoint": ["/bin/sh", "-c"], "Cmd": ["uname -m"], "NetworkDisabled": True}
    try:
        with anyio.fail_after(60):
            code = await engine.run(config, arch, f"engines-{arch}", sink)
    except (LayerctlError, TimeoutError):
        return False
    return code == 0 and arch.machine in seen


def show_engines(rows: Sequence[EngineRow], fmt: str, say: Callable[[str], None]) -> None:
    if fmt == "json":
        say(json.dumps([asdict(r) for r in rows], indent=2))
        return
    say(f"{'ENGINE':<12} {'REACHABLE':<9} {'VERSION':<16} {'NATIVE':<14} {'EMULATED':<14} {'CAP':>3}  IMAGES")
    for r in rows:
        if not r.reachable:
            say(f"{r.name:<12} {'no':<9} {'-':<16} {'-':<14} {'-':<14} {'-':>3}  {r.error}")
            continue
        images = f"{len(r.images)}/{len(r.images) + len(r.missing)}"
        missing = f" (missing: {', '.join(r.missing)})" if r.missing else ""
        say(
            f"{r.name:<12} {'yes':<9} {r.version or '?':<16} {','.join(r.native) or '-':<14} "
            f"{','.join(r.emulated) or '-':<14} {r.capacity or '-':>3}  {images}{missing}  {r.where}"
        )


async def remove_leftover_containers(
    engines: Sequence[tuple[str, EngineSettings]], say: Callable[[str], None]
) -> None:
    """``clean --containers`` on each engine (the default one without the table); an engine that
    cannot be reached is one line, the others are still cleaned."""
    from ..building.executors.endpoints import DEFAULT, Endpoint, endpoint_of
    from ..building.executors.engine import DockerEngine

    endpoints = [endpoint_of(n, s) for n, s in engines] or [Endpoint(DEFAULT)]
    total, problems = 0, []
    for endpoint in endpoints:
        prefix = "" if len(endpoints) == 1 else f"engine {endpoint.name}: "
        try:
            async with DockerEngine(endpoint=endpoint) as engine:
                removed, kept = await engine.remove_leftovers()
        except LayerctlError as exc:
            if len(endpoints) == 1:
                raise
            problems.append(exc)
            say(f"{prefix}not cleaned: {exc}")
            continue
        for name in removed:
            say(f"{prefix}removed container {name}")
        for name in kept:
            say(f"{prefix}kept container {name}: its layerctl run is still going")
        total += len(removed)
    say(f"{total} layerctl containers removed")
    if problems and len(problems) == len(endpoints):
        raise problems[0]


async def engines_command(plan: Plan, fmt: str, say: Callable[[str], None]) -> int:
    """``layerctl engines``: the rows, and exit 3 when no engine answers."""
    rows = await check_engines(plan)
    show_engines(rows, fmt, say)
    return EXIT_OK if any(r.reachable for r in rows) else EXIT_ENVIRONMENT


async def clean_containers(start: Path, only: Sequence[str], say: Callable[[str], None]) -> None:
    """``clean --containers`` on every engine of the workspace found from ``start`` (``--engine``:
    those); outside a workspace, on the default engine."""
    from ..workspace.config import load_workspace
    from ..workspace.locate import find_workspace

    try:
        root = find_workspace(start)
    except ConfigError:
        if only:
            raise
        root = None
    found = load_workspace(root).engines if root else {}  # a table in error is an error
    await remove_leftover_containers(selected_engines(found, only), say)
