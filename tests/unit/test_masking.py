"""Credentials are masked wherever layerctl writes text (issue 16): an index URL of a tool's own
configuration that layerctl refuses, any ``scheme://user:pass@host`` in any error, row, log line
or report, and the passwords it can see in the environment or in the layers' index URLs."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest

from orchestrator.cli.boundary import _fail
from orchestrator.core.errors import BuildError, ConfigError
from orchestrator.core.events import TargetResult
from orchestrator.core.secrets import Credentials, Index, Masker, mask_urls
from tests.support.cli import invoke

PASSWORD = "s3cr3t-pw"
SECRETS = (PASSWORD, "alice")

BAD_INDEXES = {
    "uv-scheme": f"""
        [[tool.uv.index]]
        name = "corp"
        url = "ftp://alice:{PASSWORD}@corp.test/simple"
    """,
    "uv-format": f"""
        [[tool.uv.index]]
        name = "https://alice:{PASSWORD}@corp.test/simple"
        url = "https://corp.test/simple"
        format = "flat"
    """,
    "poetry-scheme": f"""
        [[tool.poetry.source]]
        name = "corp"
        url = "sftp://alice:{PASSWORD}@corp.test/simple/"
    """,
    "poetry-no-host": f"""
        [[tool.poetry.source]]
        name = "corp"
        url = "https://alice:{PASSWORD}@/simple/"
        priority = "supplemental"
    """,
}


def _no_secret(*texts: str) -> None:
    for text in texts:
        for secret in SECRETS:
            assert secret not in text, text


@pytest.mark.parametrize("table", BAD_INDEXES)
def test_a_refused_index_url_is_masked_in_list(make_workspace: Callable[..., Path], table: str) -> None:
    root = make_workspace("", {"bad": BAD_INDEXES[table], "web": ""})
    result = invoke(["-C", str(root), "list", "--builder", "native"])
    rows = [line for line in result.stdout.splitlines() if line.startswith("bad:")]
    assert rows and all("****@" in row for row in rows), result.stdout
    _no_secret(result.stdout, result.stderr)
    listed = invoke(["-C", str(root), "list", "--builder", "native", "--format", "json"])
    errors = [row["error"] for row in json.loads(listed.stdout) if row["id"].startswith("bad:")]
    assert errors and all("****@" in error for error in errors)
    _no_secret(listed.stdout, listed.stderr)


def test_a_refused_index_url_is_masked_in_build_all_and_its_report(
    make_workspace: Callable[..., Path],
) -> None:
    root = make_workspace("", {"bad": BAD_INDEXES["uv-scheme"]})
    result = invoke(["-C", str(root), "build-all", "--builder", "native", "--log-format", "plain"])
    assert result.exit_code == 2, result.output
    assert "ftp://****@corp.test/simple" in result.stdout + result.stderr
    _no_secret(result.stdout, result.stderr)
    report = root / "build/layerctl"
    written = [path.read_text() for path in report.iterdir() if path.suffix in (".json", ".html")]
    assert len(written) == 2 and any("ftp://****@corp.test" in text for text in written)
    _no_secret(*written)
    for log in root.glob("layers/**/build.log"):
        _no_secret(log.read_text())


@pytest.mark.parametrize(
    ("text", "masked"),
    [
        ("got 'ftp://alice:pw@corp.test/simple'", "got 'ftp://****@corp.test/simple'"),
        (
            "https://token@host.test/x and https://host.test/y",
            "https://****@host.test/x and https://host.test/y",
        ),
        ("git+https://u:p@ss@h.test:8443/r.git#egg=x", "git+https://****@h.test:8443/r.git#egg=x"),
        ("(https://u:p%40w@h.test)", "(https://****@h.test)"),
        ("a@b.test, https://h.test/p@q, mailto:x@y", "a@b.test, https://h.test/p@q, mailto:x@y"),
    ],
)
def test_any_credentials_in_a_url_are_masked(text: str, masked: str) -> None:
    assert mask_urls(text) == masked
    assert Masker()(text) == masked  # the run's masker does it too, also with no known secret


def test_every_error_message_and_hint_is_masked_when_made() -> None:
    error = ConfigError("x: url 'ftp://alice:pw@corp.test' is bad", hint="try https://bob:pw2@corp.test")
    assert error.message == str(error) == "x: url 'ftp://****@corp.test' is bad"
    assert error.hint == "try https://****@corp.test"
    assert BuildError("pip: 401 for https://alice:pw@corp.test/simple/six/").message.endswith(
        "https://****@corp.test/simple/six/"
    )


def test_rows_mask_their_text() -> None:
    row = TargetResult(
        id="a:py3.12-x86_64", layer="a", python="3.12", arch="x86_64", tool="uv", builder="native",
        status="failed", error="https://alice:pw@corp.test/simple: 401", hint="see ftp://u:p@h.test",
    )  # fmt: skip
    assert row.error == "https://****@corp.test/simple: 401" and row.hint == "see ftp://****@h.test"


def test_a_bugs_line_masks_urls_and_the_environments_secrets(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LAYERCTL_INDEX_PASSWORD", "env-secret-1")
    monkeypatch.setenv("UV_INDEX_CORP_PASSWORD", "env-secret-2")
    _fail(ValueError("bad https://alice:pw@corp.test env-secret-1 env-secret-2"), debug=False)
    _fail(ConfigError("said env-secret-1"), debug=False)
    err = capsys.readouterr().err
    assert "https://****@corp.test" in err and err.count("****") == 4, err
    assert "alice" not in err and "env-secret" not in err
    try:
        raise ValueError("bad https://alice:pw@corp.test env-secret-1")
    except ValueError as exc:
        _fail(exc, debug=True)  # the traceback too
    err = capsys.readouterr().err
    assert "Traceback" in err and "https://****@corp.test" in err
    assert "alice" not in err and "env-secret" not in err


def test_the_runs_masker_knows_the_passwords_of_the_layers_index_urls() -> None:
    indexes = [
        Index(name="corp", url="https://alice:pw-in-url@corp.test/simple/"),
        Index(name="tok", url="https://tok-in-url@tok.test/simple/"),
        Index(name="plain", url="https://plain.test/simple/"),
    ]
    mask = Masker.for_credentials(Credentials(), indexes)
    assert mask("401: pw-in-url was refused, tok-in-url too") == "401: **** was refused, **** too"


@pytest.mark.parametrize("fmt", ["table", "json"])
def test_the_explained_plan_masks_its_reasons(make_workspace: Callable[..., Path], fmt: str) -> None:
    from orchestrator.building.freshness import Check
    from orchestrator.plan.targets import make_plan
    from orchestrator.run.explain import show
    from orchestrator.workspace.config import load_workspace
    from orchestrator.workspace.discovery import discover_layers

    root = make_workspace("", {"a": ""})
    plan = make_plan(load_workspace(root), discover_layers(load_workspace(root)), cli_options={})
    reason = f"requirements changed (+pkg @ https://alice:{PASSWORD}@corp.test/pkg-1-py3-none-any.whl)"
    shown: list[str] = []
    show(plan, [Check(t, None, reason) for t in plan.targets], fmt, shown.append)
    assert shown and all("https://****@corp.test" in text for text in shown)
    _no_secret(*shown)


def test_the_cache_secret_is_masked_and_never_a_flag() -> None:
    credentials = Credentials.from_env({"LAYERCTL_CACHE_SECRET": "a-long-cache-secret"})
    assert repr(credentials).count("a-long-cache-secret") == 0
    assert Masker.for_credentials(credentials)("signed with a-long-cache-secret") == "signed with ****"
    from orchestrator.cli.options import flags_for

    assert not [f for command in ("build-all", "publish") for f in flags_for(command) if "secret" in f.key]
