"""Publishing against a real API server: moto in server mode on loopback, boto3 pointed at it
with AWS_ENDPOINT_URL through a proxy that counts the requests (and throttles when asked). The
example is built once per session (``built_example``); each test publishes a copy of it."""

from __future__ import annotations

import base64
import hashlib
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest

from orchestrator.package.zip import sha256_file
from tests.support.aws import AwsProxy, moto_server

from .conftest import layerctl, report

pytestmark = pytest.mark.integration

REGIONS = ("eu-west-1", "us-east-2")
SECRET = "wJalrXUtnFEMI-layerctl-test-secret-K7MDENG"
BUCKET = "layerctl-test-{region}"
RUNTIMES = {"3.11": "python3.11", "3.12": "python3.12"}


class Aws:
    def __init__(self, moto: str, proxy: AwsProxy) -> None:
        self.moto, self.proxy = moto, proxy

    def env(self, **extra: str) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "GITHUB_"))}
        env.update(
            AWS_ENDPOINT_URL=self.proxy.url,
            AWS_ACCESS_KEY_ID="AKIAIOSFODNN7LAYERCTL",
            AWS_SECRET_ACCESS_KEY=SECRET,
            AWS_REGION=REGIONS[0],
            AWS_EC2_METADATA_DISABLED="true",
            AWS_CONFIG_FILE=os.devnull,
            AWS_SHARED_CREDENTIALS_FILE=os.devnull,
        )
        return {**env, **extra}

    def client(self, service: str, region: str = REGIONS[0]) -> Any:
        return boto3.client(
            service,
            region_name=region,
            endpoint_url=self.moto,
            aws_access_key_id="testing",
            aws_secret_access_key="testing",
        )

    def make_buckets(self, regions: tuple[str, ...] = REGIONS) -> None:
        for region in regions:
            self.client("s3", region).create_bucket(
                Bucket=BUCKET.format(region=region), CreateBucketConfiguration={"LocationConstraint": region}
            )

    def versions(self, region: str) -> dict[str, list[dict[str, Any]]]:
        lam = self.client("lambda", region)
        names = [layer["LayerName"] for layer in lam.list_layers()["Layers"]]
        return {name: lam.list_layer_versions(LayerName=name)["LayerVersions"] for name in names}


@pytest.fixture(scope="session")
def moto() -> Iterator[tuple[str, AwsProxy]]:
    with moto_server() as server:
        yield server


@pytest.fixture
def aws(moto: tuple[str, AwsProxy]) -> Aws:
    url, proxy = moto
    urllib.request.urlopen(urllib.request.Request(f"{url}/moto-api/reset", method="POST")).read()
    proxy.reset()
    return Aws(url, proxy)


def workspace(
    built: tuple[Path, subprocess.CompletedProcess[str]], dest: Path, publish: str, *, builds: bool = False
) -> Path:
    """A copy of the built example whose workspace publishes with these settings (``builds``:
    with the trees a build checks, so its targets are up to date; `publish` needs only zips)."""
    root, result = built
    assert result.returncode == 0, result.stdout + result.stderr
    copy = dest / "monorepo"
    ignore = ("layerctl",) if builds else ("layerctl", "artifacts")
    shutil.copytree(root, copy, symlinks=True, ignore=shutil.ignore_patterns(*ignore))
    pyproject = copy / "pyproject.toml"
    pyproject.write_text(pyproject.read_text() + "\n[tool.layerctl.publish]\n" + publish)
    return copy


def rows(root: Path) -> dict[str, dict[str, Any]]:
    return {row["id"]: row for row in report(root)["targets"]}


def assert_clean(result: subprocess.CompletedProcess[str], root: Path) -> None:
    """No traceback, and the secret key nowhere: output, report, logs."""
    for text in (result.stdout, result.stderr, (root / "build/layerctl/report.json").read_text()):
        assert "Traceback" not in text and SECRET not in text
    for log in root.glob("layers/*/build/lambda/layer/*/build.log"):
        assert SECRET not in log.read_text()


def test_build_all_publish_then_publish_again(built_example: Any, aws: Aws, tmp_path: Path) -> None:
    root = workspace(
        built_example, tmp_path, f'regions = {json.dumps(REGIONS)}\nbucket = "{BUCKET}"\n', builds=True
    )
    aws.make_buckets()
    output = tmp_path / "github_output"
    first = layerctl(
        "-C", str(root), "build-all", "--publish", "--jobs", "4", "--log-format", "plain",
        env=aws.env(GITHUB_OUTPUT=str(output)),
    )  # fmt: skip
    assert first.returncode == 0, first.stdout + first.stderr
    assert_clean(first, root)
    targets = rows(root)
    assert len(targets) == 12
    arns: dict[str, dict[str, str]] = json.loads(output.read_text().split("layer-arns=", 1)[1])
    for region in REGIONS:
        versions = aws.versions(region)
        assert len(versions) == 12 and all(len(v) == 1 for v in versions.values())  # 24 in all
        s3 = aws.client("s3", region)
        for target_id, row in targets.items():
            layer, slug = target_id.split(":")
            python, arch = slug.removeprefix("py").split("-")
            name = f"{layer}-py{python.replace('.', '')}-{arch}"
            (version,) = versions[name]
            assert version["CompatibleRuntimes"] == [RUNTIMES[python]]
            assert version["CompatibleArchitectures"] == [arch]
            assert f"layerctl sha256:{row['sha256']}" in version["Description"]
            (published,) = [p for p in row["publish"] if p["region"] == region]
            assert published["status"] == "published" and published["arn"] == version["LayerVersionArn"]
            assert arns[target_id][region] == version["LayerVersionArn"]
            key = f"layerctl/{layer}/{python}-{arch}/{row['sha256']}.zip"
            stored = s3.get_object(Bucket=BUCKET.format(region=region), Key=key)["Body"].read()
            assert hashlib.sha256(stored).hexdigest() == row["sha256"] == sha256_file(Path(row["zip_path"]))
    assert aws.proxy.ops["PublishLayerVersion"] == 24

    aws.proxy.reset()
    again = layerctl("-C", str(root), "publish", "--format", "json", env=aws.env())
    assert again.returncode == 0, again.stdout + again.stderr
    assert_clean(again, root)
    printed = json.loads(again.stdout)
    assert len(printed) == 24 and {p["status"] for p in printed} == {"unchanged"}
    assert {p["arn"] for p in printed} == {arn for by_region in arns.values() for arn in by_region.values()}
    ops = aws.proxy.ops
    assert ops["PublishLayerVersion"] == ops["PutObject"] == ops["UploadPart"] == 0, ops
    assert sum(len(v) for r in REGIONS for v in aws.versions(r).values()) == 24


def test_a_changed_dependency_publishes_only_its_layer(built_example: Any, aws: Aws, tmp_path: Path) -> None:
    root = workspace(
        built_example, tmp_path, f'regions = {json.dumps(REGIONS)}\nbucket = "{BUCKET}"\n', builds=True
    )
    aws.make_buckets()
    first = layerctl("-C", str(root), "publish", env=aws.env())
    assert first.returncode == 0, first.stdout + first.stderr
    utils = root / "layers/utils/pyproject.toml"
    utils.write_text(utils.read_text().replace('    "PyYAML>=6.0",\n', ""))
    aws.proxy.reset()
    second = layerctl("-C", str(root), "build-all", "--publish", "--jobs", "4", env=aws.env())
    assert second.returncode == 0, second.stdout + second.stderr
    targets = rows(root)
    assert {t for t, row in targets.items() if row["status"] == "built"} == {
        t for t in targets if t.startswith("utils:")
    }
    for target_id, row in targets.items():
        expected = "published" if target_id.startswith("utils:") else "unchanged"
        assert [p["status"] for p in row["publish"]] == [expected, expected]
    assert aws.proxy.ops["PublishLayerVersion"] == 8  # 4 utils targets x 2 regions
    for region in REGIONS:
        counts = {name: len(v) for name, v in aws.versions(region).items()}
        assert counts == {name: 2 if name.startswith("utils-") else 1 for name in counts}


def test_keep_prunes_only_this_targets_versions_and_share_adds_a_statement(
    built_example: Any, aws: Aws, tmp_path: Path
) -> None:
    root = workspace(
        built_example, tmp_path, 'regions = ["eu-west-1"]\nkeep = 1\nshare = {accounts = ["111122223333"]}\n'
    )
    lam = aws.client("lambda")
    old = base64.b64decode("UEsFBgAAAAAAAAAAAAAAAAAAAAAAAA==")  # an empty zip
    for text in (
        "published by hand",  # 1, 2: never layerctl's
        "by hand too",
        f"an earlier run layerctl sha256:{'ab' * 32} target:web:py3.12-arm64",  # 3: this target's
        f"an older layerctl layerctl sha256:{'cd' * 32}",  # 4: no target recorded
    ):
        lam.publish_layer_version(LayerName="web-py312-arm64", Description=text, Content={"ZipFile": old})
    result = layerctl("-C", str(root), "publish", "web", "--only", "web:py3.12-arm64", env=aws.env())
    assert result.returncode == 0, result.stdout + result.stderr
    (published,) = rows(root)["web:py3.12-arm64"]["publish"]
    assert published["status"] == "published" and published["version"] == 5 and published["pruned"] == [3]
    versions = lam.list_layer_versions(LayerName="web-py312-arm64")["LayerVersions"]
    assert sorted(v["Version"] for v in versions) == [1, 2, 4, 5]
    (new,) = [v for v in versions if v["Version"] == 5]
    assert new["Description"].endswith(f"layerctl sha256:{published_sha(root)} target:web:py3.12-arm64")
    policy = json.loads(lam.get_layer_version_policy(LayerName="web-py312-arm64", VersionNumber=5)["Policy"])
    assert [(s["Sid"], s["Principal"]) for s in policy["Statement"]] == [
        ("layerctl-111122223333", "111122223333")
    ]


def published_sha(root: Path) -> str:
    return str(rows(root)["web:py3.12-arm64"]["sha256"])


def one_error(result: subprocess.CompletedProcess[str]) -> str:
    """The run's one line on stderr (exit 2, no traceback)."""
    assert result.returncode == 2, result.stdout + result.stderr
    (line,) = result.stderr.splitlines()
    assert line.startswith("layerctl: error: ") and "Traceback" not in result.stdout
    return line


def test_two_targets_under_one_layer_name_are_refused_before_anything_is_sent(
    built_example: Any, aws: Aws, tmp_path: Path
) -> None:
    """`layer-name` without {python} and {arch}: every target of a layer maps to one name. The
    whole publish set is checked at once, also when build-all publishes each zip as it is ready."""
    root = workspace(
        built_example, tmp_path, 'regions = ["eu-west-1"]\nlayer-name = "{layer}"\n', builds=True
    )
    for command in (["publish"], ["build-all", "--publish"], ["publish", "web"]):
        line = one_error(layerctl("-C", str(root), *command, env=aws.env()))
        assert re.fullmatch(
            r"layerctl: error: ((\w+):py3\.1[12]-\w+) and (?!\1)(\2:py3\.1[12]-\w+) would both publish as "
            r"layer '\2' in eu-west-1: 'layer-name' = '\{layer\}' must tell every target apart .*",
            line,
        ), line
    assert aws.proxy.ops["PublishLayerVersion"] == aws.proxy.ops["DeleteLayerVersion"] == 0
    assert aws.versions("eu-west-1") == {}


def test_a_layer_name_holding_another_targets_versions_is_refused(
    built_example: Any, aws: Aws, tmp_path: Path
) -> None:
    """Targets selected in separate runs meet in AWS: the versions record their target."""
    root = workspace(
        built_example,
        tmp_path,
        'regions = ["eu-west-1"]\nlayer-name = "{layer}-{arch}"\nkeep = 1\n',
        builds=True,
    )
    first = layerctl("-C", str(root), "publish", "--only", "web:py3.12-arm64", env=aws.env())
    assert first.returncode == 0, first.stdout + first.stderr
    aws.proxy.reset()
    for command in (["publish"], ["build-all", "--publish"]):
        line = one_error(layerctl("-C", str(root), *command, "--only", "web:py3.11-arm64", env=aws.env()))
        assert line == (
            "layerctl: error: web:py3.11-arm64: layer 'web-arm64' in eu-west-1 holds version 1, which layerctl "
            "published for web:py3.12-arm64: 'layer-name' = '{layer}-{arch}' must tell them apart (use {layer}, "
            "{python_nodot} and {arch}), or delete that layer's versions"
        )
    assert aws.proxy.ops["PublishLayerVersion"] == aws.proxy.ops["DeleteLayerVersion"] == 0
    assert [v["Version"] for v in aws.versions("eu-west-1")["web-arm64"]] == [1]
    again = layerctl("-C", str(root), "publish", "--only", "web:py3.12-arm64", env=aws.env())
    assert again.returncode == 0, again.stdout + again.stderr  # its own versions are its own


def test_the_region_setting_then_aws_region_then_aws_default_region(
    built_example: Any, aws: Aws, tmp_path: Path
) -> None:
    """As the AWS CLI v2 chooses: the setting, AWS_REGION, AWS_DEFAULT_REGION, the profile."""
    root = workspace(built_example, tmp_path, "")
    env = aws.env(AWS_REGION="us-east-2", AWS_DEFAULT_REGION="eu-west-1")
    for region, environment in (
        ("us-east-2", env),
        ("eu-west-1", {k: v for k, v in env.items() if k != "AWS_REGION"}),
    ):
        result = layerctl("-C", str(root), "publish", "--only", "web:py3.12-arm64", env=environment)
        assert result.returncode == 0, result.stdout + result.stderr
        assert [p["region"] for p in rows(root)["web:py3.12-arm64"]["publish"]] == [region]
    pyproject = root / "pyproject.toml"
    pyproject.write_text(pyproject.read_text() + 'regions = ["ap-south-1"]\n')
    result = layerctl("-C", str(root), "publish", "--only", "web:py3.12-arm64", env=env)
    assert result.returncode == 0, result.stdout + result.stderr
    assert [p["region"] for p in rows(root)["web:py3.12-arm64"]["publish"]] == ["ap-south-1"]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def test_the_readme_moto_example_runs_as_written(built_example: Any, tmp_path: Path) -> None:
    """README.md, "To try publishing without an AWS account": moto's own server, the README's
    variables (and nothing of this machine's AWS configuration), build-all --publish twice."""
    port = free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        url = f"http://127.0.0.1:{port}"
        for _ in range(300):
            try:
                urllib.request.urlopen(f"{url}/moto-api/data.json", timeout=1).read()
                break
            except OSError:
                time.sleep(0.1)
        readme = (Path(__file__).parents[2] / "README.md").read_text()
        assert (
            "export AWS_ENDPOINT_URL=http://127.0.0.1:5000 AWS_REGION=eu-west-1 AWS_ACCESS_KEY_ID=testing"
            in readme
        )
        env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "GITHUB_"))}
        env.update(
            AWS_ENDPOINT_URL=url, AWS_REGION="eu-west-1", AWS_ACCESS_KEY_ID="testing",
            AWS_SECRET_ACCESS_KEY="testing",
            # no profile, no instance metadata: only what the README sets
            AWS_CONFIG_FILE=os.devnull, AWS_SHARED_CREDENTIALS_FILE=os.devnull, AWS_EC2_METADATA_DISABLED="true",
        )  # fmt: skip
        root, built = built_example
        assert built.returncode == 0, built.stdout + built.stderr
        examples = tmp_path / "examples"
        shutil.copytree(root, examples / "monorepo", symlinks=True, ignore=shutil.ignore_patterns("layerctl"))
        assert "[tool.layerctl.publish]" not in (examples / "monorepo/pyproject.toml").read_text()
        first = layerctl("-C", "examples/monorepo", "build-all", "--publish", cwd=tmp_path, env=env)
        assert first.returncode == 0, first.stdout + first.stderr
        lam = boto3.client(
            "lambda", region_name="eu-west-1", endpoint_url=url, aws_access_key_id="testing",
            aws_secret_access_key="testing",
        )  # fmt: skip
        names = [layer["LayerName"] for layer in lam.list_layers()["Layers"]]
        assert len(names) == 12
        assert all(len(lam.list_layer_versions(LayerName=n)["LayerVersions"]) == 1 for n in names)
        statuses = [p["status"] for row in rows(examples / "monorepo").values() for p in row["publish"]]
        assert statuses == ["published"] * 12
        again = layerctl("-C", "examples/monorepo", "build-all", "--publish", cwd=tmp_path, env=env)
        assert again.returncode == 0, again.stdout + again.stderr
        statuses = [p["status"] for row in rows(examples / "monorepo").values() for p in row["publish"]]
        assert statuses == ["unchanged"] * 12
        assert all(len(lam.list_layer_versions(LayerName=n)["LayerVersions"]) == 1 for n in names)
    finally:
        server.terminate()
        server.wait(timeout=30)


def test_a_zip_over_50_mb_needs_a_bucket(built_example: Any, aws: Aws, tmp_path: Path) -> None:
    root = workspace(built_example, tmp_path, 'regions = ["eu-west-1"]\n')
    out = root / "layers/web/build/lambda/layer/py3.12-x86_64"
    (out / "layer.zip").write_bytes(os.urandom(51 * 2**20))
    stamp = json.loads((out / ".layerctl-stamp.json").read_text())
    stamp["sha256"] = stamp["result"]["sha256"] = sha256_file(out / "layer.zip")
    stamp["result"]["zipped_size"] = 51 * 2**20
    (out / ".layerctl-stamp.json").write_text(json.dumps(stamp))
    result = layerctl("-C", str(root), "publish", "--only", "web:py3.12-x86_64", env=aws.env())
    assert result.returncode == 4, result.stdout + result.stderr
    (failed,) = [line for line in result.stdout.splitlines() if line.startswith("web:py3.12-x86_64 publish")]
    assert failed.startswith(
        "web:py3.12-x86_64 publish FAILED: web:py3.12-x86_64: eu-west-1: the zip is 51.0 MiB"
    )
    assert "set [tool.layerctl.publish] bucket" in failed
    assert aws.proxy.ops["PublishLayerVersion"] == 0


def test_no_credentials_is_one_line(built_example: Any, aws: Aws, tmp_path: Path) -> None:
    root = workspace(built_example, tmp_path, 'regions = ["eu-west-1"]\n', builds=True)
    env = {k: v for k, v in aws.env().items() if k not in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY")}
    for command in (["publish"], ["build-all", "--publish"]):
        result = layerctl("-C", str(root), *command, env=env)
        assert result.returncode == 4, result.stdout + result.stderr
        assert result.stderr.splitlines() == [
            "layerctl: error: publish to eu-west-1: no AWS credentials (NoCredentials)"
        ]
    assert sum(aws.proxy.ops.values()) == 0


def test_a_missing_bucket_or_one_elsewhere_names_target_region_and_code(
    built_example: Any, aws: Aws, tmp_path: Path
) -> None:
    root = workspace(built_example, tmp_path, 'regions = ["eu-west-1"]\nbucket = "layerctl-missing"\n')
    result = layerctl("-C", str(root), "publish", "web", "--keep-going", env=aws.env())
    assert result.returncode == 4, result.stdout + result.stderr
    assert_clean(result, root)
    for target_id, row in rows(root).items():
        (failed,) = row["publish"]
        assert failed["status"] == "failed"
        assert failed["error"].startswith(f"{target_id}: eu-west-1: NoSuchBucket: ")
    aws.client("s3", "us-east-1").create_bucket(Bucket="layerctl-elsewhere")
    pyproject = root / "pyproject.toml"
    pyproject.write_text(pyproject.read_text().replace("layerctl-missing", "layerctl-elsewhere"))
    result = layerctl("-C", str(root), "publish", "--only", "web:py3.12-x86_64", env=aws.env())
    assert result.returncode == 4, result.stdout + result.stderr
    (failed,) = rows(root)["web:py3.12-x86_64"]["publish"]
    assert failed["error"].startswith(
        "web:py3.12-x86_64: eu-west-1: PermanentRedirect: bucket layerctl-elsewhere"
    )


def test_throttling_is_retried_by_the_sdk(built_example: Any, aws: Aws, tmp_path: Path) -> None:
    root = workspace(built_example, tmp_path, 'regions = ["eu-west-1"]\n')
    aws.proxy.throttle = 3
    result = layerctl("-C", str(root), "publish", "--only", "web:py3.12-*", env=aws.env())
    assert result.returncode == 0, result.stdout + result.stderr
    assert aws.proxy.throttled == 3
    assert {p["status"] for row in rows(root).values() for p in row["publish"]} == {"published"}
