"""A package index on loopback for benchmarks: the network taken out of both sides.

`gather` fetches, once and before anything is timed, every file a set of pins needs for some
platforms (the wheels uv chooses for each, `uv pip compile --format pylock.toml` asked with the
pinned versions only: its default index names the files, their sizes and sha256) into a
directory; `serve` serves that directory from 127.0.0.1 as a PEP 503 simple index, as a real
index does: each file linked with its sha256 in the fragment and its `Requires-Python`, and its
core metadata beside it (PEP 658/714: `<file>.metadata`, its sha256 on the link), so an
installer reads a wheel's dependencies without downloading the wheel; pages and files carry the
cache lifetimes a public index gives them. Only wheels of the pinned versions are listed (a
resolution against it has one candidate per package: it chooses what the pins chose). The server
counts the requests it answers by the side it was told is running, and names the paths it
answered 404 (a side that asked for something the pins did not need).
"""

from __future__ import annotations

import hashlib
import html
import re
import subprocess
import tempfile
import threading
import time
import urllib.request
import zipfile
from collections import Counter
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from packaging.utils import canonicalize_name, parse_wheel_filename

from orchestrator.core._toml import loads
from orchestrator.core.tools import uv_argv, uv_environment
from tests.support.servers import serving

__all__ = ["LocalIndex", "Want", "gather", "pins_of", "serve"]

_PIN = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==([^\s;\\]+)", re.MULTILINE)


def pins_of(requirements: Path) -> tuple[str, ...]:
    """The `name==version` lines of a requirements.txt (pins; hashes and options dropped)."""
    return tuple(
        sorted({f"{canonicalize_name(m[1])}=={m[2]}" for m in _PIN.finditer(requirements.read_text())})
    )


@dataclass(frozen=True)
class Want:
    """Requirements (one per line) whose wheels uv would pick for ``python`` on ``platform``
    (uv's ``--python-platform`` name); ``pinned``: exactly these, without their dependencies."""

    python: str
    platform: str
    requirements: tuple[str, ...]
    pinned: bool = True


def gather(wants: Iterable[Want], dest: Path) -> int:
    """Fetch into ``dest`` the wheels ``wants`` need (uv's pylock.toml names them, their URLs on
    its default index and their sha256), each checked against its sha256, and each wheel's
    METADATA beside it. Returns the bytes fetched."""
    dest.mkdir(parents=True, exist_ok=True)
    wanted: dict[str, tuple[str, str]] = {}  # file name: (url, sha256)
    with tempfile.TemporaryDirectory(prefix="bench-index-") as work:
        for want in dict.fromkeys(wants):
            lock = subprocess.run(
                [*uv_argv("pip", "compile"), "--quiet", "--format", "pylock.toml", "--python-version",
                 want.python, "--python-platform", want.platform, "--only-binary", ":all:",
                 *(["--no-deps"] if want.pinned else []), "-"],
                input="\n".join(want.requirements), capture_output=True, text=True, check=False,
                env={**uv_environment(), "UV_CACHE_DIR": str(Path(work) / "uv-cache")},
            )  # fmt: skip
            if lock.returncode != 0:
                raise RuntimeError(f"uv pip compile for {want}:\n{lock.stderr}")
            for package in loads(lock.stdout)["packages"]:
                for wheel in package.get("wheels", []):
                    name = wheel["url"].rsplit("/", 1)[-1]
                    wanted[name] = (wheel["url"], wheel["hashes"]["sha256"])
    fetched = 0
    for name, (url, sha256) in sorted(wanted.items()):
        if not (dest / name).exists():
            data = _download(url)
            if hashlib.sha256(data).hexdigest() != sha256:
                raise RuntimeError(f"{name}: sha256 differs from the index's")
            (dest / name).write_bytes(data)
            fetched += len(data)
        with zipfile.ZipFile(dest / name) as wheel_zip:
            metadata = next(n for n in wheel_zip.namelist() if re.fullmatch(r"[^/]+\.dist-info/METADATA", n))
            (dest / f"{name}.metadata").write_bytes(wheel_zip.read(metadata))
    return fetched


def _download(url: str, attempts: int = 5) -> bytes:
    for attempt in range(attempts):
        try:
            with urllib.request.urlopen(url, timeout=60) as response:
                data: bytes = response.read()
                return data
        except OSError:
            if attempt == attempts - 1:
                raise
            time.sleep(1 + attempt)
    raise AssertionError("unreachable")


class LocalIndex(ThreadingHTTPServer):
    """A PEP 503 index of the wheels in a directory (with their `.metadata`), on 127.0.0.1."""

    daemon_threads = True

    def __init__(self, files: Path) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.url = f"http://127.0.0.1:{self.server_address[1]}/simple"
        self.side = "-"  # who is asking now: the benchmark says before each side runs
        self.requests: Counter[tuple[str, str]] = Counter()  # (side, page|metadata|file|missing)
        self.sent: Counter[str] = Counter()  # bytes by side
        self.missing: dict[str, set[str]] = {}  # the paths answered 404, by side
        self.lock = threading.Lock()
        self.pages: dict[str, bytes] = {}
        projects: dict[str, list[str]] = {}
        for wheel in sorted(files.glob("*.whl")):
            projects.setdefault(canonicalize_name(parse_wheel_filename(wheel.name)[0]), []).append(wheel.name)
        self.files = {name: files / name for names in projects.values() for name in names}
        for project, names in projects.items():
            self.pages[project] = _page([_link(files / name) for name in names])
        self.pages[""] = _page([f'<a href="/simple/{p}/">{p}</a>' for p in sorted(projects)])

    def count(self, kind: str, size: int, path: str) -> None:
        with self.lock:
            self.requests[self.side, kind] += 1
            self.sent[self.side] += size
            if kind == "missing":
                self.missing.setdefault(self.side, set()).add(path)

    def summary(self, side: str) -> str:
        """The requests one side made, by kind, and the bytes served to it."""
        kinds = ("page", "metadata", "file", "missing")
        counts = ", ".join(f"{self.requests[side, kind]} {kind}" for kind in kinds)
        missing = f"; missing: {', '.join(sorted(self.missing[side]))}" if side in self.missing else ""
        total = sum(self.requests[side, k] for k in kinds)
        return f"{total} requests ({counts}), {self.sent[side] / 2**20:.1f} MiB{missing}"


def _link(wheel: Path) -> str:
    data = wheel.read_bytes()
    metadata = Path(f"{wheel}.metadata").read_bytes()
    found = re.search(rb"^Requires-Python: *(.+?)\r?$", metadata, re.MULTILINE)
    requires = f' data-requires-python="{html.escape(found[1].decode())}"' if found else ""
    meta = f"sha256={hashlib.sha256(metadata).hexdigest()}"
    return (
        f'<a href="/files/{wheel.name}#sha256={hashlib.sha256(data).hexdigest()}"{requires} '
        f'data-dist-info-metadata="{meta}" data-core-metadata="{meta}">{wheel.name}</a>'
    )


def _page(links: list[str]) -> bytes:
    return ("<!DOCTYPE html><html><body>\n" + "<br>\n".join(links) + "\n</body></html>\n").encode()


_FOREVER = "max-age=365000000, immutable, public"


class _Handler(BaseHTTPRequestHandler):
    server: LocalIndex
    protocol_version = "HTTP/1.1"  # keep-alive, as a real index

    def do_HEAD(self) -> None:
        self.do_GET()

    def do_GET(self) -> None:
        path = self.path.split("?")[0].split("#")[0]
        index = self.server
        if path.rstrip("/") == "/simple":
            kind, body, ctype = "page", index.pages[""], "text/html"
        elif path.startswith("/simple/") and canonicalize_name(path.strip("/").split("/")[-1]) in index.pages:
            kind, body, ctype = (
                "page",
                index.pages[canonicalize_name(path.strip("/").split("/")[-1])],
                "text/html",
            )
        elif path.startswith("/files/") and path.endswith(".metadata") and path[7:-9] in index.files:
            kind, body, ctype = (
                "metadata",
                Path(f"{index.files[path[7:-9]]}.metadata").read_bytes(),
                "text/plain",
            )
        elif path.startswith("/files/") and path[7:] in index.files:
            kind, body, ctype = "file", index.files[path[7:]].read_bytes(), "application/octet-stream"
        else:
            kind, body, ctype = "missing", b"not found", "text/plain"
        index.count(kind, len(body) if self.command == "GET" else 0, path)
        self.send_response(404 if kind == "missing" else 200)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        if kind != "missing":  # as a public index says: pages for 10 minutes, files for ever
            self.send_header("Cache-Control", "max-age=600, public" if kind == "page" else _FOREVER)
        self.end_headers()
        if self.command == "GET":
            self.wfile.write(body)

    def log_message(self, fmt: str, *args: object) -> None:
        return None


@contextmanager
def serve(files: Path) -> Iterator[LocalIndex]:
    """The wheels gathered in ``files`` as an index on loopback (``index.url``) while in use."""
    with serving(LocalIndex(files)) as index:
        yield index
