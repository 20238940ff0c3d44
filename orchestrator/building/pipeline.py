"""One attempt at one target: resolve -> up to date? -> install (executor) -> scripts -> audit ->
compile -> zip -> swap -> stamp. It returns a typed outcome and raises only when cancelled; an
EnvironmentProblem (the engine, an image, QEMU) fails only this target, like any cause. Every
output is replaced atomically: a failed or cancelled attempt leaves the previous good
``layer.zip`` and ``artifacts/`` exactly as they were."""

from __future__ import annotations

import functools
import os
import shutil
import tempfile
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path

import anyio
import anyio.from_thread
import anyio.to_thread

from ..core.errors import BuildError, LayerctlError, TargetTimeout
from ..core.events import Phase
from ..core.fileio import replace_tree, write_atomic
from ..core.outputs import ARTIFACTS, REQUIREMENTS_NAME, ZIP_NAME, remove_leftovers
from ..core.tools import uv_environment
from ..package.bytecode import compile_bytecode
from ..package.scripts_fix import fix_scripts, forget_direct_urls
from ..package.sizes import Sizes, collect_measured, keep_failed_tree, listing, too_large
from ..package.zip import UNZIPPED_LIMIT, ZipResult, collect, exclude_patterns, write_zip
from ..plan.targets import Target
from ..resolve.reqset import LocalRef, RequirementSet
from .context import BuildContext
from .executors import Installer, InstallRequest, WheelBuilder, WheelRequest
from .freshness import lock_inputs, offline_record
from .localwheels import LocalSet, local_projects, own_requirement, with_wheels
from .stamp import Stamp, StampResult
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
                    await anyio.to_thread.run_sync(shutil.rmtree, staging[0], True)
                    for leftover in staging[1:]:
                        await anyio.to_thread.run_sync(functools.partial(leftover.unlink, missing_ok=True))

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
        await anyio.to_thread.run_sync(_target_dir, out)
        await self.phase("resolving")
        inputs = await anyio.to_thread.run_sync(lock_inputs, target)  # before the export reads them
        from ..resolve import requirements_for

        requirements = RequirementSet.parse(await requirements_for(target, ctx.uv_env(target)))
        if self.installer.prepare_phase is not None:
            await self.phase(self.installer.prepare_phase)
        await self.installer.prepare(target)
        # the one input key (inputkey.py), as the check before the run computed it (in-repo projects by their sources)
        local = local_projects(target, requirements)
        installer = await self.installer.fingerprint(target)
        record = await offline_record(target, ctx.local, requirements, inputs, installer=installer)
        if not ctx.force:  # its build, in its directory or restored there from a shared cache
            notes: list[str] = []
            found = await anyio.to_thread.run_sync(
                lambda: ctx.caches.up_to_date(
                    out, record, requirements.text, verify=ctx.verify_zips, notes=notes
                )
            )
            for note in notes:  # a shared cache that failed or lied: a miss, and a warning
                await self.warn(note)
            if found is not None:
                await log(found.said())
                return UpToDate(found.stamp, found.source)

        await anyio.to_thread.run_sync(log.open)
        if target.rebuild_reason:
            await log(f"rebuilding: {target.rebuild_reason}")
        await self.phase("installing")  # in-repo wheels first, then the set
        built = await self._local_wheels(requirements, local) if local else None
        own = ""
        if built is not None:
            requirements = built.requirements
            if built.own:
                own = f"# and, without its dependencies (they are above): {built.own.path.name}\n"
        self.installs_something = requirements.installs_something or bool(built and built.own)
        if not self.installs_something:
            await self.warn(f"the layer installs nothing: {_empty_because(target)}")
        staging.append(Path(tempfile.mkdtemp(prefix=".staging-", dir=out)))
        dest = staging[0] / "python"
        dest.mkdir()
        # the set being installed, beside the staging tree (never in the zip or artifacts/);
        # requirements.txt describes the zip beside it, so it is replaced only with the zip
        req_path = self._beside(staging, REQUIREMENTS_NAME)
        await anyio.to_thread.run_sync(write_atomic, req_path, requirements.text + own)
        own_path = None
        if built is not None and built.own is not None:
            own_path = self._beside(staging, "own.txt")
            await anyio.to_thread.run_sync(write_atomic, own_path, own_requirement(built.own))
        request = InstallRequest(
            target=target,
            requirements=req_path,
            dest=dest,
            index_url=ctx.index_url(target),
            extra_index_urls=ctx.extra_index_urls(target),
            ca_bundle=ctx.ca_bundle(target),
            mounts=tuple(sorted({w.path for w in built.wheels})) if built else (),
            own=own_path,
        )
        installed = await self.installer.install(request, log)
        self.tool_versions.update(installed.tool_versions)

        fixed = await anyio.to_thread.run_sync(fix_scripts, dest, target.python)
        if fixed:
            await log(f"scripts: {len(fixed)} shebangs now name the runtime's interpreter")
        if local:
            await anyio.to_thread.run_sync(forget_direct_urls, dest, ctx.local.directory)

        await self.phase("auditing")
        from ..package.audit import audit_tree  # the ELF reader: imported by the first target built

        audit = await anyio.to_thread.run_sync(audit_tree, dest, target.arch, target.runtime.glibc_version)
        await log(
            f"audit: {audit.elf_files} ELF files, all {target.arch.machine}, "
            f"max GLIBC {audit.max_glibc or '-'} <= {target.runtime.glibc}"
        )
        if target.settings.bytecode:
            await self.phase("compiling")
            await compile_bytecode(target, dest, log, self.warn)

        def swap() -> None:  # the new tree in artifacts/, then the set it was installed from: one hop
            replace_tree(staging[0], out / ARTIFACTS)
            os.replace(req_path, out / REQUIREMENTS_NAME)

        await self.phase("zipping")
        zipped, sizes = await self._zip(staging[0], out)
        await anyio.to_thread.run_sync(swap)
        staging.clear()
        made = StampResult(
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
        notes = []
        await anyio.to_thread.run_sync(lambda: ctx.caches.keep(out, made, record, notes, target=target.id))
        for note in notes:
            await self.warn(note)
        return Built(made)

    @staticmethod
    def _beside(staging: list[Path], name: str) -> Path:
        """A file of this attempt beside its staging tree, removed with it (a leftover's name)."""
        path = staging[0].with_name(f"{staging[0].name}.{name}.tmp")
        staging.append(path)
        return path

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

    async def _zip(self, staging: Path, out: Path) -> tuple[ZipResult, Sizes]:
        settings, dest = self.target.settings, staging / "python"
        patterns = exclude_patterns(
            settings.exclude,
            runtime_provided=settings.exclude_runtime_provided,
            keep_bytecode=settings.bytecode,
        )

        entries, sizes = await anyio.to_thread.run_sync(collect_measured, dest, patterns)  # one hop
        await self.log(f"largest packages (unzipped): {listing(sizes.largest) or '-'}")
        if sizes.total > UNZIPPED_LIMIT:  # kept for inspection: what to leave out is in there
            raise too_large(sizes, await anyio.to_thread.run_sync(keep_failed_tree, staging, out))
        for message in sizes.warnings():
            await self.warn(message)

        def zip_tree() -> ZipResult:
            return write_zip(
                entries,
                out / ZIP_NAME,
                level=settings.compression_level,
                check_cancelled=anyio.from_thread.check_cancelled,
            )

        zipped = await anyio.to_thread.run_sync(zip_tree)
        if zipped.files == 0 and await anyio.to_thread.run_sync(_has_files, dest, settings.bytecode):
            provided = ", exclude-runtime-provided" if settings.exclude_runtime_provided else ""
            await self.warn(
                f"the exclude patterns removed every file from the layer (exclude = "
                f"{list(settings.exclude)}{provided}): {ZIP_NAME} is empty"
            )
        elif zipped.files == 0 and self.installs_something:
            await self.warn(
                f"the layer installs nothing for {self.target.id}: no dependency applies to it "
                f"(their markers leave every one out): {ZIP_NAME} is empty"
            )
        if zipped.over_direct_upload_limit:
            await self.warn(sizes.upload_warning(ZIP_NAME, zipped.zipped_size))
        await self.log(
            f"zip: {zipped.files} files, {zipped.unzipped_size:,} bytes -> "
            f"{zipped.zipped_size:,} bytes, sha256 {zipped.sha256}"
        )
        return zipped, sizes


def _target_dir(out: Path) -> None:
    """The target's own directory (its parent, the output directory, is claimed by the run),
    cleared of what a killed run left there: nothing else holds it while the run lock is held."""
    out.mkdir(exist_ok=True)
    remove_leftovers(out)


def _empty_because(target: Target) -> str:
    layer = target.layer
    if layer.tool.value == "pip":
        return f"it has no dependencies ([project.dependencies] in {layer.pyproject} is empty)"
    return f"its {layer.tool.value} lock holds no dependencies for {target.id}"


def _has_files(root: Path, keep_bytecode: bool) -> bool:
    """Whether the tree has files to zip before the user's excludes take any away."""
    return bool(collect(root, exclude_patterns((), runtime_provided=False, keep_bytecode=keep_bytecode)))
