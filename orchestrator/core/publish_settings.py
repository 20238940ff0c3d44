"""The `[tool.layerctl.publish]` settings, declared once like every setting (``settings.py``):
the workspace sets them, a layer's own table may override any key (``share`` as a whole).
Credentials and the endpoint are never settings: they come from the AWS SDK's own chain."""

from __future__ import annotations

from pydantic import field_validator

from .settings import Model, setting
from .templates import check_template

__all__ = ["PLACEHOLDERS", "PublishSettings", "ShareSettings"]

# What the layer-name and description templates may use (`bucket`: only {region}).
PLACEHOLDERS = ("layer", "python", "python_nodot", "arch", "runtime")


class ShareSettings(Model):
    """Who may use each new layer version (`add_layer_version_permission`)."""

    accounts: tuple[str, ...] = setting((), "AWS account ids (12 digits) that may use each new version.")
    organization_id: str | None = setting(
        None,
        "An AWS Organizations id (`o-...`): every account in it may use each new version.",
        pattern=r"^o-[a-z0-9]{10,32}$",
    )
    public: bool = setting(False, "Every AWS account may use each new version.", strict=True)

    @field_validator("accounts")
    @classmethod
    def _account_ids(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        for account in value:
            if not (len(account) == 12 and account.isdigit()):
                raise ValueError(f"{account!r} is not an AWS account id (12 digits, as a string)")
        return tuple(dict.fromkeys(value))


class PublishSettings(Model):
    """Where and how targets are published (`layerctl publish`, `build-all --publish`)."""

    regions: tuple[str, ...] = setting(
        (),
        "AWS regions to publish to (default, as the AWS CLI v2 chooses: `AWS_REGION`, then `AWS_DEFAULT_REGION`, then the profile's `region`).",
    )
    bucket: str | None = setting(
        None,
        "S3 bucket for the zips, a template that may use `{region}` (Lambda reads layer content from a bucket in its own region). Without it a zip up to 50 MB is sent directly.",
    )
    prefix: str = setting(
        "layerctl",
        "Key prefix in the bucket: objects are `<prefix>/<layer>/<python>-<arch>/<sha256>.zip`.",
    )
    layer_name: str = setting(
        "{layer}-py{python_nodot}-{arch}",
        "Lambda layer name, a template: `{layer}`, `{python}`, `{python_nodot}`, `{arch}`, `{runtime}`; checked against Lambda's rules (letters, digits, `-`, `_`, at most 140) before anything is sent, and one name per target (two targets under one name, or a name holding versions published for another target, is an error, exit 2).",
    )
    description: str = setting(
        "{layer} for {runtime} on {arch}",
        "Layer version description, a template like `layer-name`; layerctl appends `layerctl sha256:<hex> target:<id>` (how it knows a version is current, and whose it is).",
    )
    license_info: str | None = setting(
        None, "The layer versions' license (an SPDX id or a URL).", max_length=512
    )
    keep: int | None = setting(
        None,
        "Prune: keep the newest N versions layerctl published for each target, delete its older ones; versions published by hand are never deleted (default: delete none).",
        ge=1,
        strict=True,
    )
    share: ShareSettings = setting(
        ShareSettings(),
        '`{accounts = [...], organization-id = "o-...", public = true}`: who may use each new version.',
    )

    @field_validator("regions")
    @classmethod
    def _region_names(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        for region in value:
            parts = region.split("-")
            if (
                len(parts) < 3
                or not parts[-1].isdigit()
                or not all(p.isalpha() and p.islower() for p in parts[:-1])
            ):
                raise ValueError(f"{region!r} is not an AWS region name (e.g. eu-west-1)")
        return tuple(dict.fromkeys(value))

    @field_validator("bucket")
    @classmethod
    def _bucket_template(cls, value: str | None) -> str | None:
        return None if value is None else check_template(value, ["region"])

    @field_validator("layer_name", "description")
    @classmethod
    def _templates(cls, value: str) -> str:
        return check_template(value, PLACEHOLDERS)

    @field_validator("prefix")
    @classmethod
    def _key_prefix(cls, value: str) -> str:
        parts = value.strip("/").split("/")
        if any(part in ("", ".", "..") for part in parts) and value.strip("/"):
            raise ValueError("must be a plain key prefix such as layerctl or layers/prod (no '..', no '//')")
        return value.strip("/")
