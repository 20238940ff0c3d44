"""The [tool.layerctl.publish] table: read and checked like every setting ("did you mean", one
line, exit 2), a layer overriding the workspace, and every name AWS would refuse caught before
anything is sent."""

from __future__ import annotations

from pathlib import Path

import anyio
import pytest

from orchestrator.core.errors import ConfigError
from orchestrator.plan.targets import Plan, make_plan
from orchestrator.publish.aws import Aws
from orchestrator.publish.naming import (
    bucket_name,
    carries,
    check_names,
    description,
    recorded_target,
    s3_key,
    settings_for,
)
from orchestrator.workspace.config import load_workspace
from orchestrator.workspace.discovery import discover_layers
from tests.support.cli import invoke


def plan(root: Path, workspace: str, layer: str = "", name: str = "web") -> Plan:
    (root / "pyproject.toml").write_text(
        f'[tool.layerctl]\npython = ["3.12"]\narch = ["arm64"]\n[tool.layerctl.publish]\n{workspace}'
    )
    project = root / "layers" / name
    project.mkdir(parents=True, exist_ok=True)
    (project / "pyproject.toml").write_text(
        f'[project]\nname = "{name}"\nversion = "1"\ndependencies = []\n[tool.layerctl.publish]\n{layer}'
    )
    config = load_workspace(root)
    return make_plan(config, discover_layers(config))


@pytest.mark.parametrize(
    ("table", "error"),
    [
        ("regoins = []", "[tool.layerctl.publish]: unknown key 'regoins'; did you mean 'regions'?"),
        (
            "share = {acounts = []}",
            "[tool.layerctl.publish] share: unknown key 'acounts'; did you mean 'accounts'?",
        ),
        ('share = {accounts = ["12"]}', "'share': '12' is not an AWS account id (12 digits, as a string)"),
        ("keep = 0", "'keep': Input should be greater than or equal to 1"),
        ('layer-name = "{name}"', "'layer-name': may use only the placeholders"),
        ('layer-name = "{layer.__class__}"', "'layer-name': may use only the placeholders"),
        ('description = "{layer!r}"', "'description': may use only the placeholders"),
        ('bucket = "x-{arch}"', "'bucket': may use only the placeholders {region}"),
        ('regions = ["Europe"]', "'regions': 'Europe' is not an AWS region name (e.g. eu-west-1)"),
    ],
)
def test_bad_settings_are_one_line_with_exit_2(tmp_path: Path, table: str, error: str) -> None:
    with pytest.raises(ConfigError) as caught:
        plan(tmp_path, table)
    assert error in caught.value.message and caught.value.exit_code == 2
    result = invoke(["-C", str(tmp_path), "publish"])
    assert result.exit_code == 2 and error in result.stderr and len(result.stderr.splitlines()) == 1


def test_a_layer_overrides_the_workspace_key_by_key(tmp_path: Path) -> None:
    made = plan(tmp_path, 'regions = ["eu-west-1"]\nkeep = 3\nbucket = "b-{region}"', "keep = 1")
    (target,) = made.targets
    settings = settings_for(made.workspace.publish, target.layer.publish)
    assert (settings.regions, settings.keep, settings.bucket) == (("eu-west-1",), 1, "b-{region}")
    assert bucket_name(settings, "us-east-2") == "b-us-east-2"
    assert s3_key(settings, target, "ab" * 32) == f"layerctl/web/3.12-arm64/{'ab' * 32}.zip"
    text = description(settings, target, "ab" * 32)
    assert text == f"web for python3.12 on arm64 layerctl sha256:{'ab' * 32} target:web:py3.12-arm64"
    assert carries(text, "ab" * 32) and not carries(text, "cd" * 32) and not carries(None, "ab" * 32)


@pytest.mark.parametrize(
    ("text", "target"),
    [
        (f"web for python3.12 layerctl sha256:{'ab' * 32} target:web:py3.12-arm64", "web:py3.12-arm64"),
        (f"layerctl sha256:{'ab' * 32} target:my_layer:py3.11-x86_64 ", "my_layer:py3.11-x86_64"),
        (f"web layerctl sha256:{'ab' * 32}", None),  # a layerctl that did not record the target
        ("published by hand", None),
        ("by hand, target:web:py3.12-arm64", None),  # no layerctl record before it
        (None, None),
    ],
)
def test_the_target_a_version_was_published_for(text: str | None, target: str | None) -> None:
    assert recorded_target(text) == target


@pytest.mark.parametrize(
    ("workspace", "name", "error"),
    [
        ("", "my.layer", "layer name 'my.layer-py312-arm64' (from 'layer-name'"),
        ('layer-name = "{layer}-' + "x" * 140 + '"', "web", "breaks Lambda's rules"),
        ('bucket = "Not_A_Bucket"', "web", "is not a valid S3 bucket name"),
        ('description = "' + "d" * 200 + '"', "web", "shorten [tool.layerctl.publish] description"),
    ],
)
def test_names_aws_would_refuse_are_caught_before_sending(
    tmp_path: Path, workspace: str, name: str, error: str
) -> None:
    made = plan(tmp_path, f'regions = ["eu-west-1"]\n{workspace}', name=name)
    pairs = [(t, settings_for(made.workspace.publish, t.layer.publish), ["eu-west-1"]) for t in made.targets]
    with pytest.raises(ConfigError) as caught:
        check_names(pairs)
    assert error in caught.value.message


def test_two_targets_under_one_layer_name_are_refused(tmp_path: Path) -> None:
    """They would prune and shadow each other's versions, and hand deleted ARNs to a deploy."""
    made = plan(tmp_path, 'regions = ["eu-west-1"]\nlayer-name = "{layer}-{arch}"')
    (tmp_path / "pyproject.toml").write_text(
        (tmp_path / "pyproject.toml").read_text().replace('python = ["3.12"]', 'python = ["3.11", "3.12"]')
    )
    config = load_workspace(tmp_path)
    made = make_plan(config, discover_layers(config))
    settings = [(t, settings_for(made.workspace.publish, t.layer.publish)) for t in made.targets]
    with pytest.raises(ConfigError, match="would both publish as layer 'web-arm64' in eu-west-1"):
        check_names((t, s, ["eu-west-1"]) for t, s in settings)
    # in two regions of their own they do not meet
    claimed = check_names((t, s, [r]) for (t, s), r in zip(settings, ["eu-west-1", "us-east-2"], strict=True))
    assert claimed == {
        ("eu-west-1", "web-arm64"): "web:py3.11-arm64",
        ("us-east-2", "web-arm64"): "web:py3.12-arm64",
    }


@pytest.mark.parametrize(
    ("env", "region"),
    [
        ({}, "ap-south-1"),  # the profile's region
        ({"AWS_DEFAULT_REGION": "us-west-2"}, "us-west-2"),
        ({"AWS_REGION": "eu-west-1"}, "eu-west-1"),
        ({"AWS_REGION": "eu-west-1", "AWS_DEFAULT_REGION": "us-west-2"}, "eu-west-1"),
        ({"AWS_REGION": "", "AWS_DEFAULT_REGION": "us-west-2"}, "us-west-2"),  # empty: not set
    ],
)
def test_the_default_region_is_found_as_the_aws_cli_finds_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, env: dict[str, str], region: str
) -> None:
    """AWS_REGION, then AWS_DEFAULT_REGION, then the profile (the `regions` setting comes first:
    tests/integration/test_publish.py)."""
    config = tmp_path / "config"
    config.write_text("[default]\nregion = ap-south-1\n")
    for name in ("AWS_REGION", "AWS_DEFAULT_REGION", "AWS_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(config))
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    assert anyio.run(Aws.open).default_region == region


@pytest.mark.parametrize("profile", ["", "no-such-profile"])
def test_a_profile_the_sdk_cannot_find_is_one_line(
    profile: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """Before: ``AWS_PROFILE=""`` (or a profile not in the config) ended publishing in exit 70,
    botocore's ProfileNotFound escaping as a bug."""
    import anyio

    from orchestrator.core.errors import PublishError
    from orchestrator.publish.aws import Aws

    monkeypatch.setenv("AWS_PROFILE", profile)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "credentials"))
    with pytest.raises(PublishError, match="AWS_PROFILE") as raised:
        anyio.run(Aws.open)
    assert "\n" not in str(raised.value)
