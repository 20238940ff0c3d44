"""Package indexes on loopback: one that answers every request with 503 (a transient failure),
one that accepts connections and never answers (timeouts and retries), and a private one that
serves wheels only to those who bring its credentials (HTTP basic auth)."""

from __future__ import annotations

import base64
import hashlib
import html
import re
import socket
import ssl
import subprocess
import threading
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import TypeVar


class UnavailableIndex(ThreadingHTTPServer):
    """An index that answers every request 503; ``hits`` counts the requests."""

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Unavailable)
        self.hits = 0
        self.url = f"http://127.0.0.1:{self.server_address[1]}/simple"


class _Unavailable(BaseHTTPRequestHandler):
    server: UnavailableIndex

    def do_GET(self) -> None:
        self.server.hits += 1
        body = b"index is down for maintenance"
        self.send_response(503)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, fmt: str, *args: object) -> None:
        return None


S = TypeVar("S", bound=ThreadingHTTPServer)


@contextmanager
def serving(server: S) -> Iterator[S]:
    """``server`` answering from a thread of its own while in use, then shut down and closed."""
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()


@contextmanager
def unavailable_index() -> Iterator[UnavailableIndex]:
    """An index URL (server.url) that always says 503 Service Unavailable; server.hits counts."""
    with serving(UnavailableIndex()) as server:
        yield server


@contextmanager
def silent_index() -> Iterator[str]:
    """An index URL whose server accepts connections and never sends a byte."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(64)
    held: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        listener.settimeout(0.2)
        while not stop.is_set():
            try:
                conn, _ = listener.accept()
            except OSError:
                continue
            held.append(conn)

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{listener.getsockname()[1]}/simple"
    finally:
        stop.set()
        thread.join()
        for conn in held:
            conn.close()
        listener.close()


class PrivateIndex(ThreadingHTTPServer):
    """A PEP 503 simple index of some wheels that answers 401 without the right credentials."""

    url: str  # http://127.0.0.1:PORT/simple/
    authorised: Counter[str]  # authorised requests by installer (the User-Agent's first word)
    refused: int

    def __init__(
        self, wheels: list[Path], username: str, password: str, delay: float, tls: tuple[Path, Path] | None
    ) -> None:
        super().__init__(("127.0.0.1", 0), _PrivateHandler)
        self.wheels = {wheel.name: wheel for wheel in wheels}
        self.expected = "Basic " + base64.b64encode(f"{username}:{password}".encode()).decode()
        self.delay = delay
        self.authorised = Counter()
        self.refused = 0
        scheme = "http"
        if tls is not None:
            context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            context.load_cert_chain(*tls)
            self.socket = context.wrap_socket(self.socket, server_side=True)
            scheme = "https"
        self.url = f"{scheme}://127.0.0.1:{self.server_address[1]}/simple/"


class _PrivateHandler(BaseHTTPRequestHandler):
    server: PrivateIndex

    def do_HEAD(self) -> None:  # uv asks for a wheel's size first
        self.do_GET()

    def do_GET(self) -> None:
        index = self.server
        time.sleep(index.delay)  # slow enough that a poll sees the installer running
        if self.headers.get("Authorization") != index.expected:
            index.refused += 1
            self._send(401, b"credentials required", "text/plain", {"WWW-Authenticate": 'Basic realm="test"'})
            return
        agent = (self.headers.get("User-Agent") or "?").split("/")[0]
        index.authorised[agent] += 1
        projects: dict[str, list[str]] = {}
        for name in index.wheels:
            projects.setdefault(_normalise(name.split("-")[0]), []).append(name)
        path = self.path.split("?")[0]
        if path == "/simple/":
            links = "".join(f'<a href="/simple/{p}/">{p}</a>\n' for p in sorted(projects))
        elif path.startswith("/simple/") and path.strip("/").split("/")[-1] in projects:
            links = "".join(
                f'<a href="/files/{html.escape(n)}#sha256={_sha256(index.wheels[n])}">{html.escape(n)}</a>\n'
                for n in projects[path.strip("/").split("/")[-1]]
            )
        elif path.startswith("/files/") and path[len("/files/") :] in index.wheels:
            data = index.wheels[path[len("/files/") :]].read_bytes()
            self._send(200, data, "application/octet-stream")
            return
        else:
            self._send(404, b"not found", "text/plain")
            return
        body = f"<!DOCTYPE html><html><body>\n{links}</body></html>\n".encode()
        self._send(200, body, "text/html")

    def _send(self, code: int, body: bytes, kind: str, headers: dict[str, str] | None = None) -> None:
        self.send_response(code)
        for key, value in {"Content-Type": kind, "Content-Length": str(len(body)), **(headers or {})}.items():
            self.send_header(key, value)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def log_message(self, fmt: str, *args: object) -> None:
        return None


def _normalise(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def certificates(dest: Path) -> tuple[Path, Path, Path]:
    """A CA of its own (its certificate: the CA bundle to trust) and a certificate it signed for
    127.0.0.1 with that certificate's key: (ca bundle, certificate, key)."""
    dest.mkdir(parents=True, exist_ok=True)
    ca, ca_key, cert, key, csr = (
        dest / n for n in ("ca.pem", "ca-key.pem", "cert.pem", "key.pem", "cert.csr")
    )
    ext = dest / "ext.cnf"
    ext.write_text("basicConstraints=CA:FALSE\nsubjectAltName=IP:127.0.0.1\n")

    def openssl(*args: str) -> None:
        subprocess.run(["openssl", *args], check=True, capture_output=True)

    openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", "/CN=layerctl test CA",
            "-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign",
            "-keyout", str(ca_key), "-out", str(ca))  # fmt: skip
    openssl(
        "req",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-subj",
        "/CN=127.0.0.1",
        "-keyout",
        str(key),
        "-out",
        str(csr),
    )
    openssl("x509", "-req", "-in", str(csr), "-CA", str(ca), "-CAkey", str(ca_key), "-CAcreateserial",
            "-days", "2", "-extfile", str(ext), "-out", str(cert))  # fmt: skip
    return ca, cert, key


@contextmanager
def private_index(
    wheels: list[Path],
    *,
    username: str,
    password: str,
    delay: float = 0.0,
    tls: tuple[Path, Path] | None = None,
) -> Iterator[PrivateIndex]:
    """A private index of ``wheels`` on loopback (``server.url``), requiring these credentials;
    ``delay`` seconds before each answer; over HTTPS with ``tls`` = (certificate, key)."""
    with serving(PrivateIndex(wheels, username, password, delay, tls)) as server:
        yield server
