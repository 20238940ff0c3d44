"""Container builds: pip inside the target's build image (the SAM build image by default), on
the target's platform, installs the requirement set resolved on the host."""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from pathlib import Path

import anyio

from ...core.errors import BuildError, ConfigError
from ...core.events import Phase
from ...core.process import BatchSink
from ...core.runtimes import Arch
from ...plan.targets import Target
from ..places import default_cache_dir
from . import (
    Executor,
    ExecutorSetup,
    InstallOutcome,
    InstallRequest,
    SdistBuilder,
    SdistRequest,
    WheelRequest,
)
from .endpoints import DEFAULT
from .images import ImageInfo
from .pool import Slot, run_pool
from .probe import BUILD_SCRIPT, DIRECT_HOOK, SDIST_SCRIPT, SECRETS_DIR, WHEEL_SCRIPT, SelfProbe

__all__ = ["ContainerExecutor"]


@asynccontextmanager
async def open_executor(setup: ExecutorSetup) -> AsyncIterator[ContainerExecutor]:
    """The container executor of a run. It connects to the engine when the first target needs
    it: an engine that cannot be reached fails the container targets, never the native ones."""
    async with AsyncExitStack() as stack:
        executor = ContainerExecutor(setup, stack)
        try:
            yield executor
        finally:
            with anyio.CancelScope(shield=True):
                for warning in executor.warnings():
                    await setup.progress(f"warning: {warning}")


class ContainerExecutor:
    """pip inside the target's build image installs the requirement set resolved on the host.

    Resolution (uv export, poetry.lock, [project.dependencies]) already happened on the host, so
    the image needs only its own Python and pip: nothing is installed from the network into the
    image, and pip, Poetry and uv projects all build the same way."""

    name = "container"
    prepare_phase: Phase | None = "pulling"  # the image's check (and pull), once per run

    def __init__(self, setup: ExecutorSetup, stack: AsyncExitStack) -> None:
        self.setup, self._stack = setup, stack
        self.cache_dir = setup.cache_dir or default_cache_dir()
        self.network = setup.network  # Docker's NetworkMode for build containers (None: the engine's)
        # the run's engines (shared with any builder that runs containers), connected when needed
        self.pool = run_pool(setup, stack)

    def cost(self, target: Target) -> float:
        # pip in a container; under QEMU an arm64 build takes 4.5-6 times as long
        return 2.0 if target.arch is Arch.host() else 6.0

    async def prepare(self, target: Target) -> None:
        await self._image(target)

    def warnings(self) -> list[str]:
        return self.pool.warnings()

    async def _image(self, target: Target) -> ImageInfo:
        """The target's image on the engine it goes to first (its id is part of the target's key)."""
        return await self.pool.on_preferred(target.arch, lambda i: i.ensure(target.build_image, target.arch))

    async def fingerprint(self, target: Target) -> str:
        return (await self._image(target)).id

    async def install(self, request: InstallRequest, log: BatchSink) -> InstallOutcome:
        target = request.target
        layer_root = str(target.layer.root)
        binds = [
            # the layer project at its own path, read-only, so file: references in it resolve
            f"{layer_root}:{layer_root}:ro",
            f"{request.dest.parent}:/layerctl/out:rw",
            f"{request.requirements}:/layerctl/requirements.txt:ro",
            # the local files the set names outside the layer (sdists, wheels, in-repo wheels):
            # each at its own path, as the host installs it
            *(f"{path}:{path}:ro" for path in request.mounts if not path.is_relative_to(layer_root)),
        ]
        await log(
            f"$ docker run --platform {target.arch.docker_platform} {target.build_image} "
            f"python{target.python} -m pip install --target python -r requirements.txt"
        )
        info, versions, engine = await self._run(
            target, BUILD_SCRIPT, binds, request, log, what="pip install"
        )
        return InstallOutcome(
            tool_versions=versions, image=target.build_image, image_id=info.id, engine=engine
        )

    async def build_wheel(self, request: WheelRequest, log: BatchSink) -> None:
        """pip wheel in the target's image: a compiled in-repo project built for its platform."""
        target = request.target
        binds = [f"{request.source}:/layerctl/src:rw", f"{request.out_dir}:/layerctl/wheel:rw"]
        await log(
            f"$ docker run --platform {target.arch.docker_platform} {target.build_image} "
            f"python{target.python} -m pip wheel --no-deps {request.project}"
        )
        await self._run(target, WHEEL_SCRIPT, binds, request, log, what=f"pip wheel of {request.project}")

    async def image_info(self, target: Target) -> ImageInfo:
        """The target's image as checked on the engine its steps go to first."""
        return await self._image(target)

    async def image_digest(self, target: Target) -> str:
        info = await self._image(target)
        return info.digest or info.id

    async def build_sdist(self, request: SdistRequest, log: BatchSink) -> str:
        """pip wheel in the target's image: a package with no wheel for it, from its sdist."""
        target = request.target
        binds = [
            f"{request.out_dir}:/layerctl/wheel:rw",
            f"{request.requirements}:/layerctl/requirements.txt:ro",
        ]
        if request.source is not None:
            binds.append(f"{request.source}:{request.source}:ro")
            if request.build_env is not None:  # built directly (probe.DIRECT_HOOK), pip if that fails
                binds += [
                    f"{request.source}:/layerctl/sdist.tar.gz:ro",
                    f"{request.build_env}:/layerctl/buildenv:ro",
                ]
        pin = request.source or f"{request.name}=={request.version}"
        how = (
            f"python{target.python} -S (its backend {request.backend}: build_wheel)"
            if request.build_env is not None
            else f"python{target.python} -m pip wheel --no-deps --no-binary {request.name}"
        )
        await log(f"$ docker run --platform {target.arch.docker_platform} {target.build_image} {how} {pin}")
        what = (
            f"the build of {request.source.name}"  # a local sdist: it has no other form
            if request.source is not None
            else f"pip wheel of {pin} (no wheel for {target.runtime.manylinux} {target.arch.machine})"
        )
        _info, _versions, engine = await self._run(
            target, SDIST_SCRIPT, binds, request, log, what=what, name=request.name
        )
        return engine

    async def _run(
        self,
        target: Target,
        script: str,
        binds: list[str],
        request: InstallRequest | WheelRequest | SdistRequest,
        log: BatchSink,
        *,
        what: str,
        name: str = "",
    ) -> tuple[ImageInfo, dict[str, str], str]:
        """Run the script on an engine for the target's arch (``pool.on_engine``: moved to
        another engine, from an empty output, when its engine stops answering)."""

        async def step(slot: Slot) -> tuple[ImageInfo, dict[str, str], str]:
            await anyio.to_thread.run_sync(_empty, _output_of(request))
            if len(self.pool.decls) > 1 or slot.name != DEFAULT:  # a table: say where it runs
                await log(f"engine {slot.name}" + ("" if slot.native else f" (emulating {target.arch})"))
            return await self._run_on(slot, target, script, binds, request, log, what=what, name=name)

        return await self.pool.on_engine(target.arch, step, label=target.id)

    async def _run_on(
        self,
        slot: Slot,
        target: Target,
        script: str,
        binds: list[str],
        request: InstallRequest | WheelRequest | SdistRequest,
        log: BatchSink,
        *,
        what: str,
        name: str = "",
    ) -> tuple[ImageInfo, dict[str, str], str]:
        image = target.build_image
        info = await slot.images.ensure(image, target.arch)
        cache = self.cache_dir / f"pip-{target.arch}"
        cache.mkdir(parents=True, exist_ok=True)
        env = {
            "HOME": "/tmp",
            "PIP_CACHE_DIR": "/layerctl/cache",
            "PIP_DISABLE_PIP_VERSION_CHECK": "1",
            "PIP_NO_INPUT": "1",
            "PIP_PROGRESS_BAR": "off",
            "PIP_ROOT_USER_ACTION": "ignore",
            "PYTHONDONTWRITEBYTECODE": "1",
        }
        if isinstance(request, SdistRequest) and request.build_env is not None:
            env.update(
                LAYERCTL_HOOK=DIRECT_HOOK,
                LAYERCTL_BACKEND=request.backend,
                LAYERCTL_BACKEND_PATH=json.dumps(list(request.backend_path)),
            )
        extra = request.extra_index_urls if not isinstance(request, WheelRequest) else ()
        files = await _pip_files(request.index_url, request.ca_bundle, extra)
        if files:  # pip finds the index (credentials included) and the CA bundle in its tmpfs
            env["PIP_CONFIG_FILE"] = f"{SECRETS_DIR}/pip.conf"
        config = {
            "Image": image,
            "Entrypoint": ["/bin/sh", "-c"],
            "Cmd": [script.format(python=target.python, name=name)],
            "Env": [f"{k}={v}" for k, v in env.items()],
            "User": f"{os.getuid()}:{os.getgid()}",  # outputs belong to the invoking user
            "WorkingDir": "/tmp",
            "HostConfig": {
                "Binds": [*binds, f"{cache}:/layerctl/cache:rw"],
                **({"NetworkMode": self.network} if self.network else {}),
            },
        }
        probe = SelfProbe(target.arch, log)
        code = await slot.engine.run(config, target.arch, target.id, probe, files=files)
        if code in (128 + 9, 128 + 15):  # killed: by its engine shutting down? the pool tells (on_engine)
            raise BuildError(f"{what} in {image} was killed (exit {code}); see build.log", transient=True)
        versions = {"image": info.digest or info.id, "pip": probe.outcome(code, image, target.python)}
        if code != 0:
            raise BuildError(f"{what} in {image} failed (exit {code}); see build.log")
        return info, versions, slot.name


def _output_of(request: InstallRequest | WheelRequest | SdistRequest) -> Path:
    return request.dest if isinstance(request, InstallRequest) else request.out_dir


def _empty(directory: Path) -> None:
    """A step's output directory (layerctl's own) emptied before it runs, so a step moved from a
    lost engine never leaves half of an earlier attempt behind."""
    if directory.is_dir() and not directory.is_symlink():
        for entry in directory.iterdir():
            if entry.is_dir() and not entry.is_symlink():
                shutil.rmtree(entry)
            else:
                entry.unlink()


async def _pip_files(
    index_url: str | None, ca_bundle: Path | None, extra_index_urls: tuple[str, ...] = ()
) -> dict[str, bytes]:
    """What pip in the container needs of the index: a pip.conf naming it (with its credentials)
    and the extra CA bundle, delivered through stdin (``DockerEngine.run``), never mounted or set
    in the container's environment."""
    files: dict[str, bytes] = {}
    conf = ["[global]"]
    if index_url:
        # pip reads its config raw (no %-interpolation); quoted credentials hold no newline
        conf.append(f"index-url = {index_url}")
    if extra_index_urls:  # one value, the URLs on indented lines (pip splits at spaces)
        conf.append("extra-index-url =" + "".join(f"\n    {url}" for url in extra_index_urls))
    if ca_bundle:
        pem = await anyio.Path(ca_bundle).read_bytes()
        if b"\0" in pem:
            raise ConfigError(f"ca-bundle {ca_bundle}: not a PEM file (it holds binary data)")
        files["ca.pem"] = pem
        conf.append(f"cert = {SECRETS_DIR}/ca.pem")
    if len(conf) > 1:
        files["pip.conf"] = "\n".join(conf).encode() + b"\n"
    return files


_IS_AN_EXECUTOR: type[Executor] = ContainerExecutor  # mypy: this builder keeps to both roles
_BUILDS_SDISTS: type[SdistBuilder] = ContainerExecutor
