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
from collections.abc import Callable
from contextlib import suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import anyio
import anyio.from_thread
import anyio.to_thread

from . import __version__
from .audit import audit_tree
from .errors import BuildError, ConfigError, EnvironmentProblem, LayerctlError
from .events import Emit, LogLine, Phase, PhaseStarted, TargetFinished, TargetResult, TargetStarted, Warning
from .executors import Executor, InstallRequest
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
    """Build one target; never raises for a build failure (the result says it), only on cancel."""
    mask = ctx.masker
    started = time.monotonic()
    out = target.out_dir
    tool_versions: dict[str, str] = {}
    warnings: list[str] = []
    await emit(TargetStarted(target.id, target.builder))
    out.mkdir(parents=True, exist_ok=True)
    log_path = out / LOG_NAME
    staging: Path | None = None
    clock = _PhaseClock()

    async def phase(name: Phase) -> None:
        clock.enter(name)
        await emit(PhaseStarted(target.id, name))

    with log_path.open("w", encoding="utf-8") as log_file:

        async def log(line: str) -> None:
            line = mask(line)  # secrets never reach build.log, the terminal or a report
            log_file.write(line + "\n")
            await emit(LogLine(target.id, line))

        async def warn(message: str) -> None:
            warnings.append(message)
            log_file.write(f"warning: {message}\n")
            await emit(Warning(target.id, message))

        def finish(status: Any, **fields: Any) -> TargetResult:
            return result_for(
                target,
                status=status,
                duration_s=round(time.monotonic() - started, 3),
                phases_s=clock.close(),
                tool_versions=tool_versions,
                warnings=warnings,
                log=str(log_path),
                **fields,
            )

        try:
            await phase("resolving")
            requirements = await requirements_for(target)
            req_path = out / "requirements.txt"
            await anyio.to_thread.run_sync(_write_atomic, req_path, requirements)
            key = _input_key(target, await executor.fingerprint(target), requirements)
            previous = await anyio.to_thread.run_sync(_up_to_date, out, key)
            if previous is not None and not ctx.force:
                await log(f"up to date: inputs unchanged since the last build ({previous['sha256'][:12]})")
                result = finish("up-to-date", **previous["result"])
                await emit(TargetFinished(result))
                return result

            staging = Path(tempfile.mkdtemp(prefix=".staging-", dir=out))
            dest = staging / "python"
            dest.mkdir()
            await phase("installing")
            request = InstallRequest(
                target=target,
                requirements=req_path,
                dest=dest,
                index_url=ctx.index_url(target),
                ca_bundle=ctx.ca_bundle(target),
            )
            installed = await executor.install(request, log)
            tool_versions.update(installed.tool_versions)
            image_fields = {"image": installed.image, "image_id": installed.image_id}

            fixed = await anyio.to_thread.run_sync(fix_scripts, dest, target.python)
            if fixed:
                await log(f"scripts: {len(fixed)} shebangs now name the runtime's interpreter")

            await phase("auditing")
            audit = await anyio.to_thread.run_sync(
                audit_tree, dest, target.arch, target.runtime.glibc_version
            )
            await log(
                f"audit: {audit.elf_files} ELF files, all {target.arch.machine}, "
                f"max GLIBC {audit.max_glibc or '-'} <= {target.runtime.glibc}"
            )

            settings = target.settings
            if settings.bytecode:
                await phase("compiling")
                await _compile_bytecode(target, dest, log, warn)

            await phase("zipping")
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
            if zipped.over_direct_upload_limit:
                await warn(
                    f"{ZIP_NAME} is {zipped.zipped_size:,} bytes zipped, over the 50 MB direct-upload "
                    "limit: publish it through S3"
                )
            await log(
                f"zip: {zipped.files} files, {zipped.unzipped_size:,} bytes -> "
                f"{zipped.zipped_size:,} bytes, sha256 {zipped.sha256}"
            )
            await anyio.to_thread.run_sync(_swap_artifacts, staging, out / ARTIFACTS)
            staging = None
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
                json.dumps({"key": key, "sha256": zipped.sha256, "result": fields}, indent=2),
            )
            result = finish("built", **fields)
        except EnvironmentProblem as exc:  # not this target's fault: the run stops (scheduler)
            log_file.write(f"error: {mask(exc.message)}\n")
            raise
        except LayerctlError as exc:
            message = mask(exc.message)
            log_file.write(f"error: {message}\n")
            result = finish("failed", error=message)
        except OSError as exc:
            message = mask(f"{exc.strerror or exc}: {exc.filename}" if exc.filename else str(exc))
            log_file.write(f"error: {message}\n")
            result = finish("failed", error=message)
        finally:
            if staging is not None:
                with anyio.CancelScope(shield=True):
                    await anyio.to_thread.run_sync(shutil.rmtree, staging, True)
    await emit(TargetFinished(result))
    return result


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


def _up_to_date(out: Path, key: str) -> dict[str, Any] | None:
    """The last good build's stamp if its inputs equal ``key`` and its zip is intact."""
    try:
        stamp = json.loads((out / STAMP_NAME).read_text("utf-8"))
        if stamp.get("key") != key or not (out / ARTIFACTS / "python").is_dir():
            return None
        if sha256_file(out / ZIP_NAME) != stamp.get("sha256"):
            return None
    except (OSError, ValueError):
        return None
    return dict(stamp)


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
            self.phases[self._current] = round(time.monotonic() - self._since, 3)
            self._current = None
        return self.phases
