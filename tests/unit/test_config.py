"""The configuration cascade, validation and error messages (pure: no builds)."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

import pytest

from orchestrator.config import LayerSettings, cascade, env_overrides, load_workspace, validate
from orchestrator.discovery import discover_layers
from orchestrator.errors import EXIT_USAGE, ConfigError
from orchestrator.plan import make_plan
from orchestrator.runtimes import Arch


def plan_for(root: Path, env: dict[str, str] | None = None, cli: dict[str, object] | None = None):
    workspace = load_workspace(root)
    env_settings, env_options = env_overrides(env or {})
    return make_plan(
        workspace,
        discover_layers(workspace),
        env_settings=env_settings,
        env_options=env_options,
        cli_settings=validate(LayerSettings, cli or {}, "command line"),
    )


def test_defaults_without_any_settings() -> None:
    settings = cascade()
    assert settings.python == ("3.12",)
    assert settings.arch == (Arch.X86_64, Arch.ARM64)
    assert settings.builder == "auto"
    assert settings.output == "build/lambda/layer"


@pytest.mark.parametrize(
    ("workspace", "layer", "env", "cli", "expected"),
    [
        ("", "", {}, {}, ("3.12",)),
        ('python = ["3.11"]', "", {}, {}, ("3.11",)),
        ('python = ["3.11"]', 'python = ["3.13"]', {}, {}, ("3.13",)),
        ('python = ["3.11"]', 'python = ["3.13"]', {"LAYERCTL_PYTHON": "3.10,3.14"}, {}, ("3.10", "3.14")),
        (
            'python = ["3.11"]',
            'python = ["3.13"]',
            {"LAYERCTL_PYTHON": "3.10"},
            {"python": ["3.12"]},
            ("3.12",),
        ),
        ("", "", {"LAYERCTL_PYTHON": "3.10"}, {}, ("3.10",)),
    ],
)
def test_precedence_defaults_workspace_layer_env_cli(
    make_workspace: Callable[..., Path],
    workspace: str,
    layer: str,
    env: dict[str, str],
    cli: dict[str, object],
    expected: tuple[str, ...],
) -> None:
    root = make_workspace(workspace, {"a": f"[tool.layerctl]\n{layer}\n"})
    plan = plan_for(root, env, cli)
    assert tuple(dict.fromkeys(t.python for t in plan.targets)) == expected


def test_layer_override_applies_to_that_layer_only(make_workspace: Callable[..., Path]) -> None:
    root = make_workspace(
        'arch = ["arm64"]\nexclude = ["*.txt"]',
        {"a": '[tool.layerctl]\narch = ["x86_64"]\n', "b": ""},
    )
    plan = plan_for(root)
    by_layer = {t.layer.name: t for t in plan.targets}
    assert by_layer["a"].arch is Arch.X86_64 and by_layer["b"].arch is Arch.ARM64
    assert by_layer["a"].settings.exclude == ("*.txt",)  # inherited from the workspace


@pytest.mark.parametrize(
    ("workspace", "message"),
    [
        ('pyton = ["3.12"]', "unknown key 'pyton'; did you mean 'python'?"),
        ("jbos = 2", "did you mean 'jobs'?"),
        ('python = ["3.8"]', "unsupported Python 3.8; Lambda runs 3.10, 3.11, 3.12, 3.13, 3.14"),
        ("python = [3.12]", 'write Python versions as strings, e.g. "3.12"'),
        ('arch = ["sparc"]', "'arch': Input should be 'x86_64' or 'arm64'"),
        ('builder = "docker"', "'builder': Input should be 'auto', 'native' or 'container'"),
        ('output = "/abs"', "must be a relative path"),
        ("jobs = 0", "'jobs': Input should be greater than or equal to 1"),
        ("compression-level = 12", "'compression-level'"),
        ('container-network = "my net"', "'container-network': String should match pattern"),
    ],
)
def test_bad_workspace_setting_is_one_line_naming_file_and_key(
    make_workspace: Callable[..., Path], workspace: str, message: str
) -> None:
    root = make_workspace(workspace)
    with pytest.raises(ConfigError) as info:
        plan_for(root)
    text = str(info.value)
    assert message in text
    assert str(root / "pyproject.toml") in text
    assert "\n" not in text
    assert info.value.exit_code == EXIT_USAGE


def test_layer_errors_name_the_layer_file(make_workspace: Callable[..., Path]) -> None:
    root = make_workspace("", {"a": "[tool.layerctl]\npythn = ['3.12']\n"})
    with pytest.raises(ConfigError, match=r"layers/a/pyproject.toml \[tool.layerctl\]: unknown key 'pythn'"):
        plan_for(root)
    root = make_workspace("", {"a": "[tool.layerctl]\njobs = 2\n"})
    with pytest.raises(ConfigError, match="'jobs' is a workspace setting"):
        plan_for(root)


def test_env_errors(make_workspace: Callable[..., Path]) -> None:
    root = make_workspace()
    with pytest.raises(ConfigError, match="unknown variable LAYERCTL_ARCHS; did you mean LAYERCTL_ARCH"):
        plan_for(root, {"LAYERCTL_ARCHS": "arm64"})
    with pytest.raises(ConfigError, match="environment: 'python': unsupported Python 3.9"):
        plan_for(root, {"LAYERCTL_PYTHON": "3.9"})


def test_env_sets_run_options(make_workspace: Callable[..., Path]) -> None:
    root = make_workspace()
    plan = plan_for(root, {"LAYERCTL_JOBS": "3", "LAYERCTL_SKIP": "*-arm64"})
    assert plan.options.jobs == 3
    assert {t.arch for t in plan.targets} == {Arch.X86_64}


def test_container_network_from_workspace_env_and_cli(make_workspace: Callable[..., Path]) -> None:
    root = make_workspace('container-network = "host"')
    assert plan_for(root).options.container_network == "host"
    assert plan_for(root, {"LAYERCTL_CONTAINER_NETWORK": "ci-net"}).options.container_network == "ci-net"
    assert plan_for(make_workspace()).options.container_network is None


def test_missing_workspace_files(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="no pyproject.toml or layerctl.toml"):
        load_workspace(tmp_path)
    with pytest.raises(ConfigError, match="no such directory"):
        load_workspace(tmp_path / "nope")


def test_layerctl_toml_takes_keys_at_top_level(make_workspace: Callable[..., Path]) -> None:
    root = make_workspace()
    (root / "layerctl.toml").write_text('python = ["3.10"]\n')
    assert {t.python for t in plan_for(root).targets} == {"3.10"}


def test_invalid_toml_names_file_and_line(make_workspace: Callable[..., Path]) -> None:
    root = make_workspace("", {"a": "[tool.layerctl\n"})
    with pytest.raises(ConfigError, match=r"a/pyproject.toml: not valid TOML: .*line"):
        plan_for(root)


def _test_bed_switches() -> set[str]:
    """The variables the test scripts read (``${NAME:-default}``), as their comments document them."""
    root = Path(__file__).resolve().parents[2]
    scripts = [root / "scripts/test", root / "scripts/_env.sh", root / "tests/testbed.sh", root / ".ci/run"]
    return {name for s in scripts for name in re.findall(r"\$\{([A-Z][A-Z0-9_]*):-", s.read_text())}


def test_the_test_beds_switches_are_not_taken_for_settings(make_workspace: Callable[..., Path]) -> None:
    """The test bed's own switches stay in the environment of every layerctl the suite runs:
    they must not carry the product's prefix, which layerctl validates as settings."""
    from typer.testing import CliRunner

    from orchestrator.cli import app

    switches = _test_bed_switches()
    assert switches, "no ${NAME:-default} switch found in the test scripts"
    root = make_workspace('builder = "native"')
    result = CliRunner().invoke(app, ["-C", str(root), "list"], env=dict.fromkeys(switches, "0"))
    assert result.exit_code == 0, result.output
    assert not [name for name in switches if name.startswith("LAYERCTL_")]
