"""The images of a run, each checked once however many targets ask: present (pulled when asked
or missing, with retries for a registry's bad moment), of the target's architecture, and able
to run here with the target's Python (QEMU/binfmt for a foreign arch). A target waits only for
its own image, so builds start while other images are still being checked."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

import aiodocker

from ...core.errors import BuildError, EnvironmentProblem
from ...core.once import Once
from ...core.process import LineSink
from ...core.retry import attempts
from ...core.runtimes import Arch
from ..failures import diagnose
from .engine import DockerEngine, short
from .probe import BINFMT_FIX, PROBE, SelfProbe

__all__ = ["ImageInfo", "Images", "Pull"]

Pull = Literal["missing", "always", "never"]


@dataclass(frozen=True)
class ImageInfo:
    name: str
    arch: Arch
    id: str
    digest: str | None


class Images:
    """Image checks for one run on one engine."""

    def __init__(
        self,
        engine: DockerEngine,
        *,
        pull: Pull = "missing",
        pull_retries: int = 0,
        progress: LineSink | None = None,
    ) -> None:
        self.engine, self.pull, self.pull_retries = engine, pull, pull_retries
        self.progress: LineSink = progress or _ignore
        self._images: Once[ImageInfo] = Once()
        self._probes: Once[str] = Once()

    @property
    def docker(self) -> aiodocker.Docker:
        return self.engine.docker

    async def ensure(self, image: str, arch: Arch) -> ImageInfo:
        """The image, checked once per run however many targets ask: pulled if asked or
        missing, and of the right architecture (a wrong one is refused, never built with)."""
        return await self._images.get((image, arch), lambda: self._check_image(image, arch))

    async def runnable(self, image: str, arch: Arch, python: str) -> str:
        """Probe, once per run, that containers of the image run here on the target's platform
        (QEMU/binfmt for a foreign arch) and hold ``pythonX.Y``; return the image's pip version."""
        return await self._probes.get((image, arch, python), lambda: self._check_runs(image, arch, python))

    async def _check_image(self, image: str, arch: Arch) -> ImageInfo:
        say, pull = self.progress, self.pull
        info = await self._inspect(image)
        if pull == "always" or (info is None and pull == "missing"):
            await say(f"pulling {image} ({arch.docker_platform})")
            try:
                await self._pull(image, arch, say)
            except aiodocker.DockerError as exc:
                if info is None:
                    raise EnvironmentProblem(
                        f"image {image} is not on this machine and could not be pulled ({short(exc)}); "
                        "pull or build it, or set `image` to one you have"
                    ) from None
                await say(f"pull of {image} failed ({short(exc)}); using the local image")
            info = await self._inspect(image)
        if info is None:
            raise EnvironmentProblem(
                f"image {image} is not on this machine (pull = never); pull or build it first"
            )
        found = info.get("Architecture", "?")
        if found != arch.docker_arch:
            raise EnvironmentProblem(
                f"image {image} is built for {found}, but the target is {arch}; use the image made for {arch}"
            )
        digests = info.get("RepoDigests") or []
        image_info = ImageInfo(image, arch, info["Id"], digests[0] if digests else None)
        await say(f"image {image} ({arch}): {image_info.digest or image_info.id[:19]}")
        return image_info

    async def _check_runs(self, image: str, arch: Arch, python: str) -> str:
        say = self.progress
        probe = SelfProbe(arch, _ignore)
        config = {"Image": image, "Entrypoint": ["/bin/sh", "-c"], "Cmd": [PROBE.format(python=python)]}
        try:
            code = await self.engine.run(config, arch, f"probe-{arch}", probe)
        except BuildError as exc:
            raise EnvironmentProblem(
                f"cannot run {arch} containers of {image} ({exc}): " + BINFMT_FIX
            ) from None
        pip = probe.outcome(code, image, python)
        await say(f"image {image} ({arch}) runs here: {pip}")
        return pip

    async def _pull(self, image: str, arch: Arch, say: LineSink) -> None:
        """Pull, retrying a registry's or the network's bad moment (``pull_retries`` times,
        1 s, 2 s, 4 s ... apart); a refusal (no such image, no access) is not retried."""

        async def pull() -> aiodocker.DockerError | None:
            try:
                await self.docker.images.pull(image, platform=arch.docker_platform)
            except aiodocker.DockerError as exc:
                return exc
            return None

        def transient(error: aiodocker.DockerError | None) -> bool:
            return error is not None and (error.status >= 500 or diagnose([short(error)]).transient)

        async def before_retry(number: int, delay: float, error: aiodocker.DockerError | None) -> None:
            await say(
                f"pull of {image} failed ({short(error) if error else '?'}); retry {number}/{self.pull_retries} in {delay:g}s"
            )

        error, _tries = await attempts(
            pull, retries=self.pull_retries, transient=transient, before_retry=before_retry
        )
        if error is not None:
            raise error

    async def _inspect(self, image: str) -> dict[str, Any] | None:
        try:
            return dict(await self.docker.images.inspect(image))
        except aiodocker.DockerError as exc:
            if exc.status == 404:
                return None
            raise EnvironmentProblem(f"cannot inspect image {image}: {short(exc)}") from exc


async def _ignore(line: str) -> None:
    return None
