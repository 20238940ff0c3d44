"""The pipeline of one target: resolve -> install (executor) -> audit -> compile -> zip.

Every output is replaced atomically: a failed or cancelled build leaves the previous good
``layer.zip`` and ``artifacts/`` exactly as they were. A target whose inputs have not changed
since its last good build is not rebuilt.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import sys
import tempfile
import time
from collections import deque
from collections.abc import Awaitable, Callable
from contextlib import suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

import anyio
import anyio.from_thread
import anyio.to_thread
from pydantic import BaseModel, ConfigDict

from . import __version__
from .audit import audit_tree
from .errors import BuildError, ConfigError, EnvironmentProblem, LayerctlError
from .events import (
    Emit,
    LogLines,
    Phase,
    PhaseStarted,
    Status,
    TargetFinished,
    TargetResult,
    TargetStarted,
    Warning,
)
from .executors import Executor, InstallRequest
from .failures import TAIL_LINES, backoff, diagnose, find_requirement_line
from .outputs import remove_leftovers
from .package import collect, exclude_patterns, sha256_file, write_zip
from .plan import Target
from .process import run_streaming
from .resolve import requirements_for
from .scripts_fix import fix_scripts
from .secrets import Credentials, Masker, index_url_with_credentials

__all__ = [
    "ARTIFACTS",
    "LOG_NAME",
    "STAMP_NAME",
    "ZIP_NAME",
    "BuildContext",
    "Stamp",
    "TargetLog",
    "build_target",
    "ca_bundle_path",
    "result_for",
]

ZIP_NAME = "layer.zip"
LOG_NAME = "build.log"
ARTIFACTS = "artifacts"
STAMP_NAME = ".layerctl-stamp.json"


@dataclass(frozen=True, kw_only=True)
class BuildContext:
    """What every target of a run shares."""

    workspace: Path
    credentials: Credentials = field(default_factory=Credentials)
    masker: Masker = field(default_factory=Masker)
    force: bool = False
    timeout_s: float | None = None  # per target attempt
    retries: int = 0  # extra attempts after a transient failure

    def index_url(self, target: Target) -> str | None:
        return index_url_with_credentials(target.settings.index_url, self.credentials)

    def ca_bundle(self, target: Target) -> Path | None:
        return ca_bundle_path(self.workspace, target.settings.ca_bundle)


def ca_bundle_path(workspace: Path, value: str | None) -> Path | None:
    if value is None:
        return None
    path = (workspace / value).resolve()
    if not path.is_file():
        raise ConfigError(f"ca-bundle {value}: no such file (relative paths start at {workspace})")
    return path


def result_for(target: Target, **fields: Any) -> TargetResult:
    base: dict[str, Any] = {"builder": target.builder, "builder_reason": target.builder_reason}
    return TargetResult(
        id=target.id,
        layer=target.layer.name,
        python=target.python,
        arch=target.arch.value,
        tool=target.layer.tool.value,
        **{**base, **fields},
    )


async def build_target(target: Target, executor: Executor, emit: Emit, ctx: BuildContext) -> TargetResult:
    """Build one target; never raises for a build failure (the result says it), only on cancel
    and for an EnvironmentProblem (which stops the whole run). Transient failures are retried up
    to ``ctx.retries`` times with backoff; ``ctx.timeout_s`` bounds each attempt."""
    mask = ctx.masker
    started = time.monotonic()
    started_at = time.time()
    out = target.out_dir
    await emit(TargetStarted(target.id, target.builder))
    clock = _PhaseClock()
    tail: deque[str] = deque(maxlen=TAIL_LINES)  # the whole log is in build.log, never in memory

    async def phase(name: Phase) -> None:
        clock.enter(name)
        await emit(PhaseStarted(target.id, name))

    log = TargetLog(target.id, out / LOG_NAME, tail, mask, emit)
    pipeline = _Pipeline(target, executor, emit, ctx, out, log, phase)
    attempt = 0
    status: Status = "cancelled"
    try:
        while True:
            attempt += 1
            status, fields = await pipeline.run(ctx.timeout_s)
            if status != "failed":
                break
            diagnosis = diagnose(fields["error"], tail, package=fields.pop("package", None))
            transient = fields.pop("transient", False) or diagnosis.transient
            if transient and attempt <= ctx.retries:
                delay = backoff(attempt)
                await log(
                    f"layerctl: attempt {attempt} failed with a transient error ({fields['error']}); "
                    f"retry {attempt}/{ctx.retries} in {delay:g}s"
                )
                clock.close()  # the wait is no phase's time (the timeline shows it as a gap)
                await anyio.sleep(delay)
                continue
            fields.update(hint=diagnosis.hint, log_tail=list(tail))
            if diagnosis.package:
                project = target.layer.root / "pyproject.toml"
                line = find_requirement_line(project, diagnosis.package)
                if line is not None:
                    fields.update(error_file=_relative(project, ctx.workspace), error_line=line)
            break
    finally:
        # an up-to-date target keeps the build.log of the build that made its zip
        log.close(keep=status != "up-to-date")
    result = result_for(
        target,
        status=status,
        started_at=round(started_at, 3),
        duration_s=round(time.monotonic() - started, 3),
        phases_s=clock.close(),
        attempts=attempt,
        tool_versions=pipeline.tool_versions,
        warnings=pipeline.warnings,
        log=str(log.path),
        **fields,
    )
    await emit(TargetFinished(result))
    return result


class _Pipeline:
    """One attempt at a target: resolve -> stamp check -> install -> audit -> compile -> zip."""

    def __init__(
        self,
        target: Target,
        executor: Executor,
        emit: Emit,
        ctx: BuildContext,
        out: Path,
        log: TargetLog,
        phase: Callable[[Phase], Awaitable[None]],
    ) -> None:
        self.target, self.executor, self.emit, self.ctx, self.out = target, executor, emit, ctx, out
        self.log, self.phase = log, phase
        self.tool_versions: dict[str, str] = {}
        self.warnings: list[str] = []

    async def warn(self, message: str) -> None:
        self.warnings.append(message)
        self.log.record(f"warning: {message}")
        await self.emit(Warning(self.target.id, message))

    async def run(self, timeout_s: float | None) -> tuple[Status, dict[str, Any]]:
        """("built" | "up-to-date", result fields) or ("failed", {"error": ..., "package": ...})."""
        self.tool_versions.clear()
        self.warnings.clear()
        staging: list[Path] = []
        try:
            with anyio.move_on_after(timeout_s) as scope:
                return await self._run(staging)
            assert scope.cancelled_caught
            message = f"timed out after {timeout_s:g}s (--timeout)"
            await self.log(f"error: {message}")
            return "failed", {"error": message}
        except EnvironmentProblem as exc:  # not this target's fault: the run stops (scheduler)
            await self.log(f"error: {self.ctx.masker(exc.message)}")
            raise
        except LayerctlError as exc:
            message = self.ctx.masker(exc.message)
            await self.log(f"error: {message}")
            return "failed", {
                "error": message,
                "package": getattr(exc, "package", None),
                "transient": getattr(exc, "transient", False),
            }
        except OSError as exc:
            message = self.ctx.masker(f"{exc.strerror or exc}: {exc.filename}" if exc.filename else str(exc))
            await self.log(f"error: {message}")
            return "failed", {"error": message}
        finally:
            if staging:
                with anyio.CancelScope(shield=True):
                    await anyio.to_thread.run_sync(shutil.rmtree, staging[0], True)

    async def _run(self, staging: list[Path]) -> tuple[Status, dict[str, Any]]:
        target, out, log, ctx = self.target, self.out, self.log, self.ctx
        await anyio.to_thread.run_sync(_target_dir, out)
        await self.phase("resolving")
        requirements = await requirements_for(target)
        req_path = out / "requirements.txt"
        await anyio.to_thread.run_sync(_write_atomic, req_path, requirements)
        if target.builder == "container":
            await self.phase("pulling")  # the image's check (and pull) happens once per run
        key = _input_key(target, await self.executor.fingerprint(target), requirements)
        previous = await anyio.to_thread.run_sync(_up_to_date, out, key)
        if previous is not None and not ctx.force:
            await log(f"up to date: inputs unchanged since the last build ({previous.sha256[:12]})")
            return "up-to-date", previous.result.model_dump()

        await anyio.to_thread.run_sync(log.open)
        if not _requirement_lines(requirements):
            await self.warn(f"the layer installs nothing: {_empty_because(target)}")
        staging.append(Path(tempfile.mkdtemp(prefix=".staging-", dir=out)))
        dest = staging[0] / "python"
        dest.mkdir()
        await self.phase("installing")
        request = InstallRequest(
            target=target,
            requirements=req_path,
            dest=dest,
            index_url=ctx.index_url(target),
            ca_bundle=ctx.ca_bundle(target),
        )
        installed = await self.executor.install(request, log)
        self.tool_versions.update(installed.tool_versions)
        image_fields = {"image": installed.image, "image_id": installed.image_id}

        fixed = await anyio.to_thread.run_sync(fix_scripts, dest, target.python)
        if fixed:
            await log(f"scripts: {len(fixed)} shebangs now name the runtime's interpreter")

        await self.phase("auditing")
        audit = await anyio.to_thread.run_sync(audit_tree, dest, target.arch, target.runtime.glibc_version)
        await log(
            f"audit: {audit.elf_files} ELF files, all {target.arch.machine}, "
            f"max GLIBC {audit.max_glibc or '-'} <= {target.runtime.glibc}"
        )

        settings = target.settings
        if settings.bytecode:
            await self.phase("compiling")
            await _compile_bytecode(target, dest, log, self.warn)

        await self.phase("zipping")
        patterns = exclude_patterns(
            settings.exclude,
            runtime_provided=settings.exclude_runtime_provided,
            keep_bytecode=settings.bytecode,
        )
        zipped = await anyio.to_thread.run_sync(
            _zip,
            dest,
            out / ZIP_NAME,
            patterns,
            settings.compression_level,
            anyio.from_thread.check_cancelled,
        )
        if zipped.files == 0 and await anyio.to_thread.run_sync(_has_files, dest, settings.bytecode):
            await self.warn(
                f"the exclude patterns removed every file from the layer (exclude = {list(settings.exclude)}"
                f"{', exclude-runtime-provided' if settings.exclude_runtime_provided else ''}): {ZIP_NAME} is empty"
            )
        if zipped.over_direct_upload_limit:
            await self.warn(
                f"{ZIP_NAME} is {zipped.zipped_size:,} bytes zipped, over the 50 MB direct-upload "
                "limit: publish it through S3"
            )
        await log(
            f"zip: {zipped.files} files, {zipped.unzipped_size:,} bytes -> "
            f"{zipped.zipped_size:,} bytes, sha256 {zipped.sha256}"
        )
        await anyio.to_thread.run_sync(_swap_artifacts, staging[0], out / ARTIFACTS)
        staging.clear()
        fields = {
            "zip_path": str(zipped.path),
            "files": zipped.files,
            "unzipped_size": zipped.unzipped_size,
            "zipped_size": zipped.zipped_size,
            "sha256": zipped.sha256,
            "elf_files": audit.elf_files,
            "max_glibc": str(audit.max_glibc) if audit.max_glibc else None,
            **image_fields,
        }
        await anyio.to_thread.run_sync(
            _write_atomic,
            out / STAMP_NAME,
            Stamp(key=key, sha256=zipped.sha256, result=StampResult.model_validate(fields)).model_dump_json(
                indent=2
            ),
        )
        return "built", fields


class TargetLog:
    """A target's log sink: masks secrets (they never reach build.log, the terminal or a
    report), keeps only the tail in memory, writes build.log and emits the lines.

    build.log is opened only once the target really builds (``open``): until then lines wait
    in memory, so an up-to-date target keeps the log of the build that made its zip. It is
    created afresh, never through a link or into a file someone else left at that name."""

    def __init__(self, target: str, path: Path, tail: deque[str], mask: Masker, emit: Emit) -> None:
        self.target, self.path, self.tail, self.mask, self.emit = target, path, tail, mask, emit
        self._file: TextIO | None = None
        self._pending: list[str] = []

    async def __call__(self, line: str) -> None:
        await self.batch([line])

    async def batch(self, lines: list[str]) -> None:
        if self.mask.active:
            lines = [self.mask(line) for line in lines]
        self.tail.extend(lines)
        self._write(lines)
        await self.emit(LogLines(self.target, tuple(lines)))

    def record(self, line: str) -> None:
        """To build.log only (an event carries it to the reporters)."""
        self._write([self.mask(line)])

    def _write(self, lines: list[str]) -> None:
        if self._file is None:
            self._pending.extend(lines)
        else:
            self._file.write("\n".join(lines) + "\n")

    def open(self) -> None:
        if self._file is not None:
            return
        if self.path.is_symlink() or self.path.exists():
            self.path.unlink()  # a link is removed, never followed; so is a read-only file
        fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC, 0o644)
        self._file = os.fdopen(fd, "w", encoding="utf-8")
        if self._pending:
            self._file.write("\n".join(self._pending) + "\n")
            self._pending.clear()

    def close(self, *, keep: bool) -> None:
        """Close build.log; ``keep``: write the lines still waiting (a target that failed
        before it built), else drop them (an up-to-date target)."""
        try:
            if keep and self._file is None and self._pending:
                self.open()
        except OSError:
            pass  # the failure is already in the result; there is just no build.log for it
        finally:
            if self._file is not None:
                self._file.close()
                self._file = None
            self._pending.clear()


def _relative(path: Path, root: Path) -> str:
    try:
        return str(path.relative_to(root))
    except ValueError:
        return str(path)


def _zip(root: Path, dest: Path, patterns: list[str], level: int, check_cancelled: Callable[[], None]) -> Any:
    return write_zip(collect(root, patterns), dest, level=level, check_cancelled=check_cancelled)


def _input_key(target: Target, fingerprint: str, requirements: str) -> str:
    """Everything that decides the zip's bytes; equal keys mean an identical build."""
    material = {
        "layerctl": __version__,
        "runtime": target.runtime.model_dump(),
        "arch": target.arch.value,
        "builder": target.builder,
        "executor": fingerprint,
        "tool": target.layer.tool.value,
        "settings": target.settings.model_dump(mode="json", exclude={"python", "arch", "output"}),
        "requirements": requirements,
        "source_date_epoch": os.environ.get("SOURCE_DATE_EPOCH", ""),
    }
    return hashlib.sha256(json.dumps(material, sort_keys=True).encode()).hexdigest()


class StampResult(BaseModel):
    """The fields of the last good build that an up-to-date target reports again."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    zip_path: str
    files: int
    unzipped_size: int
    zipped_size: int
    sha256: str
    elf_files: int
    max_glibc: str | None = None
    image: str | None = None
    image_id: str | None = None


class Stamp(BaseModel):
    """``.layerctl-stamp.json``: the input key of the last good build and what it made."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    key: str
    sha256: str
    result: StampResult


def _up_to_date(out: Path, key: str) -> Stamp | None:
    """The last good build's stamp if its inputs equal ``key`` and its zip is intact. A stamp
    that cannot be read, is not ours or has fields of the wrong type counts as no stamp."""
    try:
        fd = os.open(out / STAMP_NAME, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC)
        with os.fdopen(fd, "rb") as fh:
            stamp = Stamp.model_validate_json(fh.read())
        zip_path = out / ZIP_NAME
        if stamp.key != key or zip_path.is_symlink() or not (out / ARTIFACTS / "python").is_dir():
            return None
        if sha256_file(zip_path) != stamp.sha256:
            return None
    except (OSError, ValueError):  # pydantic's ValidationError is a ValueError
        return None
    return stamp


def _target_dir(out: Path) -> None:
    """The target's own directory (its parent, the output directory, is claimed by the run),
    cleared of what a killed run left there: nothing else holds it while the run lock is held."""
    out.mkdir(exist_ok=True)
    remove_leftovers(out)


def _requirement_lines(requirements: str) -> list[str]:
    lines = (line.split("#")[0].strip() for line in requirements.splitlines())
    return [line for line in lines if line and not line.startswith("-")]


def _empty_because(target: Target) -> str:
    layer = target.layer
    if layer.tool.value == "pip":
        return f"it has no dependencies ([project.dependencies] in {layer.pyproject} is empty)"
    return f"its {layer.tool.value} lock holds no dependencies for {target.id}"


def _has_files(root: Path, keep_bytecode: bool) -> bool:
    """Whether the tree has files to zip before the user's excludes take any away."""
    return bool(collect(root, exclude_patterns((), runtime_provided=False, keep_bytecode=keep_bytecode)))


def _write_atomic(path: Path, text: str) -> None:
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        with suppress(OSError):
            os.unlink(tmp)
        raise


def _swap_artifacts(staging: Path, artifacts: Path) -> None:
    old: Path | None = None
    if artifacts.exists():
        old = artifacts.with_name(f".{ARTIFACTS}-old-{os.getpid()}-{time.monotonic_ns()}")
        os.replace(artifacts, old)
    os.chmod(staging, 0o755)  # mkdtemp made it private
    os.replace(staging, artifacts)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)


def _interpreter_for(python: str) -> str | None:
    if f"{sys.version_info.major}.{sys.version_info.minor}" == python:
        return sys.executable
    return shutil.which(f"python{python}")


async def _compile_bytecode(target: Target, dest: Path, log: Any, warn: Any) -> None:
    """Precompile with unchecked-hash pycs: zip mtimes are fixed, so timestamp pycs would be
    stale on every cold start and recompiled in memory each time."""
    interpreter = _interpreter_for(target.python)
    if interpreter is None:
        await warn(f"bytecode = true but no python{target.python} on this machine; the zip has no .pyc files")
        return
    argv = [
        interpreter,
        "-m",
        "compileall",
        "-q",
        "-j",
        "0",
        "--invalidation-mode",
        "unchecked-hash",
        "-s",
        str(dest),
        "-p",
        "/opt/python",
        str(dest),
    ]
    result = await run_streaming(argv, log)
    if result.returncode != 0:
        raise BuildError(f"bytecode compilation failed (exit {result.returncode}); see {LOG_NAME}")


class _PhaseClock:
    """Wall time per phase of one target, for the report."""

    def __init__(self) -> None:
        self.phases: dict[str, float] = {}
        self._current: str | None = None
        self._since = time.monotonic()

    def enter(self, name: str) -> None:
        self.close()
        self._current, self._since = name, time.monotonic()

    def close(self) -> dict[str, float]:
        if self._current is not None:
            spent = time.monotonic() - self._since  # summed over attempts when a target is retried
            self.phases[self._current] = round(self.phases.get(self._current, 0.0) + spent, 3)
            self._current = None
        return self.phases
