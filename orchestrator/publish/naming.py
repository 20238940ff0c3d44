"""Names made from a target and the publish settings, checked against AWS's rules before
anything is sent: the layer name, the bucket, the S3 key and the description that records the
zip's sha256 and the target (how any runner knows whether a version is current, and which
target's it is). Pure."""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

from ..core.errors import ConfigError
from ..core.publish_settings import PublishSettings
from ..plan.targets import Target

__all__ = [
    "DIRECT_LIMIT",
    "MARKER",
    "TARGET_MARKER",
    "bucket_name",
    "carries",
    "check_names",
    "description",
    "layer_name",
    "recorded_target",
    "s3_key",
    "settings_for",
]

MARKER = "layerctl sha256:"
TARGET_MARKER = "target:"  # after the sha256: the id of the target the version was published for
_RECORD = re.compile(rf"{MARKER}[0-9a-f]{{64}} {TARGET_MARKER}(?P<target>\S+)$")
DIRECT_LIMIT = 50 * 1024 * 1024  # Lambda takes a zip this large in the request itself
_LAYER_NAME = re.compile(r"^[A-Za-z0-9_-]{1,140}$")
_BUCKET = re.compile(r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$")
_DESCRIPTION_MAX = 256


def settings_for(workspace: dict[str, Any], layer: dict[str, Any]) -> PublishSettings:
    """A layer's publish settings: the workspace's table, overridden key by key by the layer's."""
    return PublishSettings.model_validate({**workspace, **layer})


def _values(target: Target) -> dict[str, str]:
    return {
        "layer": target.layer.name,
        "python": target.python,
        "python_nodot": target.python.replace(".", ""),
        "arch": target.arch.value,
        "runtime": target.runtime.lambda_runtime,
    }


def layer_name(settings: PublishSettings, target: Target) -> str:
    name = settings.layer_name.format(**_values(target))
    if not _LAYER_NAME.match(name):
        raise ConfigError(
            f"{target.id}: layer name {name!r} (from 'layer-name' = {settings.layer_name!r}) breaks "
            "Lambda's rules: letters, digits, '-' and '_' only, at most 140; set [tool.layerctl.publish] "
            "layer-name"
        )
    return name


def bucket_name(settings: PublishSettings, region: str) -> str | None:
    if settings.bucket is None:
        return None
    bucket = settings.bucket.format(region=region)
    if not _BUCKET.match(bucket) or ".." in bucket or re.fullmatch(r"[\d.]+", bucket):
        raise ConfigError(
            f"bucket {bucket!r} (from 'bucket' = {settings.bucket!r}) is not a valid S3 bucket name: "
            "3 to 63 lowercase letters, digits, '.' and '-'; set [tool.layerctl.publish] bucket"
        )
    return bucket


def description(settings: PublishSettings, target: Target, sha256: str) -> str:
    """The template's text, then layerctl's record: ``layerctl sha256:<hex> target:<id>``."""
    text = settings.description.format(**_values(target)).strip()
    record = f"{MARKER}{sha256} {TARGET_MARKER}{target.id}"
    marked = f"{text} {record}".strip()
    if len(marked) > _DESCRIPTION_MAX:
        room = max(0, _DESCRIPTION_MAX - len(record) - 1)
        raise ConfigError(
            f"{target.id}: the description is {len(text)} characters; Lambda allows {room} besides "
            "layerctl's record (sha256 and target): shorten [tool.layerctl.publish] description"
        )
    return marked


def carries(text: str | None, sha256: str) -> bool:
    """Whether a layer version's description records this zip's sha256."""
    return bool(text) and f"{MARKER}{sha256}" in str(text)


def recorded_target(text: str | None) -> str | None:
    """The id of the target layerctl published a version for, from its description; None for a
    version published by hand (or by a layerctl that did not record the target yet)."""
    found = _RECORD.search(str(text or "").rstrip())
    return found.group("target") if found else None


def s3_key(settings: PublishSettings, target: Target, sha256: str) -> str:
    """Content addressed: the same zip always has the same key, so it is uploaded once."""
    path = f"{target.layer.name}/{target.python}-{target.arch.value}/{sha256}.zip"
    return f"{settings.prefix}/{path}" if settings.prefix else path


def check_names(
    targets: Iterable[tuple[Target, PublishSettings, Iterable[str]]],
) -> dict[tuple[str, str], str]:
    """Every name a run would send, checked before it sends anything (ConfigError, exit 2), over
    the whole publish set at once: two targets under one layer name in one region would shadow
    and prune each other's versions. Returns the target id of each (region, layer name)."""
    claimed: dict[tuple[str, str], str] = {}
    for target, settings, regions in targets:
        name = layer_name(settings, target)
        description(settings, target, "0" * 64)
        for region in regions:
            bucket_name(settings, region)
            other = claimed.setdefault((region, name), target.id)
            if other != target.id:
                raise ConfigError(
                    f"{other} and {target.id} would both publish as layer {name!r} in {region}: "
                    f"'layer-name' = {settings.layer_name!r} must tell every target apart "
                    "(use {layer}, {python_nodot} and {arch})"
                )
    return claimed
