"""The AWS SDK behind a small async surface: boto3 imported only here (only when a run
publishes), one session, clients created once per region, every call in a worker thread and at
most ``CALLS_PER_REGION`` at once per region. Throttling and 5xx are retried by the SDK's own
retry mode (``standard``; ``AWS_RETRY_MODE`` / ``AWS_MAX_ATTEMPTS`` choose another). Credentials
and endpoint come from the SDK's chain (``AWS_PROFILE``, ``AWS_ENDPOINT_URL``, ...), never from
layerctl's settings; the default region is ``AWS_REGION`` then the SDK's chain, as in the AWS CLI.

``aws_errors`` is the one place botocore's exceptions become ``PublishError``: one line naming
the target, the region and AWS's error code, secrets masked, the SDK's exception kept as cause."""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, TypeVar

import anyio
import anyio.to_thread

from ..core.errors import PublishError, error_code
from ..core.secrets import Masker

__all__ = ["CALLS_PER_REGION", "Aws", "Clients", "aws_errors", "hint_for"]

T = TypeVar("T")
CALLS_PER_REGION = 4
_MAX_ATTEMPTS = 6  # the SDK's standard mode: exponential backoff with jitter, throttling included
_TRANSIENT = frozenset(
    {"EndpointConnectionError", "ConnectTimeoutError", "ReadTimeoutError", "ConnectionClosedError"}
)
_HINTS = {
    "NoCredentials": "give the AWS SDK credentials: AWS_PROFILE, AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, "
    "or a role (on GitHub Actions: aws-actions/configure-aws-credentials)",
    "AccessDenied": "the credentials lack a permission: lambda:PublishLayerVersion, ListLayerVersions, "
    "AddLayerVersionPermission, GetLayerVersionPolicy, DeleteLayerVersion; s3:PutObject, GetObject on the bucket",
    "NoSuchBucket": "create the bucket in this region, or fix [tool.layerctl.publish] bucket (it may use {region})",
    "PermanentRedirect": "Lambda reads layer content from a bucket in its own region: use {region} in "
    "[tool.layerctl.publish] bucket",
}
_HINTS["AccessDeniedException"] = _HINTS["AccessDenied"]


@dataclass(frozen=True)
class Clients:
    """The clients of one region (thread-safe once made) and the S3 transfer settings."""

    region: str
    lambda_: Any
    s3: Any
    transfer: Any  # boto3.s3.transfer.TransferConfig


class Aws:
    """One boto3 session for the run; clients made on first use of a region, once."""

    def __init__(self, session: Any, masker: Masker) -> None:
        self.session = session
        self.masker = masker
        self._clients: dict[str, Clients] = {}
        self._lock = threading.Lock()  # a boto3 session is not safe to make clients from at once
        self._limiters: dict[str, anyio.CapacityLimiter] = {}

    @classmethod
    async def open(cls) -> Aws:
        """The SDK's session (its chain decides credentials and region) and a masker for the
        secrets it found."""

        def make() -> Aws:
            import boto3
            from botocore.exceptions import ProfileNotFound

            try:
                session = boto3.session.Session()
            except ProfileNotFound as exc:  # AWS_PROFILE names no profile of the config
                raise PublishError(
                    f"AWS_PROFILE={os.environ.get('AWS_PROFILE', '')!r}: no such profile in the AWS config ({exc})",
                    hint="set AWS_PROFILE to a profile of ~/.aws/config, or unset it",
                ) from None
            secrets = [os.environ.get(v, "") for v in ("AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN")]
            return cls(session, Masker([s for s in secrets if s]))

        return await anyio.to_thread.run_sync(make)

    @property
    def default_region(self) -> str | None:
        """The region when the settings name none, as the AWS CLI v2 finds it: ``AWS_REGION``,
        then the SDK's chain (``AWS_DEFAULT_REGION``, then the profile's ``region``)."""
        return os.environ.get("AWS_REGION") or self.session.region_name or None

    async def check_credentials(self, where: str) -> None:
        """Fail before anything is built when the SDK's chain finds no credentials at all."""

        def find() -> Any:
            with aws_errors(where, "-", self.masker):
                return self.session.get_credentials()

        if await anyio.to_thread.run_sync(find) is None:
            raise PublishError(f"{where}: no AWS credentials (NoCredentials)", hint=_HINTS["NoCredentials"])

    def clients(self, region: str) -> Clients:
        with self._lock:
            found = self._clients.get(region)
            if found is None:
                from boto3.s3.transfer import TransferConfig
                from botocore.config import Config

                retries: dict[str, Any] = {}
                if not (os.environ.get("AWS_RETRY_MODE") or os.environ.get("AWS_MAX_ATTEMPTS")):
                    retries = {"mode": "standard", "max_attempts": _MAX_ATTEMPTS}
                config = Config(
                    retries=retries or None,
                    max_pool_connections=CALLS_PER_REGION * 4,
                    user_agent_extra="layerctl",
                )
                found = self._clients[region] = Clients(
                    region=region,
                    lambda_=self.session.client("lambda", region_name=region, config=config),
                    s3=self.session.client("s3", region_name=region, config=config),
                    transfer=TransferConfig(max_concurrency=CALLS_PER_REGION),
                )
            return found

    async def call(self, region: str, work: Callable[[Clients], T]) -> T:
        """``work(clients)`` in a worker thread, at most CALLS_PER_REGION at once per region."""
        limiter = self._limiters.setdefault(region, anyio.CapacityLimiter(CALLS_PER_REGION))
        return await anyio.to_thread.run_sync(lambda: work(self.clients(region)), limiter=limiter)


def hint_for(code: str) -> str | None:
    return _HINTS.get(code)


@contextmanager
def aws_errors(target: str, region: str, masker: Masker) -> Iterator[None]:
    """Turn the SDK's exceptions into one-line ``PublishError``s naming target, region and code."""
    from boto3.exceptions import S3UploadFailedError
    from botocore.exceptions import BotoCoreError, ClientError, NoCredentialsError

    try:
        yield
    except S3UploadFailedError as exc:
        cause = exc.__cause__ or exc.__context__
        raise _translate(cause if isinstance(cause, ClientError) else exc, target, region, masker) from exc
    except NoCredentialsError as exc:
        raise PublishError(
            f"{target}: {region}: no AWS credentials (NoCredentials)", hint=_HINTS["NoCredentials"]
        ) from exc
    except (ClientError, BotoCoreError) as exc:
        raise _translate(exc, target, region, masker) from exc


def _translate(exc: BaseException, target: str, region: str, masker: Masker) -> PublishError:
    code = error_code(exc) or type(exc).__name__
    message = str(exc)
    if error_code(exc):
        message = str(getattr(exc, "response", {}).get("Error", {}).get("Message") or "") or message
    line = " ".join(f"{target}: {region}: {code}: {message}".split())
    return PublishError(masker(line), hint=_HINTS.get(code), transient=code in _TRANSIENT)
