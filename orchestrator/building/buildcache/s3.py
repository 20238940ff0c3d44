"""An S3 prefix as a shared cache's ``Store`` (``cache-url = "s3://bucket/prefix"``): boto3 is
imported only here, only when such a cache is configured. Credentials, region and endpoint
come from the SDK's chain (``AWS_PROFILE``, ``AWS_ENDPOINT_URL``, ...), as for publishing; the
SDK's ``standard`` retry mode with few attempts (``AWS_RETRY_MODE`` / ``AWS_MAX_ATTEMPTS``
choose another) and short connect and read timeouts bound every wait: a cache is worth
waiting for only briefly. Once it is found out of reach, the rest of the run does not ask it
again (each target then builds, saying so).

Objects are created with a conditional write (``If-None-Match: *``): a 412 means another
runner stored it first, which is success; the zip carries its sha256 as metadata, so a runner
that lost the race can tell whether the zip there is the one its record describes."""

from __future__ import annotations

import io
import os
import threading
from pathlib import Path
from typing import Any

from ...core.errors import error_code
from .shared import CacheProblem, SharedCache

__all__ = ["S3Store", "s3_cache"]

TIMEOUT_S = 5.0
_MAX_ATTEMPTS = 3
_PAGES = 10  # of a listing, 1,000 names each
_ABSENT = frozenset({"NoSuchKey", "404", "NotFound"})
_UNREACHABLE = frozenset(
    {"EndpointConnectionError", "ConnectTimeoutError", "ReadTimeoutError", "ConnectionClosedError"}
)


class S3Store:
    def __init__(self, bucket: str, prefix: str, name: str, *, timeout_s: float = TIMEOUT_S) -> None:
        self.bucket, self.prefix, self.name = bucket, prefix.strip("/"), name
        self.timeout_s = timeout_s
        self._client: Any = None
        self._lock = threading.Lock()
        self._down: str | None = None  # why it was found out of reach (the rest of the run skips it)

    def client(self) -> Any:
        with self._lock:
            if self._down is not None:
                raise CacheProblem(f"out of reach earlier in this run ({self._down})")
            if self._client is None:
                import boto3
                from botocore.config import Config

                retries: dict[str, Any] | None = None
                if not (os.environ.get("AWS_RETRY_MODE") or os.environ.get("AWS_MAX_ATTEMPTS")):
                    retries = {"mode": "standard", "max_attempts": _MAX_ATTEMPTS}
                config = Config(
                    connect_timeout=self.timeout_s,
                    read_timeout=self.timeout_s,
                    retries=retries,
                    user_agent_extra="layerctl",
                )
                self._client = boto3.session.Session().client("s3", config=config)
            return self._client

    def _key(self, name: str) -> str:
        return f"{self.prefix}/{name}" if self.prefix else name

    def _call(self, what: str, **kwargs: Any) -> Any:
        try:
            return getattr(self.client(), what)(Bucket=self.bucket, **kwargs)
        except CacheProblem:
            raise
        except Exception as exc:
            kind = error_code(exc) or type(exc).__name__
            if kind in _UNREACHABLE:
                self._down = kind
            raise

    def read(self, name: str, limit: int) -> bytes | None:
        try:
            answer = self._call("get_object", Key=self._key(name))
        except Exception as exc:
            if error_code(exc) in _ABSENT:
                return None
            raise
        if int(answer.get("ContentLength") or 0) > limit:
            raise CacheProblem(f"its {name} is larger than a record")
        data: bytes = answer["Body"].read(limit + 1)
        return data

    def download(self, name: str, dest: Path) -> None:
        body = self._call("get_object", Key=self._key(name))["Body"]
        with dest.open("xb") as out:
            for chunk in body.iter_chunks(1 << 20):
                out.write(chunk)

    def create(self, name: str, source: Path | bytes, sha256: str) -> bool:
        extra = {"Metadata": {"sha256": sha256}} if sha256 else {}
        try:
            if isinstance(source, bytes):
                self._call(
                    "put_object", Key=self._key(name), Body=io.BytesIO(source), IfNoneMatch="*", **extra
                )
            else:
                with source.open("rb") as body:
                    self._call("put_object", Key=self._key(name), Body=body, IfNoneMatch="*", **extra)
        except Exception as exc:
            code = error_code(exc)
            if code == "PreconditionFailed":  # someone stored it first
                return False
            if code == "ConditionalRequestConflict":
                raise CacheProblem("another runner is storing it at this moment") from None
            raise
        return True

    def sha256_of(self, name: str) -> str | None:
        try:
            head = self._call("head_object", Key=self._key(name))
        except Exception as exc:
            if error_code(exc) in _ABSENT:
                return None
            raise
        found = head.get("Metadata", {}).get("sha256")
        return str(found) if found else None

    def names(self, prefix: str, after: str) -> list[str]:
        skip = len(self._key(""))
        found: list[str] = []
        where: dict[str, str] = {"StartAfter": self._key(prefix + after)}  # keys come sorted
        for _ in range(_PAGES):  # bounded: a prefix that grows without end is not read to its end
            page = self._call("list_objects_v2", Prefix=self._key(prefix), Delimiter="/", **where)
            found += [str(item["Key"])[skip:] for item in page.get("Contents", ())]
            if not page.get("IsTruncated"):
                break
            where = {"ContinuationToken": str(page["NextContinuationToken"])}
        return found


def s3_cache(bucket: str, prefix: str, name: str, *, timeout_s: float = TIMEOUT_S) -> SharedCache:
    return SharedCache(S3Store(bucket, prefix, name, timeout_s=timeout_s))
