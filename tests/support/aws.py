"""AWS on loopback for the publish tests: moto in server mode (the real HTTP API: Lambda layer
versions, S3) and a small proxy in front of it that counts the requests by operation and can
answer the first Lambda calls with 429 TooManyRequestsException (throttling)."""

from __future__ import annotations

import http.client
import os
import threading
import urllib.request
from collections import Counter
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit

from moto.server import ThreadedMotoServer

__all__ = ["AwsProxy", "aws_env", "moto_server", "operation"]

_THROTTLED = b'{"Type":"User","message":"Rate exceeded"}'


def aws_env(base: Mapping[str, str], endpoint: str) -> dict[str, str]:
    """``base`` without its AWS_ variables, then test credentials and ``endpoint`` (moto, or its
    proxy), no profile or instance metadata looked up."""
    return {
        **{k: v for k, v in base.items() if not k.startswith("AWS_")},
        "AWS_ENDPOINT_URL": endpoint,
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_REGION": "eu-west-1",
        "AWS_EC2_METADATA_DISABLED": "true",
        "AWS_CONFIG_FILE": os.devnull,
        "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
    }


def operation(method: str, target: str) -> str:
    """The API operation of a request, named as AWS names it (enough of them for the tests)."""
    parts = urlsplit(target)
    path, query = parts.path.rstrip("/"), parts.query
    if path.startswith("/2018-10-31/layers"):
        if path.endswith("/policy"):
            return "AddLayerVersionPermission" if method == "POST" else "GetLayerVersionPolicy"
        if path.endswith("/versions"):
            return "PublishLayerVersion" if method == "POST" else "ListLayerVersions"
        return {"DELETE": "DeleteLayerVersion", "GET": "GetLayerVersion"}.get(method, method)
    segments = [s for s in path.split("/") if s]
    if method == "PUT" and len(segments) > 1:
        return "UploadPart" if "partNumber=" in query else "PutObject"
    if method == "POST" and "uploads" in query:
        return "CreateMultipartUpload"
    if method == "HEAD":
        return "HeadObject" if len(segments) > 1 else "HeadBucket"
    return f"S3 {method}"


class AwsProxy(ThreadingHTTPServer):
    """Forwards every request to moto; ``ops`` counts them; ``throttle`` Lambda calls get 429."""

    daemon_threads = True

    def __init__(self, upstream: str) -> None:
        super().__init__(("127.0.0.1", 0), _Forward)
        self.upstream = urlsplit(upstream).netloc
        self.url = f"http://127.0.0.1:{self.server_address[1]}"
        self.ops: Counter[str] = Counter()
        self.throttle = 0
        self.throttled = 0
        self.lock = threading.Lock()

    def reset(self) -> None:
        with self.lock:
            self.ops.clear()
            self.throttle = self.throttled = 0


class _Forward(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: AwsProxy

    def _body(self) -> bytes:
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            data = b""
            while True:
                size = int(self.rfile.readline().split(b";")[0], 16)
                chunk = self.rfile.read(size + 2)[:size]
                if size == 0:
                    while self.rfile.readline() not in (b"\r\n", b""):
                        pass
                    return data
                data += chunk
        return self.rfile.read(int(self.headers.get("Content-Length") or 0))

    def _handle(self) -> None:
        body = self._body()
        op = operation(self.command, self.path)
        proxy = self.server
        with proxy.lock:
            proxy.ops[op] += 1
            throttled = proxy.throttle > 0 and self.path.startswith("/2018-10-31/")
            if throttled:
                proxy.throttle -= 1
                proxy.throttled += 1
        if throttled:
            self.send_response(429)
            self.send_header("x-amzn-ErrorType", "TooManyRequestsException")
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(_THROTTLED)))
            self.end_headers()
            self.wfile.write(_THROTTLED)
            return
        headers = {
            k: v for k, v in self.headers.items() if k.lower() not in ("transfer-encoding", "connection")
        }
        headers["Content-Length"] = str(len(body))
        conn = http.client.HTTPConnection(proxy.upstream, timeout=60)
        try:
            conn.request(self.command, self.path, body=body, headers=headers)
            answer = conn.getresponse()
            data = answer.read()
        finally:
            conn.close()
        self.send_response(answer.status)
        for key, value in answer.getheaders():
            if key.lower() not in ("transfer-encoding", "connection", "content-length", "server", "date"):
                self.send_header(key, value)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(data)

    do_GET = do_PUT = do_POST = do_DELETE = do_HEAD = _handle

    def log_message(self, fmt: str, *args: object) -> None:
        return None


@contextmanager
def moto_server() -> Iterator[tuple[str, AwsProxy]]:
    """moto's server on a loopback port and the counting proxy in front of it: (moto URL, proxy)."""
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    # moto's state lives in this process, shared by every server it starts: each begins empty
    # (else a layer another module published with the same, deterministic zip is "unchanged")
    urllib.request.urlopen(
        urllib.request.Request(f"http://{host}:{port}/moto-api/reset", method="POST")
    ).close()
    proxy = AwsProxy(f"http://{host}:{port}")
    thread = threading.Thread(target=proxy.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://{host}:{port}", proxy
    finally:
        proxy.shutdown()
        proxy.server_close()
        server.stop()
