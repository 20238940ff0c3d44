"""A pip layer's unpinned dependencies are pinned once per target, with hashes, by real uv; the
next run reuses the pins with the package index out of reach, and ``--refresh`` resolves again."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from .conftest import layerctl, report
from .test_native_build import write_layer

pytestmark = pytest.mark.integration

UNREACHABLE = "http://127.0.0.1:9/simple"  # a closed port on loopback


def test_pins_are_reused_offline_and_refresh_resolves_again(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text(
        '[tool.layerctl]\npython = ["3.12"]\narch = ["x86_64", "arm64"]\n'
    )
    write_layer(tmp_path, "p", ["six", "typing-extensions; platform_machine == 'aarch64'"])
    first = layerctl("-C", str(tmp_path), "build-all")
    assert first.returncode == 0, first.stdout + first.stderr
    pins = {
        arch: (tmp_path / f"layers/p/build/lambda/layer/py3.12-{arch}/requirements.txt").read_text()
        for arch in ("x86_64", "arm64")
    }
    for arch, text in pins.items():
        assert text.startswith(f"# pinned by layerctl for p:py3.12-{arch}"), text
        assert "six==" in text and "--hash=sha256:" in text
    assert "typing-extensions==" in pins["arm64"] and "typing-extensions" not in pins["x86_64"]

    # the closed port answers at once: no retries (uv would back off ~17 s before giving up)
    offline = {**os.environ, "LAYERCTL_INDEX_URL": UNREACHABLE, "UV_HTTP_RETRIES": "0"}
    second = layerctl("-C", str(tmp_path), "build-all", env=offline)
    assert second.returncode == 0, second.stdout + second.stderr
    assert {r["status"] for r in report(tmp_path)["targets"]} == {"up-to-date"}

    refreshed = layerctl("-C", str(tmp_path), "build-all", "--refresh", "--arch", "x86_64", env=offline)
    assert refreshed.returncode != 0
    assert "uv pip compile failed for p:py3.12-x86_64" in report(tmp_path)["targets"][0]["error"]
    assert layerctl("-C", str(tmp_path), "build-all", "--refresh").returncode == 0
