"""One attempt at one target: resolve -> up to date? -> install (executor) -> scripts -> audit ->
compile -> zip -> swap -> stamp. It returns a typed outcome and raises only when cancelled; an
EnvironmentProblem (the engine, an image, QEMU) fails only this target, like any cause. Every
output is replaced atomically: a failed or cancelled attempt leaves the previous good
``layer.zip`` and ``artifacts/`` exactly as they were. The file work of each step runs in at
most one thread hop (``steps.py``), none when the installed tree is small (``steps.small``), so
a matrix of thousands of small targets is not paid per file operation."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path

import anyio

from ..core.errors import BuildError, LayerctlError, TargetTimeout
from ..core.events import Phase
from ..core.offload import Cancelled, run_step, run_sync
from ..core.outputs import ARTIFACTS, ZIP_NAME
from ..core.tools import uv_environment
from ..package.bytecode import compile_bytecode
from ..package.sizes import Sizes, too_large
from ..package.zip import ZipResult
from ..plan.targets import Target
from ..resolve.reqset import LocalRef, RequirementSet
from ..workspace.discovery import Tool
from .buildcache.caches import Hit
from .context import BuildContext
from .executors import Installer, InstallRequest, WheelBuilder, WheelRequest
from .freshness import offline_record
from .localwheels import LocalSet, local_projects, own_requirement, with_wheels
from .stamp import Offline, Stamp, StampResult
from .steps import Packed, clean, fix_tree, local_files, make_dir, pack, small, stage, start
from .targetlog import TargetLog

__all__ = ["Attempt", "Built", "Failed", "Outcome", "UpToDate"]


@dataclass(frozen=True)
class Built:
    made: StampResult


@dataclass(frozen=True)
class UpToDate:
    stamp: Stamp
    source: str | None = None  # the shared cache it was restored from (status cached)


@dataclass(frozen=True)
class Failed:
    cause: LayerctlError  # typed: its class says the exit code, whether it is transient, its hint
    message: str  # the cause's message, secrets masked
    output: tuple[str, ...]  # the log's last lines before layerctl's own error line (tools' output)


Outcome = Built | UpToDate | Failed


class Attempt:
    """Attempts at one target; ``tool_versions`` holds what the last attempt used."""

    def __init__(
        self,
        target: Target,
        installer: Installer,
        wheel_builder: WheelBuilder,  # builds the set's in-repo projects with compiled code
        ctx: BuildContext,
        log: TargetLog,
        phase: Callable[[Phase], Awaitable[None]],
        warn: Callable[[str], Awaitable[None]],
    ) -> None:
        self.target, self.installer, self.wheel_builder, self.ctx = target, installer, wheel_builder, ctx
        self.log, self.phase, self.warn = log, phase, warn
        self.tool_versions: dict[str, str] = {}
        self.installs_something = False  # the requirement set names at least one distribution

    async def run(self) -> Outcome:
        self.tool_versions.clear()
        staging: list[Path] = []
        try:
            if self.ctx.timeout_s is None:  # no scope to enter and leave
                return await self._run(staging)
            with anyio.move_on_after(self.ctx.timeout_s) as scope:
                return await self._run(staging)
            assert scope.cancelled_caught
            return await self._failed(TargetTimeout(f"timed out after {self.ctx.timeout_s:g}s (--timeout)"))
        except LayerctlError as exc:
            return await self._failed(exc)
        except OSError as exc:
            message = f"{exc.strerror or exc}: {exc.filename}" if exc.filename else str(exc)
            return await self._failed(BuildError(message))
        finally:
            if staging:
                with anyio.CancelScope(shield=True):
                    await run_sync(clean, staging)

    async def _failed(self, cause: LayerctlError) -> Failed:
        for line in getattr(cause, "output", ()):  # what a resolver printed, for the log and its hint
            await self.log(self.ctx.masker(line))
        output = tuple(self.log.tail)
        message = self.ctx.masker(cause.message)
        await self.log(f"error: {message}")
        return Failed(cause, message, output)

    async def _run(self, staging: list[Path]) -> Outcome:
        target, log, ctx = self.target, self.log, self.ctx
        out = target.out_dir
        await self.phase("resolving")
        # a target never built here (its directory made now), with no shared cache to ask, has
        # nothing to clean up, hash or restore: its first steps are a few metadata operations,
        # not worth a thread hop
        first = not ctx.caches.remote and target.layer.tool is not Tool.UV and make_dir(out)
        # its directory (made here: empty) and the lock's digests
        inputs, empty = start(target, made=True) if first else await run_sync(start, target)
        if target.requirements is not None:  # found by the check before this run decided anything
            raw = target.requirements
        else:
            from ..resolve import requirements_for

            raw = await requirements_for(target, ctx.uv_env(target))
        requirements = RequirementSet.parse(raw)
        if self.installer.prepare_phase is not None:
            await self.phase(self.installer.prepare_phase)
        await self.installer.prepare(target)
        # the one input key (inputkey.py), as the check before the run computed it (in-repo projects by their sources)
        local = local_projects(target, requirements)
        installer = await self.installer.fingerprint(target)
        record = await offline_record(target, ctx.local, requirements, inputs, installer=installer)
        notes: list[str] = []
        if first:
            found, cannot_log = self._found(record, requirements, notes, empty)
        else:
            found, cannot_log = await run_sync(
                self._found, record, requirements, notes, empty, waits=ctx.caches.remote
            )
        for note in notes:  # a shared cache that failed or lied: a miss, and a warning
            await self.warn(note)
        if found is not None:
            await log(found.said())
            return UpToDate(found.stamp, found.source)
        if cannot_log is not None:
            raise cannot_log

        if target.rebuild_reason:
            await log(f"rebuilding: {target.rebuild_reason}")
        await self.phase("installing")  # in-repo wheels first, then the set
        built = await self._local_wheels(requirements, local) if local else None
        own, own_line = "", None
        if built is not None:
            requirements = built.requirements
            if built.own:
                own = f"# and, without its dependencies (they are above): {built.own.path.name}\n"
                own_line = own_requirement(built.own)
        self.installs_something = requirements.installs_something or bool(built and built.own)
        if not self.installs_something:
            await self.warn(f"the layer installs nothing: {_empty_because(target)}")
        # the staging tree, and the set being installed beside it (never in the zip or artifacts/)
        # bounded whatever the layer: two directories and the set's file (or two), no hop
        req_path, own_path = stage(out, staging, requirements.text + own, own_line)
        dest = staging[0] / "python"
        files = local_files(requirements, built)  # a few stats: no hop
        request = InstallRequest(
            target=target,
            requirements=req_path,
            dest=dest,
            index_url=ctx.index_url(target),
            extra_index_urls=ctx.extra_index_urls(target),
            ca_bundle=ctx.ca_bundle(target),
            mounts=files,
            own=own_path,
        )
        installed = await self.installer.install(request, log)
        self.tool_versions.update(installed.tool_versions)

        light = small(dest)  # a few files: scripts, audit and zip on the loop, cheaper than hops
        fixed = await run_step(
            fix_tree, dest, target.python, ctx.local.directory if local else None, files, here=light
        )
        if fixed:
            await log(f"scripts: {len(fixed)} shebangs now name the runtime's interpreter")

        await self.phase("auditing")
        from ..package.audit import audit_tree  # the ELF reader: imported by the first target built

        audit = await run_step(audit_tree, dest, target.arch, target.runtime.glibc_version, here=light)
        await log(
            f"audit: {audit.elf_files} ELF files, all {target.arch.machine}, "
            f"max GLIBC {audit.max_glibc or '-'} <= {target.runtime.glibc}"
        )
        if target.settings.bytecode:
            await self.phase("compiling")
            await compile_bytecode(target, dest, log, self.warn)
            light = light and small(dest)  # with its bytecode

        def made(zipped: ZipResult, sizes: Sizes) -> StampResult:
            return StampResult(
                zip_path=str(zipped.path),
                files=zipped.files,
                unzipped_size=zipped.unzipped_size,
                zipped_size=zipped.zipped_size,
                sha256=zipped.sha256,
                largest=sizes.largest,
                elf_files=audit.elf_files,
                max_glibc=str(audit.max_glibc) if audit.max_glibc else None,
                image=installed.image,
                image_id=installed.image_id,
                engine=installed.engine,
            )

        def keep(stamped: StampResult) -> list[str]:  # stamped, then stored in the shared caches
            notes: list[str] = []
            ctx.caches.keep(out, stamped, record, notes, target=target.id)
            return notes

        await self.phase("zipping")  # the zip, the tree and set swapped in, the stamp: one step
        settings, cancelled = target.settings, Cancelled()  # a long zip stops when the target is cancelled
        waits = ctx.caches.remote and ctx.caches.write  # stored in the shared caches

        def work() -> Packed:
            return pack(
                staging,
                out,
                target=target.id,
                requirements=req_path,
                exclude=settings.exclude,
                runtime_provided=settings.exclude_runtime_provided,
                bytecode=settings.bytecode,
                level=settings.compression_level,
                installs_something=self.installs_something,
                made=made,
                keep=keep,
                check_cancelled=cancelled.check,
            )

        # what it replaces is removed too: a previous build's tree and zip, measured as well
        here = light and not waits and (first or small(out / ARTIFACTS, out / ZIP_NAME))
        packed = await run_step(work, here=here, cancelled=cancelled, waits=waits)
        for warning, words in packed.said:
            await (self.warn(words) if warning else log(words))
        if packed.kept is not None:
            raise too_large(packed.sizes, packed.kept)
        assert packed.made is not None
        return Built(packed.made)

    def _found(
        self, record: Offline, requirements: RequirementSet, notes: list[str], empty: bool
    ) -> tuple[Hit | None, Exception | None]:
        """One hop: the target's build (in its directory, or restored there from a shared cache),
        else build.log opened for the build, or why it cannot be (raised once ``notes`` are said).
        An ``empty`` directory (made by this attempt) holds no build and no user's entry."""
        ctx = self.ctx
        asked = not (empty and not ctx.caches.shared)  # else nothing could be found
        if not ctx.force and asked:  # its build, in its directory or restored there from a shared cache
            found = ctx.caches.up_to_date(
                self.target.out_dir, record, requirements.text, verify=ctx.verify_zips, notes=notes
            )
            if found is not None:
                return found, None
        try:
            self.log.open(empty=empty)
        except (LayerctlError, OSError) as exc:
            return None, exc
        return None, None

    async def _local_wheels(self, requirements: RequirementSet, local: list[LocalRef]) -> LocalSet:
        """In-repo projects built into wheels (once per run), and the set naming the wheels."""
        target, ctx = self.target, self.ctx
        index_url, ca_bundle = ctx.index_url(target), ctx.ca_bundle(target)
        request = WheelRequest(
            target=target, project=target.layer.root, index_url=index_url, ca_bundle=ca_bundle
        )
        env = uv_environment(index_url, ca_bundle)
        built = await with_wheels(ctx.local, request, requirements, local, self.wheel_builder, env, self.log)
        for wheel in built.wheels:
            await self.log(f"in-repo: {wheel.path.name} (sha256 {wheel.sha256[:12]})")
        return built


def _empty_because(target: Target) -> str:
    layer = target.layer
    if layer.tool.value == "pip":
        return f"it has no dependencies ([project.dependencies] in {layer.pyproject} is empty)"
    return f"its {layer.tool.value} lock holds no dependencies for {target.id}"
