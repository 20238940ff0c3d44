"""One target's zip in one region: a new layer version only when the latest version of its
layer name does not already record this zip's sha256 (the state lives in AWS, so every runner
agrees), the zip uploaded to its content-addressed key only when no object is there yet, the
version shared and this target's old versions pruned. Never raises for AWS's refusal: the result says it."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import anyio

from ..core.errors import PublishError, error_code
from ..core.events import PublishResult
from ..core.once import Once
from ..core.publish_settings import PublishSettings
from ..plan.targets import Target
from .aws import Aws, Clients, aws_errors, hint_for
from .naming import DIRECT_LIMIT, bucket_name, carries, description, layer_name, s3_key
from .owners import list_versions, owned_versions

__all__ = ["Zip", "publish_to_region"]


@dataclass(frozen=True)
class Zip:
    """What a good build made: the file, its sha256 and size."""

    path: Path
    sha256: str
    size: int


async def publish_to_region(
    aws: Aws, buckets: Once[str], target: Target, settings: PublishSettings, made: Zip, region: str
) -> PublishResult:
    name = layer_name(settings, target)
    try:
        with aws_errors(target.id, region, aws.masker):
            return await _publish(aws, buckets, target, settings, made, region, name)
    except PublishError as exc:
        return PublishResult(
            region=region, status="failed", layer_name=name, error=exc.message, exit_code=exc.exit_code,
            hint=exc.hint,
        )  # fmt: skip


async def _publish(
    aws: Aws,
    buckets: Once[str],
    target: Target,
    settings: PublishSettings,
    made: Zip,
    region: str,
    name: str,
) -> PublishResult:
    latest = await aws.call(region, lambda c: _latest(c, name))
    if latest is not None and carries(latest.get("Description"), made.sha256):
        version, arn = int(latest["Version"]), str(latest["LayerVersionArn"])
        shared = await _share(aws, region, name, version, settings, new=False)
        pruned = await _prune(aws, region, name, target.id, settings.keep)
        return PublishResult(
            region=region, status="unchanged", layer_name=name, version=version, arn=arn,
            shared=shared, pruned=pruned,
        )  # fmt: skip
    content, uploaded = await _content(aws, buckets, target, settings, made, region)
    request: dict[str, Any] = {
        "LayerName": name,
        "Description": description(settings, target, made.sha256),
        "Content": content,
        "CompatibleRuntimes": [target.runtime.lambda_runtime],
        "CompatibleArchitectures": [target.arch.value],
    }
    if settings.license_info:
        request["LicenseInfo"] = settings.license_info
    if "ZipFile" in content:
        uploaded = True
    made_version = await aws.call(region, lambda c: c.lambda_.publish_layer_version(**request))
    version, arn = int(made_version["Version"]), str(made_version["LayerVersionArn"])
    shared = await _share(aws, region, name, version, settings, new=True)
    pruned = await _prune(aws, region, name, target.id, settings.keep)
    return PublishResult(
        region=region, status="published", layer_name=name, version=version, arn=arn,
        uploaded=uploaded, shared=shared, pruned=pruned,
    )  # fmt: skip


def _latest(clients: Clients, name: str) -> dict[str, Any] | None:
    """The newest version of a layer name (Lambda lists newest first), or None."""
    page = clients.lambda_.list_layer_versions(LayerName=name, MaxItems=1)
    versions = page.get("LayerVersions") or []
    return max(versions, key=lambda v: int(v["Version"])) if versions else None


async def _content(
    aws: Aws, buckets: Once[str], target: Target, settings: PublishSettings, made: Zip, region: str
) -> tuple[dict[str, Any], bool]:
    """Where Lambda reads the zip from, and whether it was sent in this run."""
    bucket = bucket_name(settings, region)
    if bucket is None:
        if made.size > DIRECT_LIMIT:
            raise PublishError(
                f"{target.id}: {region}: the zip is {made.size / 2**20:.1f} MiB, over the 50 MiB Lambda "
                'takes in a request: set [tool.layerctl.publish] bucket (e.g. "my-layers-{region}")'
            )
        return {"ZipFile": await anyio.Path(made.path).read_bytes()}, True
    try:  # once per region and bucket; every target that needs it hears the answer
        await buckets.get((region, bucket), lambda: _check_bucket(aws, region, bucket))
    except PublishError as exc:
        raise PublishError(f"{target.id}: {exc.message}", hint=exc.hint) from exc
    key = s3_key(settings, target, made.sha256)
    uploaded = False
    if not await aws.call(region, lambda c: _exists(c, bucket, key)):
        await aws.call(region, lambda c: _upload(c, made.path, bucket, key))
        uploaded = True
    return {"S3Bucket": bucket, "S3Key": key}, uploaded


async def _check_bucket(aws: Aws, region: str, bucket: str) -> str:
    """The bucket exists, may be read, and is in this region (the SDK follows S3's redirect to
    another region, so the answer's region is compared)."""
    from botocore.exceptions import ClientError

    def head(clients: Clients) -> str:
        try:
            answer = clients.s3.head_bucket(Bucket=bucket)
        except ClientError as exc:  # HEAD has no body: its status is all S3 says
            code = {"404": "NoSuchBucket", "403": "AccessDenied", "301": "PermanentRedirect"}.get(
                error_code(exc) or ""
            )
            if code is None:
                raise
            raise PublishError(f"{region}: {code}: bucket {bucket}", hint=hint_for(code)) from exc
        return str(answer.get("BucketRegion") or region)

    with aws_errors(f"bucket {bucket}", region, aws.masker):
        found = await aws.call(region, head)
    if found != region:
        raise PublishError(
            f"{region}: PermanentRedirect: bucket {bucket} is in {found}, not {region}",
            hint=hint_for("PermanentRedirect"),
        )
    return found


def _exists(clients: Clients, bucket: str, key: str) -> bool:
    from botocore.exceptions import ClientError

    try:
        clients.s3.head_object(Bucket=bucket, Key=key)
    except ClientError as exc:
        if error_code(exc) in ("404", "NoSuchKey", "NotFound"):
            return False
        raise
    return True


def _upload(clients: Clients, path: Path, bucket: str, key: str) -> None:
    """The SDK's managed transfer (multipart for large zips), with a SHA-256 checksum of every
    part that S3 verifies before it keeps the object."""
    clients.s3.upload_file(
        str(path), bucket, key, ExtraArgs={"ChecksumAlgorithm": "SHA256"}, Config=clients.transfer
    )


def _statements(settings: PublishSettings) -> dict[str, dict[str, str]]:
    """The policy statements each version gets, by statement id."""
    share = settings.share
    wanted = {f"layerctl-{account}": {"Principal": account} for account in share.accounts}
    if share.organization_id:
        wanted[f"layerctl-{share.organization_id}"] = {
            "Principal": "*",
            "OrganizationId": share.organization_id,
        }
    if share.public:
        wanted["layerctl-public"] = {"Principal": "*"}
    return wanted


async def _share(
    aws: Aws, region: str, name: str, version: int, settings: PublishSettings, *, new: bool
) -> list[str]:
    """Add the statements the version lacks (a current version gains those added to `share`)."""
    wanted = _statements(settings)
    if not wanted:
        return []
    present: set[str] = set() if new else await aws.call(region, lambda c: _policy_ids(c, name, version))
    added = []
    for sid, fields in wanted.items():
        if sid not in present:
            await aws.call(region, _permit(name, version, sid, fields))
            added.append(sid)
    return added


def _permit(name: str, version: int, sid: str, fields: dict[str, str]) -> Callable[[Clients], object]:
    def permit(clients: Clients) -> object:
        return clients.lambda_.add_layer_version_permission(
            LayerName=name, VersionNumber=version, StatementId=sid, Action="lambda:GetLayerVersion", **fields
        )

    return permit


def _policy_ids(clients: Clients, name: str, version: int) -> set[str]:
    from botocore.exceptions import ClientError

    try:
        policy = clients.lambda_.get_layer_version_policy(LayerName=name, VersionNumber=version)
    except ClientError as exc:
        if error_code(exc) == "ResourceNotFoundException":  # no policy yet
            return set()
        raise
    return {str(s.get("Sid")) for s in json.loads(policy.get("Policy") or "{}").get("Statement", [])}


async def _prune(aws: Aws, region: str, name: str, target_id: str, keep: int | None) -> list[int]:
    """Delete all but the newest ``keep`` versions layerctl published for this target under the
    layer name; versions published by hand (or recorded for no target) are never deleted."""
    if keep is None:
        return []

    def prune(clients: Clients) -> list[int]:
        old = owned_versions(list_versions(clients, name), target_id)[keep:]
        for version in old:
            clients.lambda_.delete_layer_version(LayerName=name, VersionNumber=version)
        return old

    return await aws.call(region, prune)
