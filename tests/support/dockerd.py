"""A second Docker engine for tests: its own dockerd on a loopback TCP port with TLS (a CA, a
server and a client certificate made here with openssl), its own data root, exec root and pid
file, a bridge of its own (never ``--bridge=none``: dockerd then deletes the host's ``docker0``,
cutting every container of the test bed's engine off the network) and no iptables rules (it must
not fight the test bed's engine), registered as a
Docker context in a temporary ``DOCKER_CONFIG``. ``stop`` ends it (its containers with it) and
``remove`` deletes everything it made."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

__all__ = ["SecondEngine", "start_engine"]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _openssl(*args: str, cwd: Path) -> None:
    subprocess.run(["openssl", *args], cwd=cwd, check=True, capture_output=True)


def make_certs(directory: Path) -> None:
    """ca.pem, server-{cert,key}.pem for 127.0.0.1 and cert.pem/key.pem for the client."""
    directory.mkdir(parents=True, exist_ok=True)
    _openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", "/CN=layerctl-test-ca",
             "-keyout", "ca-key.pem", "-out", "ca.pem", cwd=directory)  # fmt: skip
    (directory / "server.ext").write_text("subjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth\n")
    (directory / "client.ext").write_text("extendedKeyUsage=clientAuth\n")
    for who, ext in (("server", "server.ext"), ("client", "client.ext")):
        _openssl("req", "-newkey", "rsa:2048", "-nodes", "-subj", f"/CN={who}",
                 "-keyout", f"{who}-key.pem", "-out", f"{who}.csr", cwd=directory)  # fmt: skip
        _openssl("x509", "-req", "-in", f"{who}.csr", "-CA", "ca.pem", "-CAkey", "ca-key.pem",
                 "-CAcreateserial", "-days", "2", "-extfile", ext, "-out", f"{who}-cert.pem", cwd=directory)  # fmt: skip
    shutil.copy(directory / "client-cert.pem", directory / "cert.pem")
    shutil.copy(directory / "client-key.pem", directory / "key.pem")


@dataclass
class SecondEngine:
    root: Path  # everything it made: certificates, data root, exec root, DOCKER_CONFIG
    port: int
    process: subprocess.Popen[bytes] | None = None
    env: dict[str, str] = field(default_factory=dict)  # DOCKER_CONFIG with the context

    @property
    def url(self) -> str:
        return f"tcp://127.0.0.1:{self.port}"

    @property
    def certs(self) -> Path:
        return self.root / "certs"

    def docker(self, *args: str, stdin: IO[bytes] | None = None) -> subprocess.CompletedProcess[bytes]:
        """The docker CLI against this engine (its context)."""
        return subprocess.run(
            ["docker", "--context", "second", *args],
            env=self.env,
            check=True,
            capture_output=True,
            stdin=stdin,
        )

    def load(self, image: str) -> None:
        """An image of the test bed's engine, copied into this one (docker save | docker load)."""
        save = subprocess.Popen(["docker", "save", image], stdout=subprocess.PIPE)
        assert save.stdout is not None
        try:
            self.docker("load", stdin=save.stdout)
        finally:
            save.stdout.close()
            save.wait()

    def start(self, timeout: float = 60) -> None:
        """Start (or start again, on the same data root) the engine's dockerd and wait for it."""
        root, certs = self.root, self.certs
        if subprocess.run(["ip", "link", "show", self.bridge], capture_output=True, check=False).returncode:
            for command in (
                ["ip", "link", "add", self.bridge, "type", "bridge"],
                ["ip", "addr", "add", f"10.213.{self.port % 250}.1/24", "dev", self.bridge],
                ["ip", "link", "set", self.bridge, "up"],
            ):
                subprocess.run(command, check=True, capture_output=True)
        with (root / "dockerd.log").open("ab") as log:
            self.process = subprocess.Popen(
                ["dockerd", "--config-file", str(root / "daemon.json"), "-H", self.url,
                 "--tlsverify", f"--tlscacert={certs / 'ca.pem'}", f"--tlscert={certs / 'server-cert.pem'}",
                 f"--tlskey={certs / 'server-key.pem'}", f"--data-root={root / 'data'}",
                 f"--exec-root={root / 'exec'}", f"--pidfile={root / 'docker.pid'}", f"--bridge={self.bridge}",
                 "--iptables=false", "--ip-masq=false", "--ip-forward=false",
                 "--cgroup-parent=layerctl-second", "--shutdown-timeout=5"],
                stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
            )  # fmt: skip
        deadline = time.monotonic() + timeout
        while not self.answers():
            if self.process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(
                    f"second dockerd did not start: {(root / 'dockerd.log').read_text()[-2000:]}"
                )
            time.sleep(0.5)

    def answers(self) -> bool:
        return (
            subprocess.run(
                ["docker", "--context", "second", "version"], env=self.env, capture_output=True, check=False
            ).returncode
            == 0
        )

    def stop(self) -> None:
        """End the engine as a service manager would (SIGTERM, then SIGKILL after 30 s)."""
        if self.process is None or self.process.poll() is not None:
            return
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=10)

    @property
    def bridge(self) -> str:
        return f"lcbr{self.port}"  # its own (an interface name: at most 15 characters)

    def remove(self) -> None:
        self.stop()
        subprocess.run(["ip", "link", "del", self.bridge], capture_output=True, check=False)
        for sub in ("exec", "data"):  # the daemon's mounts under it are gone with it
            subprocess.run(["umount", "-R", "-l", str(self.root / sub)], capture_output=True, check=False)
        # never into a mount left behind (--one-file-system): only what this engine wrote
        subprocess.run(["rm", "-rf", "--one-file-system", str(self.root)], capture_output=True, check=False)


def start_engine(timeout: float = 60) -> SecondEngine:
    """Start a second engine and register it as Docker context ``second``."""
    root = Path(tempfile.mkdtemp(prefix="lc2-", dir="/tmp"))  # short: containerd's socket is under it
    engine = SecondEngine(root, _free_port())
    try:
        make_certs(engine.certs)
        (root / "daemon.json").write_text("{}\n")
        engine.env = {**os.environ, "DOCKER_CONFIG": str(root / "config")}
        engine.env.pop("DOCKER_CONTEXT", None)
        certs = engine.certs
        subprocess.run(
            ["docker", "context", "create", "second", "--docker",
             f"host={engine.url},ca={certs / 'ca.pem'},cert={certs / 'cert.pem'},key={certs / 'key.pem'}"],
            env=engine.env, check=True, capture_output=True,
        )  # fmt: skip
        engine.start(timeout)
    except BaseException:
        engine.remove()
        raise
    return engine
