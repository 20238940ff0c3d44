"""The in-process tier: the scheduler, pipeline, retries, stamps and the event pipe driven
through the Executor Protocol by a fake executor. No network, no subprocess, no engine."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path

import anyio
import pytest

from orchestrator.building.buildcache.caches import BuildCaches
from orchestrator.building.context import BuildContext
from orchestrator.building.executors import Executor, InstallOutcome, InstallRequest, WheelRequest
from orchestrator.building.places import prepare_outputs
from orchestrator.core.errors import NoCompatibleWheel
from orchestrator.core.events import Event, Phase, TargetResult
from orchestrator.core.fanout import Interrupt
from orchestrator.core.process import BatchSink
from orchestrator.core.tools import uv_identity
from orchestrator.plan.targets import Plan, Target, make_plan
from orchestrator.run.scheduler import AfterBuild, RunOutcome, run_targets
from orchestrator.workspace.config import load_workspace
from orchestrator.workspace.discovery import discover_layers

Behaviour = Callable[[InstallRequest, BatchSink, int], Awaitable[None]]


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@dataclass
class FakePins:
    """Stands in for uv's pinning (``resolve.pip.uv_pin``): the declared lines as the pins."""

    calls: list[str] = field(default_factory=list)

    async def __call__(self, target: Target, declared: str, env: object) -> str:
        self.calls.append(target.id)
        return "".join(line for line in declared.splitlines(keepends=True) if not line.startswith("#"))


@pytest.fixture(autouse=True)
def fake_pins(monkeypatch: pytest.MonkeyPatch) -> FakePins:
    """No subprocess in this tier: a pip layer's set is pinned by a fake."""
    pins = FakePins()
    monkeypatch.setattr("orchestrator.resolve.pip.uv_pin", pins)
    return pins


async def writes_a_module(request: InstallRequest, log: BatchSink, attempt: int) -> None:
    await log(f"installing {request.target.id} (attempt {attempt})")
    name = request.target.layer.name
    (request.dest / f"{name}_mod.py").write_text(f"VALUE = {name!r}\n")


@dataclass
class FakeExecutor:
    """Installs by running a behaviour per layer name; counts its calls."""

    behaviours: dict[str, Behaviour] = field(default_factory=dict)
    fingerprint_value: str | None = None  # None: uv's version, as a native build (and the check) say
    calls: dict[str, int] = field(default_factory=dict)
    name: str = "fake"
    prepare_phase: Phase | None = None
    prepared: list[str] = field(default_factory=list)

    def cost(self, target: Target) -> float:
        return 1.0

    async def prepare(self, target: Target) -> None:
        self.prepared.append(target.id)

    async def fingerprint(self, target: Target) -> str:
        return self.fingerprint_value or await uv_identity()

    async def install(self, request: InstallRequest, log: BatchSink) -> InstallOutcome:
        target = request.target
        self.calls[target.id] = self.calls.get(target.id, 0) + 1
        behaviour = self.behaviours.get(target.layer.name, writes_a_module)
        await behaviour(request, log, self.calls[target.id])
        return InstallOutcome(tool_versions={"fake": "1"})

    async def build_wheel(self, request: WheelRequest, log: BatchSink) -> None:
        """Nothing is compiled in this tier: refused, as the native executor refuses."""
        raise NoCompatibleWheel(
            f"{request.project}: the fake executor builds no wheels", request.project.name
        )


# Checked by mypy: the fake keeps to the Protocol the scheduler drives (a drift fails the type check).
_CONFORMS: Executor = FakeExecutor()


def plan_for(root: Path, layers: list[str], **options: object) -> Plan:
    """A workspace of pip layers (their requirement set is read offline), native, one target each."""
    (root / "pyproject.toml").write_text(
        '[tool.layerctl]\npython = ["3.12"]\narch = ["x86_64"]\nbuilder = "native"\n'
    )
    for name in layers:
        layer = root / "layers" / name
        layer.mkdir(parents=True, exist_ok=True)
        (layer / "pyproject.toml").write_text(
            f'[project]\nname = "{name}"\nversion = "1"\ndependencies = ["six"]\n'
        )
    workspace = load_workspace(root)
    plan = make_plan(workspace, discover_layers(workspace), cli_options=dict(options))
    prepare_outputs(plan)
    return plan


@dataclass
class Recorder:
    events: list[Event] = field(default_factory=list)

    async def __call__(self, event: Event) -> None:
        self.events.append(event)


async def run(
    plan: Plan,
    executor: Executor,
    *,
    jobs: int = 1,
    keep_going: bool = False,
    interrupt: Interrupt | None = None,
    after: AfterBuild | None = None,
    force: bool = False,
    retries: int = 0,
    timeout_s: float | None = None,
    caches: BuildCaches | None = None,
    durations: dict[str, float] | None = None,
) -> RunOutcome:
    return await run_targets(
        plan.targets,
        executor_for=lambda _t: executor,
        emit=Recorder(),
        jobs=jobs,
        context=BuildContext(
            workspace=plan.workspace.root,
            force=force,
            retries=retries,
            timeout_s=timeout_s,
            caches=caches or BuildCaches(),
        ),
        interrupt=interrupt or Interrupt(),
        keep_going=keep_going,
        after=after,
        durations=durations,
    )


def by_id(outcome: RunOutcome) -> dict[str, TargetResult]:
    return {r.id: r for r in outcome.results}


async def never_finishes(request: InstallRequest, log: BatchSink, attempt: int) -> None:
    await log("waiting forever")
    await anyio.sleep_forever()
