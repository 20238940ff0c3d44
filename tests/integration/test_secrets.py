"""Secrets never reach the container engine (issue 9): a private index on loopback that answers
401 without its credentials, a container build and a native build against it, and everything the
engine, the process table and the disk show while and after they run."""

from __future__ import annotations

import base64
import json
import os
import re
import secrets
import subprocess
import sys
import threading
import urllib.error
import urllib.request
import zipfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import quote

import anyio
import pytest

from orchestrator.building.executors.engine import DockerEngine
from orchestrator.core.errors import BuildError
from orchestrator.core.runtimes import Arch
from orchestrator.core.secrets import Masker
from tests.support.fixtures import make_wheel
from tests.support.servers import PrivateIndex, certificates, private_index

from .conftest import STAND_IN, report

pytestmark = [pytest.mark.integration, pytest.mark.docker, pytest.mark.usefixtures("docker_engine")]

USER = "layerctl-ci"


@dataclass
class Watch:
    """What anyone on this machine could see while a layerctl process ran: the process table
    (``ps -eo args``) and ``docker inspect`` of each container that process created."""

    pid: int
    ps: list[str] = field(default_factory=list)
    inspected: dict[str, dict[str, object]] = field(default_factory=dict)  # container id -> last inspect
    samples: list[str] = field(default_factory=list)  # every inspect output, verbatim


def _poll(watch: Watch, stop: threading.Event) -> None:
    while not stop.is_set():
        watch.ps.append(subprocess.run(["ps", "-eo", "args"], capture_output=True, text=True).stdout)
        ids = subprocess.run(
            ["docker", "ps", "-aq", "--filter", f"label=layerctl.pid={watch.pid}"],
            capture_output=True,
            text=True,
        ).stdout.split()
        if ids:
            out = subprocess.run(["docker", "inspect", *ids], capture_output=True, text=True).stdout
            if out.strip():
                watch.samples.append(out)
                for item in json.loads(out):
                    watch.inspected[item["Id"]] = item
        stop.wait(0.05)


@contextmanager
def watched(argv: list[str], env: dict[str, str]) -> Iterator[tuple[subprocess.Popen[str], Watch]]:
    """Run ``argv`` while polling the process table and the engine."""
    process = subprocess.Popen(argv, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    watch, stop = Watch(process.pid), threading.Event()
    poller = threading.Thread(target=_poll, args=(watch, stop), daemon=True)
    poller.start()
    try:
        yield process, watch
    finally:
        process.wait(timeout=600)
        stop.set()
        poller.join()


def layerctl_watched(root: Path, env: dict[str, str], *args: str) -> tuple[str, int, Watch]:
    argv = [sys.executable, "-m", "orchestrator", "-C", str(root), *args]
    with watched(argv, env) as (process, watch):
        output, _ = process.communicate(timeout=600)
    return output, process.returncode, watch


def forms(password: str) -> list[str]:
    """Every way the password could leak: as itself, URL-quoted, or as a basic-auth header."""
    header = base64.b64encode(f"{USER}:{password}".encode()).decode()
    return [password, quote(password, safe=""), header]


def leaks(text: str, password: str) -> list[str]:
    """Which forms of the password ``text`` shows (named, so a failure does not print them)."""
    names = ("the password", "the URL-quoted password", "the basic-auth header")
    return [name for name, form in zip(names, forms(password), strict=True) if form in text]


def assert_clean(watch: Watch, password: str) -> None:
    for sample in watch.samples:
        assert leaks(sample, password) == [], "docker inspect of a layerctl container"
    for sample in watch.ps:
        assert leaks(sample, password) == [], "ps -eo args"


def grep(paths: list[Path], password: str) -> list[str]:
    """Files under ``paths`` holding the password in any form (grep: the data root is large)."""
    found = []
    for form in forms(password):
        result = subprocess.run(
            ["grep", "-rlsF", "--devices=skip", "--exclude-dir=merged", "--", form, *map(str, paths)],
            capture_output=True,
            text=True,
        )
        found += result.stdout.split()
    return found


def workspace(root: Path, index: PrivateIndex, extra: str = "") -> Path:
    """Two layers needing only the private index's package: one built in a container (on the
    host's network, so it reaches the index on loopback), one natively with uv."""
    root.mkdir()
    (root / "pyproject.toml").write_text(
        "[tool.layerctl]\n"
        'python = ["3.11"]\narch = ["x86_64"]\n'
        f'image = "{STAND_IN}"\nverify-image = "{STAND_IN}"\n'
        f'index-url = "{index.url}"\ncache-dir = "cache"\n{extra}'
    )
    for name, builder in (("boxed", "container"), ("plain", "native")):
        layer = root / "layers" / name
        layer.mkdir(parents=True)
        (layer / "pyproject.toml").write_text(
            f'[project]\nname = "{name}"\nversion = "1"\ndependencies = ["privpkg"]\n'
            f'\n[tool.layerctl]\nbuilder = "{builder}"\n'
        )
    return root


def remove_containers(pid: int) -> None:
    ids = subprocess.run(
        ["docker", "ps", "-aq", "--filter", f"label=layerctl.pid={pid}"], capture_output=True, text=True
    ).stdout.split()
    if ids:
        subprocess.run(["docker", "rm", "-f", *ids], capture_output=True, check=False)


def test_index_credentials_reach_pip_and_uv_but_never_the_engine(tmp_path: Path) -> None:
    password = f"p@ss:w/rd#{secrets.token_hex(12)}%"
    wheel = make_wheel(tmp_path / "wheels", "privpkg", "1.0", {"privpkg/__init__.py": b"VALUE = 42\n"})
    data_root = Path(
        subprocess.run(
            ["docker", "info", "--format", "{{.DockerRootDir}}"], capture_output=True, text=True, check=True
        ).stdout.strip()
    )
    env = {
        **os.environ,
        "LAYERCTL_INDEX_USERNAME": USER,
        "LAYERCTL_INDEX_PASSWORD": password,
        "UV_CACHE_DIR": str(tmp_path / "uv-cache"),  # grepped below with the workspace
    }
    kept = 0
    with private_index([wheel], username=USER, password=password, delay=0.3) as index:
        with pytest.raises(urllib.error.HTTPError) as refused:  # the index really wants them
            urllib.request.urlopen(index.url, timeout=10)
        assert refused.value.code == 401
        root = workspace(tmp_path / "ws", index)

        # a container build and a native build at once, polled while they run
        output, code, watch = layerctl_watched(
            root, env, "build-all", "--container-network", "host", "--log-format", "plain"
        )
        assert code == 0, output[-3000:]
        assert index.authorised["pip"] > 0 and index.authorised["uv"] > 0, index.authorised
        rows = {row["id"]: row for row in report(root)["targets"]}
        assert rows["boxed:py3.11-x86_64"]["builder"] == "container"
        assert rows["plain:py3.11-x86_64"]["builder"] == "native"
        for row in rows.values():
            with zipfile.ZipFile(row["zip_path"]) as zf:
                assert zf.read("python/privpkg/__init__.py") == b"VALUE = 42\n"
        assert watch.inspected, "the build container was never seen"
        assert any("-m pip install" in sample for sample in watch.ps), "the container's pip was never seen"
        assert any(re.search(r"\buv pip install ", sample) for sample in watch.ps), "uv was never seen"
        assert_clean(watch, password)
        assert leaks(output, password) == []
        container_log = Path(rows["boxed:py3.11-x86_64"]["log"]).read_text()
        assert "Looking in indexes: http://****@127.0.0.1:" in container_log  # masked, the user too

        # kept containers keep nothing secret: the secret's tmpfs went with the build process
        before = index.authorised["pip"]
        output, code, kept_watch = layerctl_watched(
            root,
            env,
            "build",
            "boxed",
            "--force",
            "--keep-containers",
            "--container-network",
            "host",
            "--log-format",
            "plain",
        )
        kept = kept_watch.pid
        try:
            assert code == 0, output[-3000:]
            assert index.authorised["pip"] > before
            assert_clean(kept_watch, password)
            left = subprocess.run(
                ["docker", "ps", "-aq", "--filter", f"label=layerctl.pid={kept}"],
                capture_output=True,
                text=True,
                check=True,
            ).stdout.split()
            assert left, "--keep-containers kept no container"
            inspect = subprocess.run(["docker", "inspect", *left], capture_output=True, text=True, check=True)
            assert leaks(inspect.stdout, password) == []
            for item in json.loads(inspect.stdout):
                config = item["Config"]
                assert not leaks(
                    json.dumps([config["Env"], config["Cmd"], config["Labels"], item["Name"]]), password
                )

            # verify with the same environment: its containers get nothing secret either
            output, code, verify_watch = layerctl_watched(root, env, "verify")
            assert code == 0, output[-3000:]
            assert verify_watch.inspected, "the verify container was never seen"
            assert_clean(verify_watch, password)

            # nothing on disk: the engine's data root (kept container included), the workspace,
            # the pip cache (in the workspace) and uv's cache
            assert grep([data_root, tmp_path], password) == []
        finally:
            remove_containers(kept)


def test_ca_bundle_reaches_pip_in_the_container_the_same_way(tmp_path: Path) -> None:
    """An index behind a certificate no image trusts: the CA bundle reaches pip in the container
    on stdin too (not mounted: no host path in the configuration), and uv natively."""
    password = secrets.token_hex(12)
    ca, cert, key = certificates(tmp_path / "tls")
    wheel = make_wheel(tmp_path / "wheels", "privpkg", "1.0", {"privpkg/__init__.py": b"VALUE = 42\n"})
    env = {**os.environ, "LAYERCTL_INDEX_USERNAME": USER, "LAYERCTL_INDEX_PASSWORD": password}
    with private_index([wheel], username=USER, password=password, delay=0.3, tls=(cert, key)) as index:
        assert index.url.startswith("https://")
        root = workspace(tmp_path / "ws", index, f'ca-bundle = "{ca}"\n')
        output, code, watch = layerctl_watched(
            root, env, "build-all", "--container-network", "host", "--log-format", "plain"
        )
        assert code == 0, output[-3000:]
        assert index.authorised["pip"] > 0 and index.authorised["uv"] > 0, index.authorised
    assert watch.inspected, "the build container was never seen"
    assert_clean(watch, password)
    pem = ca.read_text().splitlines()[1]
    for sample in watch.samples:
        assert str(ca) not in sample and pem not in sample


def test_the_engine_refuses_a_configuration_holding_a_secret() -> None:
    """The last line of defence: whatever a caller puts in a container's configuration, a known
    secret there stops the container from being created at all."""
    secret = secrets.token_hex(12)
    lines: list[str] = []

    async def sink(line: str) -> None:
        lines.append(line)

    async def main() -> None:
        async with DockerEngine(masker=Masker([secret])) as engine:
            config = {
                "Image": STAND_IN.format(python="3.11", arch="x86_64"),
                "Entrypoint": ["/bin/sh", "-c"],
                "Cmd": ["true"],
                "Env": [f"PIP_INDEX_URL=https://u:{secret}@127.0.0.1/simple/"],
            }
            with pytest.raises(
                BuildError, match=r"refusing to put an index credential into a container.s Env or command"
            ):
                await engine.run(config, Arch.X86_64, "guard", sink)
            config["Env"] = []
            assert await engine.run(config, Arch.X86_64, "guard", sink, files={"s": secret.encode()}) == 0
        # a password that is also one of layerctl's own words (in labels, the name) is no leak
        async with DockerEngine(masker=Masker(["layerctl", "x86_64"])) as engine:
            assert await engine.run(config, Arch.X86_64, "guard", sink) == 0

    anyio.run(main)
    created = subprocess.run(
        ["docker", "ps", "-aq", "--filter", f"label=layerctl.pid={os.getpid()}"],
        capture_output=True,
        text=True,
    ).stdout.split()
    assert created == []
