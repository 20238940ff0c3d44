"""Which target each layer version belongs to. layerctl records it in the version's description
(``layerctl sha256:<hex> target:<id>``, ``naming.py``); before a run sends anything, every layer
name it would publish to is listed in each region, and a name holding versions layerctl
published for another target is refused, naming both (they would shadow each other's versions,
and ``keep`` would prune them). Pruning deletes only the versions recorded for the same target:
versions published by hand, or by a layerctl that did not record the target, are never deleted."""

from __future__ import annotations

from typing import Any

from ..core.errors import ConfigError, LayerctlError, error_code
from ..core.fanout import fan_out
from .aws import Aws, Clients, aws_errors
from .naming import recorded_target

__all__ = ["check_owners", "list_versions", "owned_versions"]


def list_versions(clients: Clients, name: str) -> list[dict[str, Any]]:
    """Every version of a layer name, newest first (none when the name holds none)."""
    from botocore.exceptions import ClientError

    try:
        pages = clients.lambda_.get_paginator("list_layer_versions").paginate(LayerName=name)
        versions = [v for page in pages for v in page.get("LayerVersions", [])]
    except ClientError as exc:
        if error_code(exc) == "ResourceNotFoundException":
            return []
        raise
    return sorted(versions, key=lambda v: int(v["Version"]), reverse=True)


def owned_versions(versions: list[dict[str, Any]], target_id: str) -> list[int]:
    """The version numbers layerctl published for this target, newest first."""
    return [int(v["Version"]) for v in versions if recorded_target(v.get("Description")) == target_id]


async def check_owners(aws: Aws, claimed: dict[tuple[str, str], str], layer_names: dict[str, str]) -> None:
    """Refuse (ConfigError, exit 2) a layer name that holds versions layerctl published for a
    target other than the one this run publishes there. ``claimed``: (region, layer name) ->
    target id; ``layer_names``: the 'layer-name' template of each target id (for the message)."""
    claims = sorted(claimed.items())

    async def one(claim: tuple[tuple[str, str], str]) -> LayerctlError | None:
        (region, name), target_id = claim
        try:
            with aws_errors(target_id, region, aws.masker):
                versions = await aws.call(region, lambda c: list_versions(c, name))
        except LayerctlError as exc:
            return exc
        for version in versions:
            other = recorded_target(version.get("Description"))
            if other is not None and other != target_id:
                return ConfigError(
                    f"{target_id}: layer {name!r} in {region} holds version {version['Version']}, which "
                    f"layerctl published for {other}: 'layer-name' = {layer_names[target_id]!r} must tell "
                    "them apart (use {layer}, {python_nodot} and {arch}), or delete that layer's versions"
                )
        return None

    fanned = await fan_out(claims, one, limiter=len(claims) or 1, name=lambda c: f"{c[1]}@{c[0][0]}")
    for index in range(len(claims)):
        problem = fanned.results.get(index)
        if problem is not None:
            raise problem
