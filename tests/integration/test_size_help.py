"""Size help on real packages: a layer that ships boto3 is told what exclude-runtime-provided
would save, to the byte, and its report row and report.html name its largest packages."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from .conftest import layerctl, report

pytestmark = pytest.mark.integration

SAVE = re.compile(
    r"^the layer ships boto3, botocore, jmespath, s3transfer, which every Lambda Python runtime provides: "
    r"exclude-runtime-provided = true would save ([\d,]+) bytes unzipped \([\d.]+ MB\), unless the "
    r"functions need newer versions than the runtime's$"
)


def test_a_layer_with_boto3_is_told_what_leaving_it_out_saves(tmp_path: Path) -> None:
    (tmp_path / "layers/aws").mkdir(parents=True)
    workspace = '[tool.layerctl]\npython = ["3.12"]\narch = ["x86_64"]\nbuilder = "native"\n'
    (tmp_path / "pyproject.toml").write_text(workspace)
    (tmp_path / "layers/aws/pyproject.toml").write_text(
        '[project]\nname = "aws"\nversion = "1"\ndependencies = ["boto3", "six"]\n'
    )
    result = layerctl("-C", str(tmp_path), "build-all", "--log-format", "plain")
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr
    row = report(tmp_path)["targets"][0]
    [warning] = row["warnings"]
    match = SAVE.match(warning)
    assert match, warning
    saved = int(match.group(1).replace(",", ""))
    tree = Path(row["zip_path"]).parent / "artifacts" / "python"
    provided = [
        p for p in tree.iterdir() if p.name.split("-")[0] in ("boto3", "botocore", "s3transfer", "jmespath")
    ]
    assert saved == sum(f.stat().st_size for d in provided for f in d.rglob("*") if f.is_file())
    assert warning in result.stdout
    largest = row["largest"]
    assert largest[0]["name"] == "botocore" and largest[0]["size"] > 10_000_000 and largest[0]["version"]
    assert {p["name"] for p in largest} >= {"botocore", "boto3", "s3transfer", "jmespath", "six"}
    html = (tmp_path / "build/layerctl/report.html").read_text()
    assert '<details class="largest" data-target="aws:py3.12-x86_64">' in html
    assert f"<title>botocore {largest[0]['version']}: " in html

    # what the warning promised, to the byte
    (tmp_path / "pyproject.toml").write_text(workspace + "exclude-runtime-provided = true\n")
    assert layerctl("-C", str(tmp_path), "build-all").returncode == 0
    lean = report(tmp_path)["targets"][0]
    assert lean["status"] == "built" and lean["warnings"] == []
    assert lean["unzipped_size"] == row["unzipped_size"] - saved
    # botocore's dependencies stay (urllib3, python-dateutil), and so does jmespath's script bin/jp.py
    assert {p["name"] for p in lean["largest"]} == {"urllib3", "python-dateutil", "six", "jmespath"}
    assert [p["files"] for p in lean["largest"] if p["name"] == "jmespath"] == [1]
