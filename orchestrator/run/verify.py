"""``layerctl verify``: unpack each built zip into /opt of a container of the target's platform
and Python (the Lambda runtime image by default) and import every top-level module of the layer:
the smoke test people otherwise do by hand after deploying. The run is the run skeleton's
(``runskeleton.py``: signals received to the end, the event pipe) without a lock or a report:
each target's row is printed by the command line, and Ctrl-C ends it with exit 130."""

from __future__ import annotations

import errno
import json
import keyword
import os
import re
import zipfile
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

import anyio
import anyio.to_thread

from ..core.errors import EXIT_BUILD_FAILED, EXIT_INTERRUPTED, EXIT_USAGE, BuildError, EnvironmentProblem
from ..core.events import Emit, LogLines, Notice
from ..core.fanout import fan_out
from ..core.outputs import ZIP_NAME
from ..core.secrets import Credentials, Masker, mask_urls
from ..plan.targets import Plan, Target
from ..report.reporters import Reporter
from .engines import selected_engines
from .skeleton import Run, jobs_of, run_command

if TYPE_CHECKING:
    from ..building.executors.images import Images, Pull
    from ..core.engine_settings import EngineSettings

__all__ = [
    "VerifyOutcome",
    "VerifyResult",
    "top_level_modules",
    "verify_plan",
    "verify_targets",
    "verify_with",
]

_NOT_MODULES = re.compile(r"\.(dist-info|data|libs|egg-info)$|^(bin|__pycache__)$")
_EXTENSION = re.compile(r"^([A-Za-z_][A-Za-z0-9_]*)(\.[A-Za-z0-9_-]+)?\.so$")

# Runs inside the container with the target's Python. Lambda puts /opt/python on sys.path.
_SCRIPT = r"""
import importlib, json, platform, sys, traceback, zipfile
zipfile.ZipFile("/layerctl/layer.zip").extractall("/opt")
sys.path.insert(0, "/opt/python")
print("python", platform.python_version(), "on", platform.machine())
failed = 0
for name in json.loads(sys.argv[1]):
    try:
        importlib.import_module(name)
        print("import ok:", name)
    except BaseException as exc:
        failed += 1
        print("import FAILED:", name + ":", type(exc).__name__ + ":", exc)
sys.exit(1 if failed else 0)
"""


@dataclass(frozen=True)
class VerifyResult:
    id: str
    ok: bool
    modules: int
    detail: str
    exit_code: int = EXIT_BUILD_FAILED  # of a failure: 3 when this machine lacks the image or QEMU

    def __post_init__(self) -> None:  # a container's words may quote a URL with its credentials
        object.__setattr__(self, "detail", mask_urls(self.detail))


@dataclass(frozen=True)
class VerifyOutcome:
    """A row per target (a layer that cannot be read last, exit code 2); none when interrupted."""

    results: tuple[VerifyResult, ...]
    interrupted: bool


async def verify_plan(plan: Plan, reporter: Reporter) -> tuple[VerifyOutcome, int]:
    """Verify the plan's targets on the run skeleton; the outcome and the exit code (the
    highest of the failures', 130 when interrupted)."""
    return await run_command(_Verify(plan), reporter)


@dataclass(frozen=True)
class _Verify:
    """A verify run's own steps in the skeleton (``runskeleton.Command``)."""

    plan: Plan

    async def start(self) -> None:
        return None  # nothing refuses a verification before it starts

    async def work(self, run: Run) -> VerifyOutcome:
        plan = self.plan
        readable = [t for t in plan.targets if not t.problem]
        results: list[VerifyResult] = []
        with run.interrupt.cancels():
            results = await verify_targets(
                readable,
                run.emit,
                pull=plan.options.pull,
                jobs=jobs_of(plan),
                workspace=plan.workspace.root,
                engines=selected_engines(plan.workspace.engines, plan.options.engine),
            )
        if run.interrupt.interrupted:
            return VerifyOutcome((), interrupted=True)
        broken = [
            VerifyResult(t.id, False, 0, t.problem or "", EXIT_USAGE) for t in plan.targets if t.problem
        ]
        return VerifyOutcome(tuple(results + broken), interrupted=False)

    async def finish(self, outcome: VerifyOutcome, started_at: datetime) -> int:
        if outcome.interrupted:
            return EXIT_INTERRUPTED
        return max((r.exit_code for r in outcome.results if not r.ok), default=0)


def top_level_modules(names: Iterable[str]) -> list[str]:
    """Importable top-level names of a layer zip's ``python/`` tree."""
    found: set[str] = set()
    for name in names:
        parts = name.split("/")
        if len(parts) < 2 or parts[0] != "python" or not parts[1]:
            continue
        top = parts[1]
        if len(parts) > 2:  # a directory: a package (regular or namespace)
            if not _NOT_MODULES.search(top) and top.isidentifier() and not keyword.iskeyword(top):
                found.add(top)
        elif top.endswith(".py") and top[:-3].isidentifier():
            found.add(top[:-3])
        elif match := _EXTENSION.match(top):
            found.add(match.group(1))
    return sorted(found)


def _modules_in(zip_path: Path) -> list[str]:
    """The top-level modules of a layer zip; a BuildError (one line) if it cannot be verified.
    A symlink is not followed: layerctl never writes one, so it is not a zip layerctl made."""
    rebuild = "rebuild it: layerctl build-all --force"
    try:
        fd = os.open(zip_path, os.O_RDONLY | os.O_NOFOLLOW)
    except FileNotFoundError:
        raise BuildError(f"no {ZIP_NAME}: build the target first") from None
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise BuildError(f"{zip_path} is a symlink, not a layerctl zip: {rebuild}") from None
        raise BuildError(f"{zip_path}: cannot read it ({exc.strerror}): {rebuild}") from None
    with open(fd, "rb") as fh:
        try:
            with zipfile.ZipFile(fh) as zf:
                names = zf.namelist()
        except (zipfile.BadZipFile, EOFError, ValueError, OSError) as exc:
            reason = " ".join(str(exc).split()) or type(exc).__name__
            raise BuildError(f"{zip_path} is not a readable zip ({reason}): {rebuild}") from None
    return top_level_modules(names)


async def verify_targets(
    targets: Sequence[Target],
    emit: Emit,
    *,
    pull: Pull = "missing",
    jobs: int,
    workspace: Path | None = None,
    engines: tuple[tuple[str, EngineSettings], ...] = (),
) -> list[VerifyResult]:
    """Import every layer's modules, ``jobs`` containers at once, each on an engine of the run's
    pool (``engines``: the table's, else the default engine) that runs its architecture
    natively when one has a free slot, as builds are routed. Each image is checked once per
    engine; a problem with one (missing, another arch, no QEMU) fails the targets that need it."""
    from contextlib import AsyncExitStack

    from ..building.executors import ExecutorSetup
    from ..building.executors.pool import run_pool

    async def notice(message: str) -> None:
        await emit(Notice(message))

    # verify containers get no secret at all; the engine refuses any that holds one
    masker = Masker.for_credentials(Credentials.from_env(), (i for t in targets for i in t.layer.indexes))
    setup = ExecutorSetup(progress=notice, workspace=workspace, masker=masker, pull=pull, engines=engines)
    async with AsyncExitStack() as stack:
        pool = run_pool(setup, stack)
        await pool.connect()  # no engine at all stops the run here, in one line

        async def one(target: Target) -> VerifyResult:
            try:
                async with pool.engine_for(target.arch) as slot:
                    if engines:  # a table: say where it runs
                        await emit(LogLines(target.id, (f"engine {slot.name}",)))
                    return await _verify(target, slot.images, emit)
            except EnvironmentProblem as exc:  # no engine left for its architecture
                return VerifyResult(target.id, False, 0, exc.message, exit_code=exc.exit_code)

        done = await fan_out(targets, one, limiter=jobs, name=lambda t: t.id)
        return [done.results[i] for i in range(len(targets))]


async def verify_with(
    targets: Sequence[Target], images: Images, emit: Emit, *, jobs: int
) -> list[VerifyResult]:
    """``verify_targets`` on one engine's image checks (a fake one in the in-process tests)."""
    done = await fan_out(targets, lambda t: _verify(t, images, emit), limiter=jobs, name=lambda t: t.id)
    return [done.results[i] for i in range(len(targets))]


async def _verify(target: Target, images: Images, emit: Emit) -> VerifyResult:
    zip_path = target.out_dir / ZIP_NAME
    try:
        modules = await anyio.to_thread.run_sync(_modules_in, zip_path)
    except BuildError as exc:  # missing, or not a readable zip of layerctl's
        return VerifyResult(target.id, False, 0, exc.message)
    try:
        await images.ensure(target.verify_image, target.arch)
        await images.runnable(target.verify_image, target.arch, target.python)
    except EnvironmentProblem as exc:
        return VerifyResult(target.id, False, len(modules), exc.message, exit_code=exc.exit_code)
    lines: list[str] = []

    async def sink(line: str) -> None:
        lines.append(line)
        await emit(LogLines(target.id, (line,)))

    config = {
        "Image": target.verify_image,
        "Entrypoint": [f"python{target.python}", "-c", _SCRIPT, json.dumps(modules)],
        "Cmd": [],
        "User": "0:0",  # unpacking into /opt, as Lambda does
        "HostConfig": {"Binds": [f"{zip_path}:/layerctl/layer.zip:ro"]},
    }
    try:
        code = await images.engine.run(config, target.arch, f"verify-{target.id}", sink)
    except BuildError as exc:
        return VerifyResult(target.id, False, len(modules), exc.message)
    failures = [line for line in lines if line.startswith("import FAILED")]
    machine_ok = any(line.endswith(f" on {target.arch.machine}") for line in lines)
    ok = code == 0 and not failures and machine_ok
    detail = (
        f"imported {len(modules)} modules on {target.arch.machine}"
        if ok
        else (failures[0] if failures else f"exit {code}: {lines[-1] if lines else 'no output'}")
    )
    return VerifyResult(target.id, ok, len(modules), detail)
