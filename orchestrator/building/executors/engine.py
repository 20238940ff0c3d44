"""The Docker engine, for one run (aiodocker): a connection, each distinct image checked once when
the first target needs it (present, pulled if asked, the right architecture, runnable here), and
containers as async context managers that are always removed, even on Ctrl-C. ``engine_errors``
is the one place where the engine's and its connection's errors become layerctl's.

Secrets never reach the engine's records. The engine keeps a container's configuration (its
environment, command, labels) on disk under its data root, shows it to anyone who may talk to it
(``docker inspect``) and keeps it with ``--keep-containers``. So what a container must not show
(index credentials; the CA bundle goes the same way) travels on its standard input instead: the
container is created with stdin open, layerctl attaches, starts it, writes the files and closes
stdin; the script reads them into a tmpfs (memory only, mode 0700, the container user's) that
vanishes when the container stops (``probe.receive_script``). As a last line of defence the
engine refuses to create a container whose configuration holds a secret.
"""

from __future__ import annotations

import json
import os
import socket
import uuid
from collections.abc import AsyncIterator, Iterator, Mapping
from contextlib import AsyncExitStack, asynccontextmanager, contextmanager, suppress
from pathlib import Path
from typing import Any

import aiodocker
import aiohttp
import anyio

from ...core.errors import BuildError, EnvironmentProblem
from ...core.process import BatchSink, LineSink, lines_to
from ...core.runtimes import Arch
from ...core.secrets import Masker
from .endpoints import DEFAULT, Endpoint
from .probe import SECRETS_DIR, stdin_payload

__all__ = ["LABEL", "DockerEngine", "engine_errors", "short"]

LABEL = "layerctl"  # every container layerctl creates carries it (value: the run id)
_FEED_TIMEOUT = 120  # seconds to hand the files over; then stdin is closed whatever is left


@contextmanager
def engine_errors(doing: str, *, environment: bool = False) -> Iterator[None]:
    """Turn the engine's errors (and a broken connection to it) into layerctl's, keeping the
    cause: a BuildError of the target (transient for a 5xx or a lost connection), or with
    ``environment`` an EnvironmentProblem of the run."""
    try:
        yield
    except aiodocker.DockerError as exc:
        message = f"{doing}: engine error {exc.status}: {short(exc)}"
        if environment:
            raise EnvironmentProblem(message) from exc
        raise BuildError(message, transient=exc.status >= 500) from exc
    except aiohttp.ClientError as exc:
        if environment:
            raise EnvironmentProblem(f"{doing}: {short(exc)}") from exc
        raise BuildError(f"{doing}: {short(exc)}", transient=True) from exc


class DockerEngine:
    """A connection to the engine for one run, and the images it has checked."""

    def __init__(
        self,
        *,
        run_id: str | None = None,
        keep_containers: bool = False,
        masker: Masker | None = None,
        workspace: Path | None = None,
        endpoint: Endpoint | None = None,
    ) -> None:
        self.endpoint = endpoint or Endpoint(DEFAULT)  # which engine (the table's name, its URL)
        self.run_id = run_id or uuid.uuid4().hex[:12]
        self.workspace = (
            workspace  # labelled on every container: `docker ps --filter label=layerctl.workspace=...`
        )
        self.keep_containers = keep_containers
        self.masker = masker or Masker()  # the secrets no container's configuration may hold
        self.warnings: list[str] = []  # best-effort clean-up that failed (containers left behind)
        self._docker: aiodocker.Docker | None = None
        self.version = "?"  # the engine's, once connected

    async def __aenter__(self) -> DockerEngine:
        endpoint = self.endpoint
        tls = endpoint.ssl_context()
        try:
            self._docker = aiodocker.Docker(url=endpoint.client_url(), ssl_context=tls)
            with anyio.fail_after(30):
                self.version = (await self._docker.version()).get("Version", "?")
        except Exception as exc:  # aiohttp, OSError, DockerError, timeout: all mean "not reachable"
            if self._docker is not None:
                await self._docker.close()
            which = "" if endpoint.name == DEFAULT else f" {endpoint.name}"
            fix = "start it (systemctl start docker, or dockerd) or set DOCKER_HOST"
            raise EnvironmentProblem(
                f"Docker engine{which} not reachable at {endpoint.where} ({short(exc)}); "
                + (fix if endpoint.name == DEFAULT else "start it or leave it out with --engine")
            ) from None
        return self

    @property
    def name(self) -> str:
        return self.endpoint.name

    async def __aexit__(self, *exc: object) -> None:
        if self._docker is not None:
            with anyio.CancelScope(shield=True):
                await self._docker.close()

    @property
    def docker(self) -> aiodocker.Docker:
        assert self._docker is not None, "use DockerEngine as an async context manager"
        return self._docker

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
            **({f"{LABEL}.workspace": str(self.workspace)} if self.workspace else {}),
        }
        if self.masker.found_in({k: body.get(k) for k in ("Env", "Cmd", "Entrypoint")}):
            # the engine would keep it on disk and show it to anyone: never, whatever the caller did
            # (labels and the name are layerctl's own words and target ids, never a secret's place)
            raise BuildError(
                "refusing to put an index credential into a container's Env or command; "
                "this is a bug, please report it"
            )
        try:
            created = await self.docker._query_json(
                "containers/create",
                method="POST",
                data=json.dumps(body).encode(),
                params={"name": name, "platform": arch.docker_platform},
            )
        except BaseException as exc:
            # the engine may have made it before the answer was lost (a cancel, a broken
            # connection): whatever it made under this name goes, it never stays in `Created`
            with anyio.CancelScope(shield=True), anyio.move_on_after(30):
                await self._remove(self.docker.containers.container(name), name)
            if isinstance(exc, aiodocker.DockerError):
                raise BuildError(f"cannot create a container of {config.get('Image')}: {short(exc)}") from exc
            raise
        container = self.docker.containers.container(created["Id"])
        try:
            yield container
        finally:
            if not self.keep_containers:
                with anyio.CancelScope(shield=True), anyio.move_on_after(60):
                    await self._remove(container, name)

    async def _remove(self, container: Any, name: str) -> None:
        """Best effort: a container that cannot be removed is a warning (``warnings``), never a
        second failure that hides the build's own outcome."""
        try:
            await container.delete(force=True)
        except aiodocker.DockerError as exc:
            if exc.status not in (404, 409):  # gone (or never made), or being removed already
                self.warnings.append(
                    f"could not remove container {name} ({short(exc)}); `layerctl clean --containers` will"
                )
        except aiohttp.ClientError as exc:
            self.warnings.append(
                f"could not remove container {name} ({short(exc)}); `layerctl clean --containers` will"
            )

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
        with engine_errors(f"container of {config.get('Image')} failed"):
            return await self._run(config, arch, label, sink, stdin_payload(files) if files else None)

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
                raise BuildError(f"container did not start: {short(exc)}") from exc
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
                    raise EnvironmentProblem(f"cannot remove container {name}: {short(exc)}") from None
            removed.append(name)
        return removed, kept


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


def short(exc: BaseException) -> str:
    message = getattr(exc, "message", None) or str(exc) or type(exc).__name__
    return " ".join(str(message).split())[:300]
