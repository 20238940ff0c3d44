"""The one set of rules every uv run gets (tools.py): which variables reach uv, and which
configuration files it may read."""

from __future__ import annotations

from pathlib import Path

import pytest

from orchestrator.core._toml import loads
from orchestrator.core.tools import uv_environment, uv_error, uv_project_environment

CALLER = {
    "PATH": "/usr/bin",
    "HOME": "/home/me",
    "HTTPS_PROXY": "http://proxy:3128",
    "NO_PROXY": "localhost",
    "SSL_CERT_DIR": "/etc/ssl/certs",
    "XDG_CONFIG_HOME": "/home/me/.config",
    "UV_CACHE_DIR": "/cache/uv",
    "UV_NATIVE_TLS": "1",
    "UV_HTTP_TIMEOUT": "60",
    "UV_INDEX_CORP_USERNAME": "aws",
    "UV_INDEX_CORP_PASSWORD": "token",
    # each of these changes what uv resolves or installs, or which configuration it reads
    "UV_CONSTRAINT": "/tmp/c.txt",
    "UV_OVERRIDE": "/tmp/o.txt",
    "UV_BUILD_CONSTRAINT": "/tmp/b.txt",
    "UV_INDEX_URL": "http://mirror/simple",
    "UV_EXTRA_INDEX_URL": "http://extra/simple",
    "UV_DEFAULT_INDEX": "http://mine/simple",
    "UV_INDEX": "corp=http://corp/simple",
    "UV_FIND_LINKS": "/wheels",
    "UV_INDEX_STRATEGY": "unsafe-best-match",
    "UV_EXCLUDE_NEWER": "2020-01-01T00:00:00Z",
    "UV_PRERELEASE": "allow",
    "UV_RESOLUTION": "lowest",
    "UV_NO_BINARY": "1",
    "UV_CONFIG_FILE": "/tmp/uv.toml",
    "UV_PROJECT": "/elsewhere",
    "UV_FROZEN": "1",
    "UV_NO_DEFAULT_GROUPS": "1",
    "UV_PYTHON": "3.9",
    "UV_OFFLINE": "1",
    "UV_SOMETHING_A_LATER_UV_ADDS": "1",
}
KEPT = {
    "PATH",
    "HOME",
    "HTTPS_PROXY",
    "NO_PROXY",
    "SSL_CERT_DIR",
    "XDG_CONFIG_HOME",
    "UV_CACHE_DIR",
    "UV_NATIVE_TLS",
    "UV_HTTP_TIMEOUT",
    "UV_INDEX_CORP_USERNAME",
    "UV_INDEX_CORP_PASSWORD",
}


def test_only_variables_about_reaching_the_index_pass() -> None:
    env = uv_environment(base=CALLER)
    assert set(env) == KEPT
    assert all(env[name] == CALLER[name] for name in KEPT)


def test_layerctls_index_and_ca_bundle_go_in_the_environment(tmp_path: Path) -> None:
    bundle = tmp_path / "ca.pem"
    env = uv_environment("https://aws:secret@corp.example/simple", bundle, base=CALLER)
    assert env["UV_DEFAULT_INDEX"] == "https://aws:secret@corp.example/simple"  # not the caller's
    assert env["SSL_CERT_FILE"] == str(bundle)
    assert "UV_INDEX_URL" not in env


def test_export_reads_no_user_or_system_configuration() -> None:
    env = uv_project_environment(base=CALLER)
    assert set(env) == KEPT | {"XDG_CONFIG_DIRS"}
    config = Path(env["XDG_CONFIG_HOME"])
    assert env["XDG_CONFIG_DIRS"] == str(config)
    # uv finds this file first, for the user's and for the system's configuration: it sets nothing
    assert loads((config / "uv/uv.toml").read_text()) == {}


def test_uv_error_is_the_error_paragraph_on_one_line() -> None:
    lines = (
        "Using CPython 3.12.1 interpreter at: /usr/bin/python3",
        "error: Failed to parse `uv.lock`",
        "  cause: TOML parse error at line 1, column 1",
        "hint: run uv lock",
    )
    assert uv_error(lines) == "Failed to parse `uv.lock` cause: TOML parse error at line 1, column 1"
    assert uv_error(lines[:1]) == "see build.log"
    assert uv_error(lines[:1], fallback="the last line") == "the last line"


def test_a_link_mode_that_would_point_out_of_the_layer_never_reaches_uv(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from orchestrator.core.tools import uv_environment

    monkeypatch.setenv("UV_LINK_MODE", "symlink")
    assert "UV_LINK_MODE" not in uv_environment()
