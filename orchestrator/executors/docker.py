"""Container builds on a Docker engine (aiodocker): the target's SAM build image, on the target's
platform, many at once.

One ``DockerEngine`` per run: it checks each distinct image once, when the first target needs it
(present, pulled if asked, the right architecture), and gives out containers as async context
managers that are always removed, even on Ctrl-C. Each build container first reports its
machine (no QEMU/binfmt for a foreign arch: one clear error), Python and pip, then runs pip.
``verify`` probes its images the same way in a container of their own (``runnable``).

Secrets never reach the engine's records. The engine keeps a container's configuration (its
environment, command, labels) on disk under its data root, shows it to anyone who may talk to it
(``docker inspect``) and keeps it with ``--keep-containers``. So what a container must not show
(index credentials; the CA bundle goes the same way) travels on its standard input instead: the
container is created with stdin open, layerctl attaches, starts it, writes the files and closes
stdin; the script reads them into a tmpfs (memory only, mode 0700, the container user's) that
vanishes when the container stops. pip reads them from there (``PIP_CONFIG_FILE``). As a last
line of defence the engine refuses to create a container whose configuration holds a secret.
"""

from __future__ import annotations

import json
import os
import re
import socket
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Hashable, Iterable, Mapping
from contextlib import AsyncExitStack, asynccontextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Generic, Literal, TypeVar

import aiodocker
import aiohttp
import anyio

from ..errors import BuildError, ConfigError, EnvironmentProblem
from ..failures import diagnose
from ..plan import Target
from ..process import BatchSink, LineSink, lines_to
from ..retry import backoff
from ..runtimes import Arch
from ..secrets import Masker
from . import InstallOutcome, InstallRequest

__all__ = [
    "LABEL",
    "SECRETS_DIR",
    "ContainerExecutor",
    "DockerEngine",
    "ImageInfo",
    "Pull",
    "receive_script",
    "stdin_payload",
]

LABEL = "layerctl"  # every container layerctl creates carries it (value: the run id)
Pull = Literal["missing", "always", "never"]
T = TypeVar("T")
_DOCKER_ARCH = {Arch.X86_64: "amd64", Arch.ARM64: "arm64"}
_BINFMT_FIX = (
    "register QEMU for it: apt-get install qemu-user-static binfmt-support && "
    "update-binfmts --enable qemu-aarch64 (or docker run --privileged --rm tonistiigi/binfmt --install arm64)"
)
# Where a container finds the files it got on stdin: a tmpfs, so they live in memory only.
SECRETS_DIR = "/layerctl/secrets"
_FILE_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*")
_FEED_TIMEOUT = 120  # seconds to hand the files over; then stdin is closed whatever is left
# Every container layerctl runs in an image first probes itself: its machine (a foreign arch
# without QEMU/binfmt never gets this far: /bin/sh cannot start), its Python, and pip's version
# (from the dist-info, not by starting Python: under emulation that alone takes a second).
_PROBE_MARK = "layerctl-probe:"
_NO_PYTHON = 97
_PROBE_BODY = """echo "layerctl-probe: machine $(uname -m)"
py=$(command -v python{python}) || {{ echo "layerctl: python{python} not found in the image" >&2; exit 97; }}
prefix=${{py%/bin/*}}
pip=$(ls -d "$prefix"/lib/python{python}/site-packages/pip-*.dist-info \
      "$prefix"/lib/python3/dist-packages/pip-*.dist-info 2>/dev/null | head -n 1) || true
echo "layerctl-probe: pip ${{pip:-unknown}}"
"""
_PROBE = "set -eu\n" + _PROBE_BODY


def receive_script(directory: str) -> str:
    """The receiving end of ``stdin_payload``, in POSIX sh (no tool the image might lack): frames
    ``file NAME LINES`` and LINES lines each, then ``end``, become files in ``directory``, readable
    by the container's user only. With nothing on stdin it finds EOF at once."""
    return f"""secrets='{directory}'
umask 077
while IFS=' ' read -r kind name lines; do
  [ "$kind" = file ] || break
  n=0
  while [ "$n" -lt "$lines" ] && IFS= read -r line; do printf '%s\\n' "$line"; n=$((n + 1)); done >"$secrets/$name"
done
umask 022
"""


def stdin_payload(files: Mapping[str, bytes]) -> bytes:
    """Text files framed for ``receive_script`` (a missing last newline is added)."""
    out = bytearray()
    for name, data in files.items():
        if not _FILE_NAME.fullmatch(name) or b"\0" in data:
            raise ValueError(f"cannot hand {name!r} to a container: a plain name and text only")
        if data and not data.endswith(b"\n"):
            data += b"\n"
        lines = data.count(b"\n")
        out += f"file {name} {lines}\n".encode() + data
    return bytes(out + b"end\n")


# A build: the files from stdin (read first, so the writer never waits), the probe, then pip.
_SCRIPT = (
    "set -eu\n"
    + receive_script(SECRETS_DIR)
    + _PROBE_BODY
    + """exec "$py" -m pip install --no-compile --prefer-binary --target /layerctl/out/python \\
    --requirement /layerctl/requirements.txt
"""
)


@dataclass(frozen=True)
class ImageInfo:
    name: str
    arch: Arch
    id: str
    digest: str | None


@dataclass
class _Entry(Generic[T]):
    done: anyio.Event = field(default_factory=anyio.Event)
    value: T | None = None
    error: EnvironmentProblem | None = None


class _Once(Generic[T]):
    """Work done once per key however many tasks ask at once: the first asker does it, the
    others wait for its answer. A problem found is remembered; a cancelled attempt is not."""

    def __init__(self) -> None:
        self._entries: dict[Hashable, _Entry[T]] = {}

    async def get(self, key: Hashable, work: Callable[[], Awaitable[T]]) -> T:
        entry = self._entries.get(key)
        if entry is None:
            entry = self._entries[key] = _Entry()
            try:
                entry.value = await work()
            except EnvironmentProblem as exc:
                entry.error = exc
            except BaseException:
                del self._entries[key]  # the next asker starts over
                entry.done.set()
                raise
            entry.done.set()
        else:
            await entry.done.wait()
            if entry.value is None and entry.error is None:  # the first asker was cancelled
                return await self.get(key, work)
        if entry.error is not None:
            raise entry.error
        assert entry.value is not None
        return entry.value


class DockerEngine:
    """A connection to the engine for one run, and the images it has checked."""

    def __init__(
        self,
        *,
        run_id: str | None = None,
        keep_containers: bool = False,
        pull_retries: int = 0,
        masker: Masker | None = None,
    ) -> None:
        self.run_id = run_id or uuid.uuid4().hex[:12]
        self.keep_containers = keep_containers
        self.pull_retries = pull_retries
        self.masker = masker or Masker()  # the secrets no container's configuration may hold
        self._images: _Once[ImageInfo] = _Once()
        self._probes: _Once[str] = _Once()
        self._docker: aiodocker.Docker | None = None

    async def __aenter__(self) -> DockerEngine:
        try:
            self._docker = aiodocker.Docker()
            await self._docker.version()
        except Exception as exc:  # aiohttp, OSError, DockerError: all mean "not reachable"
            if self._docker is not None:
                await self._docker.close()
            where = os.environ.get("DOCKER_HOST", "unix:///var/run/docker.sock")
            raise EnvironmentProblem(
                f"Docker engine not reachable at {where} ({_short(exc)}); start it "
                "(systemctl start docker, or dockerd) or set DOCKER_HOST"
            ) from None
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self._docker is not None:
            with anyio.CancelScope(shield=True):
                await self._docker.close()

    @property
    def docker(self) -> aiodocker.Docker:
        assert self._docker is not None, "use DockerEngine as an async context manager"
        return self._docker

    async def prepare(
        self,
        wanted: Iterable[tuple[str, Arch, str]],
        *,
        pull: Pull = "missing",
        progress: LineSink | None = None,
    ) -> None:
        """Check every (image, arch, python) at once; raise the first problem found."""
        todo = sorted(set(wanted), key=lambda w: (w[0], w[1].value))
        problems: list[EnvironmentProblem] = []

        async def one(image: str, arch: Arch, python: str) -> None:
            try:
                await self.ensure(image, arch, pull=pull, progress=progress)
                await self.runnable(image, arch, python, progress=progress)
            except EnvironmentProblem as exc:
                problems.append(exc)

        async with anyio.create_task_group() as tg:
            for image, arch, python in todo:
                tg.start_soon(one, image, arch, python)
        if problems:
            raise problems[0]

    async def ensure(
        self,
        image: str,
        arch: Arch,
        *,
        pull: Pull = "missing",
        progress: LineSink | None = None,
    ) -> ImageInfo:
        """The image, checked once per run however many targets ask: pulled if asked or
        missing, and of the right architecture (a wrong one is refused, never built with).
        A target waits only for its own image, so builds start while other images are checked."""
        return await self._images.get(
            (image, arch), lambda: self._check_image(image, arch, pull, progress or _ignore)
        )

    async def runnable(self, image: str, arch: Arch, python: str, *, progress: LineSink | None = None) -> str:
        """Probe, once per run, that containers of the image run here on the target's platform
        (QEMU/binfmt for a foreign arch) and hold ``pythonX.Y``; return the image's pip version."""
        return await self._probes.get(
            (image, arch, python), lambda: self._check_runs(image, arch, python, progress or _ignore)
        )

    async def _check_image(self, image: str, arch: Arch, pull: str, say: LineSink) -> ImageInfo:
        info = await self._inspect(image)
        if pull == "always" or (info is None and pull == "missing"):
            await say(f"pulling {image} ({arch.docker_platform})")
            try:
                await self._pull(image, arch, say)
            except aiodocker.DockerError as exc:
                if info is None:
                    raise EnvironmentProblem(
                        f"image {image} is not on this machine and could not be pulled ({_short(exc)}); "
                        "pull or build it, or set `image` to one you have"
                    ) from None
                await say(f"pull of {image} failed ({_short(exc)}); using the local image")
            info = await self._inspect(image)
        if info is None:
            raise EnvironmentProblem(
                f"image {image} is not on this machine (pull = never); pull or build it first"
            )
        found = info.get("Architecture", "?")
        if found != _DOCKER_ARCH[arch]:
            raise EnvironmentProblem(
                f"image {image} is built for {found}, but the target is {arch}; use the image made for {arch}"
            )
        digests = info.get("RepoDigests") or []
        image_info = ImageInfo(image, arch, info["Id"], digests[0] if digests else None)
        await say(f"image {image} ({arch}): {image_info.digest or image_info.id[:19]}")
        return image_info

    async def _check_runs(self, image: str, arch: Arch, python: str, say: LineSink) -> str:
        probe = _SelfProbe(arch, _ignore)
        config = {"Image": image, "Entrypoint": ["/bin/sh", "-c"], "Cmd": [_PROBE.format(python=python)]}
        try:
            code = await self.run(config, arch, f"probe-{arch}", probe)
        except BuildError as exc:
            raise EnvironmentProblem(
                f"cannot run {arch} containers of {image} ({exc}): " + _BINFMT_FIX
            ) from None
        pip = probe.outcome(code, image, python)
        await say(f"image {image} ({arch}) runs here: {pip}")
        return pip

    async def _pull(self, image: str, arch: Arch, say: LineSink) -> None:
        """Pull, retrying a registry's or the network's bad moment (``pull_retries`` times,
        1 s, 2 s, 4 s ... apart); a refusal (no such image, no access) is not retried."""
        attempt = 0
        while True:
            attempt += 1
            try:
                await self.docker.images.pull(image, platform=arch.docker_platform)
                return
            except aiodocker.DockerError as exc:
                transient = exc.status >= 500 or diagnose([_short(exc)]).transient
                if not transient or attempt > self.pull_retries:
                    raise
                delay = backoff(attempt)
                await say(
                    f"pull of {image} failed ({_short(exc)}); retry {attempt}/{self.pull_retries} in {delay:g}s"
                )
                await anyio.sleep(delay)

    async def _inspect(self, image: str) -> dict[str, Any] | None:
        try:
            return dict(await self.docker.images.inspect(image))
        except aiodocker.DockerError as exc:
            if exc.status == 404:
                return None
            raise EnvironmentProblem(f"cannot inspect image {image}: {_short(exc)}") from None

    @asynccontextmanager
    async def container(
        self, config: Mapping[str, Any], arch: Arch, label: str, *, stdin: bool = False
    ) -> AsyncIterator[Any]:
        """A created container with a unique name and the layerctl labels; removed on exit,
        whatever happens (success, failure, timeout, Ctrl-C), unless keep_containers. With
        ``stdin``, its standard input is open (once) and SECRETS_DIR is a tmpfs of its user's."""
        name = f"layerctl-{self.run_id}-{_slug(label)}-{uuid.uuid4().hex[:6]}"
        body = dict(config)
        if stdin:
            body.update(OpenStdin=True, StdinOnce=True, AttachStdin=True)
            uid, _, gid = str(body.get("User") or "0:0").partition(":")
            owner = f",uid={uid},gid={gid or uid}" if uid.isdigit() and (gid or uid).isdigit() else ""
            body["HostConfig"] = {
                **body.get("HostConfig", {}),
                # memory only, never on the engine's disk; gone when the container stops
                "Tmpfs": {SECRETS_DIR: f"rw,noexec,nosuid,nodev,size=16m,mode=0700{owner}"},
            }
        body["Labels"] = {
            **body.get("Labels", {}),
            LABEL: self.run_id,
            f"{LABEL}.target": label,
            # who owns it, so `clean --containers` never removes the containers of a live run
            f"{LABEL}.host": socket.gethostname(),
            f"{LABEL}.pid": str(os.getpid()),
        }
        if self.masker.found_in(body) or self.masker.found_in(name):
            # the engine would keep it on disk and show it to anyone: never, whatever the caller did
            raise BuildError("refusing to put a secret into a container's configuration (a bug in layerctl)")
        try:
            created = await self.docker._query_json(
                "containers/create",
                method="POST",
                data=json.dumps(body).encode(),
                params={"name": name, "platform": arch.docker_platform},
            )
        except aiodocker.DockerError as exc:
            raise BuildError(f"cannot create a container of {config.get('Image')}: {_short(exc)}") from None
        container = self.docker.containers.container(created["Id"])
        try:
            yield container
        finally:
            if not self.keep_containers:
                with anyio.CancelScope(shield=True), anyio.move_on_after(60):
                    try:
                        await container.delete(force=True)
                    except aiodocker.DockerError as exc:
                        if exc.status not in (404, 409):  # gone, or being removed already
                            raise BuildError(f"cannot remove container {name}: {_short(exc)}") from None

    async def run(
        self,
        config: Mapping[str, Any],
        arch: Arch,
        label: str,
        sink: LineSink | BatchSink,
        *,
        files: Mapping[str, bytes] | None = None,
    ) -> int:
        """Run a container to its end, streaming its stdout and stderr line by line to ``sink``.
        ``files`` (secrets, and whatever goes their way) are written to its stdin once it has
        started, for its script to read into SECRETS_DIR (``receive_script``); never into its
        configuration."""
        try:
            return await self._run(config, arch, label, sink, stdin_payload(files) if files else None)
        except aiodocker.DockerError as exc:  # the engine answered with an error mid-way
            raise BuildError(
                f"container of {config.get('Image')} failed: engine error {exc.status}: {_short(exc)}",
                transient=exc.status >= 500,
            ) from None
        except aiohttp.ClientError as exc:  # the connection to the engine broke
            raise BuildError(
                f"container of {config.get('Image')} failed: {_short(exc)}", transient=True
            ) from None

    async def _run(
        self,
        config: Mapping[str, Any],
        arch: Arch,
        label: str,
        sink: LineSink | BatchSink,
        payload: bytes | None,
    ) -> int:
        async with (
            self.container(config, arch, label, stdin=payload is not None) as container,
            AsyncExitStack() as stack,
        ):
            stdin = None
            if payload is not None:  # attached before the start, as `docker run -i` does
                stdin = await stack.enter_async_context(container.attach(stdin=True))
            try:
                await container.start()
            except aiodocker.DockerError as exc:
                raise BuildError(f"container did not start: {_short(exc)}") from None
            if stdin is not None and payload is not None:
                # a container that ends before reading: its exit code and output tell why
                with anyio.move_on_after(_FEED_TIMEOUT), suppress(OSError, aiohttp.ClientError, RuntimeError):
                    await stdin.write_in(payload)
                await stdin.close()  # EOF on the container's stdin (StdinOnce)
            deliver = lines_to(sink)
            pending = ""
            async for chunk in container.log(stdout=True, stderr=True, follow=True):
                pending += chunk
                *lines, pending = pending.split("\n")
                if lines:
                    await deliver([line.rstrip("\r") for line in lines])
            if pending:
                await deliver([pending.rstrip("\r")])
            result = await container.wait()
            return int(result.get("StatusCode", 1))

    async def remove_leftovers(self) -> tuple[list[str], list[str]]:
        """Remove the layerctl-labelled containers of runs that are gone (crashed or killed);
        return (removed, kept because their run is still alive on this host)."""
        found = await self.docker.containers.list(all=True, filters=json.dumps({"label": [LABEL]}))
        removed, kept = [], []
        for container in found:
            name = container["Names"][0].lstrip("/") if container["Names"] else container.id
            labels = container["Labels"] or {}
            if labels.get(f"{LABEL}.host") == socket.gethostname() and _alive(labels.get(f"{LABEL}.pid")):
                kept.append(name)
                continue
            try:
                await container.delete(force=True)
            except aiodocker.DockerError as exc:
                if exc.status not in (404, 409):
                    raise EnvironmentProblem(f"cannot remove container {name}: {_short(exc)}") from None
            removed.append(name)
        return removed, kept


class ContainerExecutor:
    """pip inside the target's build image installs the requirement set resolved on the host.

    Resolution (uv export, poetry.lock, [project.dependencies]) already happened on the host, so
    the image needs only its own Python and pip: nothing is installed from the network into the
    image, and pip, Poetry and uv projects all build the same way."""

    name = "container"

    def __init__(
        self,
        engine: DockerEngine,
        *,
        cache_dir: Path,
        pull: Pull = "missing",
        network: str | None = None,
        progress: LineSink | None = None,
    ) -> None:
        self.engine = engine
        self.cache_dir = cache_dir
        self.pull: Pull = pull
        self.network = network  # Docker's NetworkMode for build containers (None: the engine's default)
        self.progress = progress

    async def _image(self, target: Target) -> ImageInfo:
        return await self.engine.ensure(
            target.build_image, target.arch, pull=self.pull, progress=self.progress
        )

    async def fingerprint(self, target: Target) -> str:
        return (await self._image(target)).id

    async def install(self, request: InstallRequest, log: BatchSink) -> InstallOutcome:
        target = request.target
        image = target.build_image
        info = await self._image(target)
        cache = self.cache_dir / f"pip-{target.arch}"
        cache.mkdir(parents=True, exist_ok=True)
        layer_root = str(target.layer.root)
        binds = [
            # the layer project at its own path, read-only, so file: references in it resolve
            f"{layer_root}:{layer_root}:ro",
            f"{request.dest.parent}:/layerctl/out:rw",
            f"{request.requirements}:/layerctl/requirements.txt:ro",
            f"{cache}:/layerctl/cache:rw",
        ]
        env = {
            "HOME": "/tmp",
            "PIP_CACHE_DIR": "/layerctl/cache",
            "PIP_DISABLE_PIP_VERSION_CHECK": "1",
            "PIP_NO_INPUT": "1",
            "PIP_PROGRESS_BAR": "off",
            "PIP_ROOT_USER_ACTION": "ignore",
            "PYTHONDONTWRITEBYTECODE": "1",
        }
        files = await _pip_files(request)
        if files:  # pip finds the index (credentials included) and the CA bundle in its tmpfs
            env["PIP_CONFIG_FILE"] = f"{SECRETS_DIR}/pip.conf"
        config = {
            "Image": image,
            "Entrypoint": ["/bin/sh", "-c"],
            "Cmd": [_SCRIPT.format(python=target.python)],
            "Env": [f"{k}={v}" for k, v in env.items()],
            "User": f"{os.getuid()}:{os.getgid()}",  # outputs belong to the invoking user
            "WorkingDir": "/tmp",
            "HostConfig": {"Binds": binds, **({"NetworkMode": self.network} if self.network else {})},
        }
        await log(
            f"$ docker run --platform {target.arch.docker_platform} {image} "
            f"python{target.python} -m pip install --target python -r requirements.txt"
        )
        probe = _SelfProbe(target.arch, log)
        code = await self.engine.run(config, target.arch, target.id, probe, files=files)
        versions = {"image": info.digest or info.id, "pip": probe.outcome(code, image, target.python)}
        if code != 0:
            raise BuildError(f"pip install in {image} failed (exit {code}); see build.log")
        return InstallOutcome(
            tool_versions=versions,
            image=image,
            image_id=info.id,
        )


async def _pip_files(request: InstallRequest) -> dict[str, bytes]:
    """What pip in the container needs of the index: a pip.conf naming it (with its credentials)
    and the extra CA bundle, delivered through stdin (``DockerEngine.run``), never mounted or set
    in the container's environment."""
    files: dict[str, bytes] = {}
    conf = ["[global]"]
    if request.index_url:
        # pip reads its config raw (no %-interpolation); quoted credentials hold no newline
        conf.append(f"index-url = {request.index_url}")
    if request.ca_bundle:
        pem = await anyio.Path(request.ca_bundle).read_bytes()
        if b"\0" in pem:
            raise ConfigError(f"ca-bundle {request.ca_bundle}: not a PEM file (it holds binary data)")
        files["ca.pem"] = pem
        conf.append(f"cert = {SECRETS_DIR}/ca.pem")
    if len(conf) > 1:
        files["pip.conf"] = "\n".join(conf).encode() + b"\n"
    return files


class _SelfProbe:
    """The build's log sink, reading the probe lines the build script prints before pip runs:
    a container that reports another machine than the target's is stopped at once."""

    def __init__(self, arch: Arch, log: LineSink | BatchSink) -> None:
        self.arch, self.deliver = arch, lines_to(log)
        self.machine: str | None = None
        self.pip: str | None = None

    async def __call__(self, line: str) -> None:
        await self.batch([line])

    async def batch(self, lines: list[str]) -> None:
        if self.pip is None:
            for line in lines:
                if not line.startswith(_PROBE_MARK):
                    continue
                key, _, value = line.removeprefix(_PROBE_MARK).strip().partition(" ")
                if key == "machine":
                    self.machine = value
                    if value != self.arch.machine:
                        await self.deliver(lines)
                        raise EnvironmentProblem(
                            f"a {self.arch} container reports machine {value!r}, not {self.arch.machine}: "
                            + _BINFMT_FIX
                        )
                elif key == "pip":
                    self.pip = _pip_version(value) if "pip-" in value else "pip unknown"
        await self.deliver(lines)

    def outcome(self, code: int, image: str, python: str) -> str:
        """The image's pip version, once the container has ended with ``code``; an image that
        cannot run here or has no such Python is an EnvironmentProblem (it stops the run)."""
        if self.machine is None and code != 0:  # the shell never started
            raise EnvironmentProblem(
                f"cannot run {self.arch} containers of {image} (exit {code}): " + _BINFMT_FIX
            )
        if code == _NO_PYTHON:
            raise EnvironmentProblem(
                f"image {image} has no python{python} on its PATH; use an image for that Python"
            )
        return self.pip or "pip unknown"


def _pip_version(dist_info: str) -> str:
    name = dist_info.rstrip("/").rsplit("/", 1)[-1]
    return "pip " + name.removeprefix("pip-").removesuffix(".dist-info")


def _alive(pid: str | None) -> bool:
    if not pid or not pid.isdigit() or int(pid) == os.getpid():
        return False
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _slug(text: str) -> str:
    return "".join(c if c.isalnum() or c in "-_." else "-" for c in text)


def _short(exc: BaseException) -> str:
    message = getattr(exc, "message", None) or str(exc) or type(exc).__name__
    return " ".join(str(message).split())[:300]


async def _ignore(line: str) -> None:
    return None
