"""[tool.layerctl.engines]: each entry validated with one-line errors naming the engine and
its key; Docker contexts read from the CLI's context store (DOCKER_CONFIG honoured) with their
TLS material; --engine names only engines of the table."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest

from orchestrator.building.executors.endpoints import endpoint_of
from orchestrator.core.engine_settings import EngineSettings
from orchestrator.core.errors import ConfigError
from orchestrator.core.runtimes import Arch
from orchestrator.run.engines import selected_engines
from orchestrator.workspace.config import load_workspace


def workspace(tmp_path: Path, engines: str) -> Path:
    (tmp_path / "pyproject.toml").write_text(f"[tool.layerctl.engines]\n{engines}\n")
    return tmp_path


def test_entries_are_contexts_urls_or_tables(tmp_path: Path) -> None:
    root = workspace(
        tmp_path,
        'local = "default"\nlab = "tcp://10.0.0.5:2376"\n'
        'arm = { context = "graviton", capacity = 4, platforms = ["aarch64"] }',
    )
    engines = load_workspace(root).engines
    assert engines["local"].context == "default"
    assert engines["lab"].url == "tcp://10.0.0.5:2376"
    assert engines["arm"].capacity == 4 and engines["arm"].platforms == (Arch.ARM64,)


@pytest.mark.parametrize(
    ("entry", "message"),
    [
        (
            'x = { url = "tcp://h:1", capacity = 0 }',
            "[tool.layerctl.engines] x: capacity: Input should be greater",
        ),
        ('x = { url = "http://h" }', "x: url: must be a unix://, tcp:// or ssh:// URL"),
        ('x = { contxt = "a" }', "x: unknown key 'contxt'; did you mean 'context'?"),
        ('x = { context = "a", url = "unix:///s" }', "x: give either `context`"),
        ('x = { context = "a", platforms = ["sparc"] }', "x: platforms: "),
        ('x = { url = "unix:///s", cert-path = "/c" }', "x: `cert-path` goes with a tcp:// `url`"),
        ("x = 3", "engine x: a context's name, a URL or a table (got int)"),
        ('"a b" = "default"', "engine name 'a b': letters, digits"),
    ],
)
def test_a_bad_entry_is_one_line_naming_it(tmp_path: Path, entry: str, message: str) -> None:
    with pytest.raises(ConfigError) as caught:
        load_workspace(workspace(tmp_path, entry))
    assert message in str(caught.value) and "\n" not in str(caught.value)


@pytest.mark.parametrize(
    "url",
    [
        "tcp://localhost:notaport",
        "tcp://127.0.0.1:99999",
        "tcp://[::1",
        "tcp://:2376",
        "ssh://host:x",
        "ssh://:22",
    ],
)
def test_a_malformed_engine_url_is_a_setting_error_not_an_unreachable_engine(
    tmp_path: Path, url: str
) -> None:
    """Caught when the settings are read (exit 2), not found at connection time as an engine
    that does not answer (exit 3, the run started)."""
    with pytest.raises(ConfigError) as caught:
        load_workspace(workspace(tmp_path, f'x = "{url}"'))
    message = str(caught.value)
    assert f"[tool.layerctl.engines] x: url: {url!r}: " in message and "\n" not in message


def test_a_context_is_read_from_the_cli_store_with_its_tls(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    digest = hashlib.sha256(b"graviton").hexdigest()
    meta = tmp_path / "contexts" / "meta" / digest
    meta.mkdir(parents=True)
    endpoint = {"Host": "tcp://10.1.2.3:2376", "SkipTLSVerify": False}
    (meta / "meta.json").write_text(json.dumps({"Name": "graviton", "Endpoints": {"docker": endpoint}}))
    tls = tmp_path / "contexts" / "tls" / digest / "docker"
    tls.mkdir(parents=True)
    for name in ("ca.pem", "cert.pem", "key.pem"):
        (tls / name).write_text("x")
    monkeypatch.setenv("DOCKER_CONFIG", str(tmp_path))
    found = endpoint_of("arm", EngineSettings(context="graviton"))
    assert (found.url, found.tls_dir, found.client_url()) == (
        "tcp://10.1.2.3:2376",
        tls,
        "https://10.1.2.3:2376",
    )
    with pytest.raises(ConfigError, match=r"^engine arm: no Docker context 'other' in .*docker context ls"):
        endpoint_of("arm", EngineSettings(context="other"))


def test_the_default_context_is_docker_host(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DOCKER_HOST", "tcp://127.0.0.1:2375")
    found = endpoint_of("local", EngineSettings(context="default"))
    assert found.client_url() == "http://127.0.0.1:2375" and found.ssl_context() is None


def test_engine_names_only_the_table(tmp_path: Path) -> None:
    engines = load_workspace(workspace(tmp_path, 'a = "default"\nb = "unix:///x.sock"')).engines
    assert [n for n, _ in selected_engines(engines, ("b",))] == ["b"]
    assert [n for n, _ in selected_engines(engines, ())] == ["a", "b"]
    with pytest.raises(ConfigError, match=r"--engine c: no such engine .*\(known: a, b\)"):
        selected_engines(engines, ("c",))
    with pytest.raises(ConfigError, match="there is no \\[tool.layerctl.engines\\] table"):
        selected_engines({}, ("a",))


def test_ssh_without_aiodocker_ssh_support_is_one_line(monkeypatch: pytest.MonkeyPatch) -> None:
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util, "find_spec", lambda name, *a: None if name == "asyncssh" else real(name, *a)
    )
    with pytest.raises(
        ConfigError, match=r"^engine far: ssh:// engines need aiodocker's SSH support .*asyncssh"
    ):
        endpoint_of("far", EngineSettings(url="ssh://builder@arm-host"))


def test_an_engine_not_in_the_table_refuses_the_run_in_one_line(tmp_path: Path) -> None:
    from tests.support.cli import invoke

    root = workspace(tmp_path, 'local = "default"')
    layer = root / "layers" / "a"
    layer.mkdir(parents=True)
    (layer / "pyproject.toml").write_text('[project]\nname = "a"\nversion = "1"\ndependencies = []\n')
    for dry_run in ([], ["--dry-run"]):  # a dry run refuses what the run would
        result = invoke(["-C", str(root), "build-all", "--engine", "arm", "--builder", "container", *dry_run])
        assert result.exit_code == 2, dry_run
        assert result.stderr.strip().splitlines() == [
            "layerctl: error: --engine arm: no such engine in [tool.layerctl.engines] (known: local)"
        ]
        assert not (root / "build").exists()  # refused before anything was written


def test_engines_shows_an_engine_that_cannot_be_addressed_as_a_row(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A context that is not there, or ssh:// without asyncssh: a row saying so (exit 3 when no
    engine answers), never a refusal that hides the other engines."""
    import importlib.util

    from tests.support.cli import invoke

    real = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util, "find_spec", lambda name, *a: None if name == "asyncssh" else real(name, *a)
    )
    monkeypatch.setenv("DOCKER_CONFIG", str(tmp_path / "docker-config"))  # an empty context store
    (tmp_path / "ws").mkdir()
    root = workspace(tmp_path / "ws", 'far = "ssh://builder@arm-host"\nctx = { context = "graviton" }')
    layer = root / "layers" / "a"
    layer.mkdir(parents=True)
    (layer / "pyproject.toml").write_text('[project]\nname = "a"\nversion = "1"\ndependencies = []\n')
    result = invoke(["-C", str(root), "engines", "--format", "json"])
    assert result.exit_code == 3, result.stderr
    rows = {row["name"]: row for row in json.loads(result.stdout)}
    assert set(rows) == {"far", "ctx"} and not any(row["reachable"] for row in rows.values())
    assert "ssh:// engines need aiodocker's SSH support" in rows["far"]["error"]
    assert (
        rows["ctx"]["where"] == "context graviton" and "no Docker context 'graviton'" in rows["ctx"]["error"]
    )
