"""The configuration cascade, validation and error messages (pure: no builds)."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from pathlib import Path

import pytest

from orchestrator.core.errors import EXIT_USAGE, ConfigError
from orchestrator.core.runtimes import Arch
from orchestrator.core.settings import LayerSettings
from orchestrator.plan.targets import Plan, make_plan
from orchestrator.workspace.config import (
    cascade,
    env_overrides,
    load_workspace,
    read_toml,
    unknown_variables,
    validate,
)
from orchestrator.workspace.discovery import discover_layers
from tests.support.cli import invoke


def plan_for(root: Path, env: dict[str, str] | None = None, cli: dict[str, object] | None = None) -> Plan:
    """The plan; a layer whose project cannot be read makes targets that fail with its problem
    (tests/unit/test_projects.py), raised here as the error it is, to check its words."""
    workspace = load_workspace(root)
    env_settings, env_options, _run = env_overrides(env or {})
    plan = make_plan(
        workspace,
        discover_layers(workspace),
        env_settings=env_settings,
        env_options=env_options,
        cli_settings=validate(LayerSettings, cli or {}, "command line"),
    )
    problem = next((t.problem for t in plan.targets if t.problem), None)
    if problem:
        raise ConfigError(problem)
    return plan


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
        ('python = ["3.11"]', "", {"LAYERCTL_PYTHON": "3.10,3.14"}, {}, ("3.10", "3.14")),
        ('python = ["3.11"]', "", {"LAYERCTL_PYTHON": "3.10"}, {"python": ["3.12"]}, ("3.12",)),
        ("", "", {"LAYERCTL_PYTHON": "3.10"}, {}, ("3.10",)),
        # a layer's own list is what it supports: the environment and flags select within it
        ('python = ["3.11"]', 'python = ["3.11", "3.13"]', {"LAYERCTL_PYTHON": "3.10,3.13"}, {}, ("3.13",)),
        (
            'python = ["3.11"]',
            'python = ["3.11", "3.13"]',
            {"LAYERCTL_PYTHON": "3.13"},
            {"python": ["3.11", "3.14"]},
            ("3.11",),
        ),
        ('python = ["3.11"]', 'python = ["3.13"]', {"LAYERCTL_PYTHON": "3.10,3.14"}, {}, ()),
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
        ('builder = "docker"', "'builder': Input should be 'auto', 'native', 'container' or 'hybrid'"),
        ('output = "/abs"', "must be a relative path"),
        ("jobs = 0", "'jobs': Input should be greater than or equal to 1"),
        ("compression-level = 12", "'compression-level'"),
        ('container-network = "my net"', "'container-network': String should match pattern"),
        ('cache-url = "https://cache.example.org/x"', "(https:): must be s3://bucket/prefix"),
        ('cache-url = "s3:///no-bucket"', "'cache-url': an S3 cache is s3://bucket/prefix"),
        ('cache-url = "s3://u:p@bucket/x"', "'cache-url': an S3 cache is s3://bucket/prefix"),
        ('cache-mode = "write"', "'cache-mode'"),
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


def test_unknown_variables_are_warnings_not_errors(make_workspace: Callable[..., Path]) -> None:
    """A CI environment may set LAYERCTL_VERSION (or any name) for its own use."""
    root = make_workspace()
    env = {"LAYERCTL_ARCHS": "arm64", "LAYERCTL_VERSION": "1.2", "LAYERCTL_JOBS": "2"}
    assert plan_for(root, env).options.jobs == 2
    warnings = unknown_variables(env)
    assert warnings[0] == (
        "environment: LAYERCTL_ARCHS is not a layerctl setting, ignored; did you mean LAYERCTL_ARCH?"
    )
    assert warnings[1].startswith("environment: LAYERCTL_VERSION is not a layerctl setting, ignored")
    assert len(warnings) == 2
    result = invoke(["-C", str(root), "list"], env={**env, "LAYERCTL_BUILDER": "native"})
    assert result.exit_code == 0, result.output
    assert "layerctl: warning: environment: LAYERCTL_VERSION is not a layerctl setting" in result.stderr


def test_env_errors(make_workspace: Callable[..., Path]) -> None:
    root = make_workspace()
    with pytest.raises(ConfigError, match="environment: LAYERCTL_PYTHON: unsupported Python 3.9"):
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


def test_cache_settings_from_workspace_env_and_cli(make_workspace: Callable[..., Path]) -> None:
    root = make_workspace('cache-url = "s3://bucket/ci"')
    options = plan_for(root).options
    assert (options.cache_url, options.cache_mode) == ("s3://bucket/ci", "read-write")
    options = plan_for(root, {"LAYERCTL_CACHE_MODE": "read", "LAYERCTL_CACHE_URL": ".cache"}).options
    assert (options.cache_url, options.cache_mode) == (".cache", "read")
    assert plan_for(make_workspace()).options.cache_url is None


def test_missing_workspace_files(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="no pyproject.toml or layerctl.toml"):
        load_workspace(tmp_path)
    with pytest.raises(ConfigError, match="no such directory"):
        load_workspace(tmp_path / "nope")


def test_layerctl_toml_takes_keys_at_top_level(make_workspace: Callable[..., Path]) -> None:
    root = make_workspace()
    (root / "pyproject.toml").write_text('[project]\nname = "monorepo"\nversion = "1"\n')
    (root / "layerctl.toml").write_text('python = ["3.10"]\n')
    assert {t.python for t in plan_for(root).targets} == {"3.10"}


def test_layerctl_toml_beside_a_tool_layerctl_table_is_an_error_naming_both(
    make_workspace: Callable[..., Path],
) -> None:
    """Before, layerctl.toml silently replaced the [tool.layerctl] table."""
    root = make_workspace('python = ["3.11"]')
    (root / "layerctl.toml").write_text('python = ["3.10"]\n')
    with pytest.raises(ConfigError) as info:
        load_workspace(root)
    assert info.value.message == (
        f"{root}/layerctl.toml and {root}/pyproject.toml [tool.layerctl] both hold workspace settings; "
        "keep them in one of the two"
    )


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

    from orchestrator.cli.app import app

    switches = _test_bed_switches()
    assert switches, "no ${NAME:-default} switch found in the test scripts"
    root = make_workspace('builder = "native"')
    result = CliRunner().invoke(app, ["-C", str(root), "list"], env=dict.fromkeys(switches, "0"))
    assert result.exit_code == 0, result.output
    assert not [name for name in switches if name.startswith("LAYERCTL_")]


@pytest.mark.parametrize(
    ("workspace", "message"),
    [
        ("jobs = true", "'jobs': Input should be a valid integer"),
        ("compression-level = false", "'compression-level': Input should be a valid integer"),
        ("retries = 1.0", "'retries': Input should be a valid integer"),
        ('jobs = "4"', "'jobs': Input should be a valid integer"),
        ("bytecode = 1", "'bytecode': Input should be a valid boolean"),
        ('keep-containers = "yes"', "'keep-containers': Input should be a valid boolean"),
        ("exclude-runtime-provided = 0", "'exclude-runtime-provided': Input should be a valid boolean"),
        ("timeout = true", "'timeout': Input should be a valid number"),
        ("timeout = inf", "'timeout': Input should be a finite number"),
    ],
)
def test_config_files_take_booleans_and_numbers_as_written(
    make_workspace: Callable[..., Path], workspace: str, message: str
) -> None:
    """TOML has real booleans and integers: `jobs = true` is a mistake, not 1."""
    root = make_workspace(workspace)
    with pytest.raises(ConfigError, match=re.escape(message)):
        plan_for(root)


@pytest.mark.parametrize(
    ("env", "attribute", "expected"),
    [
        ({"LAYERCTL_JOBS": "4"}, "jobs", 4),
        ({"LAYERCTL_RETRIES": " 2 "}, "retries", 2),
        ({"LAYERCTL_TIMEOUT": "90"}, "timeout", 90.0),
        ({"LAYERCTL_TIMEOUT": "1.5"}, "timeout", 1.5),
        ({"LAYERCTL_KEEP_CONTAINERS": "true"}, "keep_containers", True),
        ({"LAYERCTL_KEEP_CONTAINERS": "1"}, "keep_containers", True),
        ({"LAYERCTL_KEEP_CONTAINERS": "No"}, "keep_containers", False),
    ],
)
def test_env_values_are_strings_and_still_parse(
    make_workspace: Callable[..., Path], env: dict[str, str], attribute: str, expected: object
) -> None:
    assert getattr(plan_for(make_workspace(), env).options, attribute) == expected


def test_env_booleans_and_numbers_in_layer_settings(make_workspace: Callable[..., Path]) -> None:
    env = {"LAYERCTL_BYTECODE": "yes", "LAYERCTL_COMPRESSION_LEVEL": "9"}
    settings = plan_for(make_workspace(), env).targets[0].settings
    assert settings.bytecode is True and settings.compression_level == 9


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"LAYERCTL_JOBS": "x"}, "environment: LAYERCTL_JOBS: 'x' is not an integer"),
        ({"LAYERCTL_JOBS": "0"}, "environment: LAYERCTL_JOBS: Input should be greater than or equal to 1"),
        ({"LAYERCTL_TIMEOUT": "soon"}, "environment: LAYERCTL_TIMEOUT: 'soon' is not a number"),
        ({"LAYERCTL_BYTECODE": "maybe"}, "environment: LAYERCTL_BYTECODE: 'maybe' is not a boolean"),
        ({"LAYERCTL_PYTHON": "3.9"}, "environment: LAYERCTL_PYTHON: unsupported Python 3.9"),
        ({"LAYERCTL_BUILDER": "docker"}, "environment: LAYERCTL_BUILDER: Input should be"),
    ],
)
def test_env_errors_name_the_variable(
    make_workspace: Callable[..., Path], env: dict[str, str], message: str
) -> None:
    with pytest.raises(ConfigError, match=re.escape(message)) as info:
        plan_for(make_workspace(), env)
    assert info.value.exit_code == EXIT_USAGE


def test_debug_variable_is_not_a_setting() -> None:
    assert env_overrides({"LAYERCTL_DEBUG": "1"}) == ({}, {}, {})


@pytest.mark.parametrize("pattern", ["\\", "foo\\", "a/**b/\\"])
def test_invalid_exclude_pattern_is_refused_when_loaded(
    make_workspace: Callable[..., Path], pattern: str
) -> None:
    root = make_workspace(f"exclude = [{json.dumps(pattern)}]")
    with pytest.raises(ConfigError, match=r"pyproject.toml \[tool.layerctl\]: 'exclude': ") as info:
        plan_for(root)
    assert repr(pattern) in str(info.value)
    layer_root = make_workspace("", {"a": f"[tool.layerctl]\nexclude = [{json.dumps(pattern)}]\n"})
    with pytest.raises(ConfigError, match=r"layers/a/pyproject.toml \[tool.layerctl\]: 'exclude'"):
        plan_for(layer_root)
    with pytest.raises(ConfigError, match="environment: LAYERCTL_EXCLUDE: "):
        plan_for(make_workspace(), {"LAYERCTL_EXCLUDE": pattern})


@pytest.mark.parametrize(
    ("pattern", "message"),
    [
        ("/tmp/x/*/pyproject.toml", "'layers': '/tmp/x/*/pyproject.toml' is absolute"),
        ("/abs/layer", "'layers': '/abs/layer' is absolute"),
        ("", "'layers': an empty pattern"),
    ],
)
def test_layers_patterns_are_relative_to_the_workspace(
    make_workspace: Callable[..., Path], pattern: str, message: str
) -> None:
    root = make_workspace(f"layers = [{json.dumps(pattern)}]")
    with pytest.raises(ConfigError, match=re.escape(message)):
        plan_for(root)


def test_directory_name_that_cannot_be_a_target_id(make_workspace: Callable[..., Path]) -> None:
    root = make_workspace("", {"a:b": ""})
    with pytest.raises(ConfigError) as info:
        plan_for(root)
    text = str(info.value)
    assert "layers/a:b/pyproject.toml: the directory name 'a:b' cannot be a layer name" in text
    assert "name:pyX.Y-arch" in text and "[tool.layerctl] name" in text
    named = make_workspace("", {"a:b": '[tool.layerctl]\nname = "ab"\n'})
    assert {t.layer.name for t in plan_for(named).targets} == {"ab"}


@pytest.mark.parametrize("name", [".hidden", "-x", "a b", "é"])
def test_directory_names_follow_the_name_rule(make_workspace: Callable[..., Path], name: str) -> None:
    root = make_workspace('layers = ["layers/*"]', {name: ""})
    with pytest.raises(ConfigError, match="cannot be a layer name"):
        plan_for(root)


@pytest.mark.parametrize("table", ["tool = 5", 'tool = {layerctl = "x"}', "tool = {layerctl = [1]}"])
def test_tool_table_of_the_wrong_type(make_workspace: Callable[..., Path], table: str) -> None:
    root = make_workspace()
    (root / "pyproject.toml").write_text(table + "\n")
    with pytest.raises(ConfigError, match=r"pyproject.toml: \[tool"):
        plan_for(root)


@pytest.mark.parametrize(
    "pattern",
    [
        "layers/*/pyproject.toml",
        "layers/*",
        "**/pyproject.toml",
        "layers/**",
        "layers/[ab]*/pyproject.toml",
        "layers/?/pyproject.toml",
        "./layers//*/pyproject.toml",
        "nested/*/*/pyproject.toml",
    ],
)
def test_layers_globs_match_what_pathlib_matches(make_workspace: Callable[..., Path], pattern: str) -> None:
    root = make_workspace("", {"a": "", "b2": "", ".hidden": '[tool.layerctl]\nname = "hidden"\n'})
    (root / "nested/x/deep").mkdir(parents=True)
    (root / "nested/x/deep/pyproject.toml").write_text('[project]\nname = "deep"\ndependencies = []\n')
    (root / "layers/link").symlink_to(root / "nested", target_is_directory=True)
    expected = set()
    for path in root.glob(pattern):
        path = path / "pyproject.toml" if path.is_dir() else path
        if path.name == "pyproject.toml" and path.is_file() and path != root / "pyproject.toml":
            expected.add(path)
    workspace = load_workspace(root).model_copy(
        update={"options": load_workspace(root).options.model_copy(update={"layers": (pattern,)})}
    )
    assert {layer.pyproject for layer in discover_layers(workspace)} == expected


@pytest.mark.parametrize(
    ("argv", "env", "message"),
    [
        (["build-all", "--builder", "foo"], {}, "command line: --builder: Input should be 'auto', 'native', 'container' or 'hybrid'"),
        (["list", "--format", "yaml"], {}, "command line: --format: Input should be 'text' or 'json'"),
        (["build-all", "--log-format", "foo"], {}, "command line: --log-format: Input should be 'auto', 'live', 'plain', 'github' or 'json'"),
        (["build-all"], {"LAYERCTL_JOBS": "x"}, "environment: LAYERCTL_JOBS: 'x' is not an integer"),
        (["build-all", "--jobs", "x"], {}, "command line: --jobs: 'x' is not an integer"),
        (["build-all", "--jobs", "0"], {}, "command line: --jobs: Input should be greater than or equal to 1"),
    ],
)  # fmt: skip
def test_every_bad_value_gets_the_same_one_line_error(
    make_workspace: Callable[..., Path], argv: list[str], env: dict[str, str], message: str
) -> None:
    from typer.testing import CliRunner

    from orchestrator.cli.app import app

    root = make_workspace()
    result = CliRunner().invoke(app, ["-C", str(root), *argv], env=env)
    assert result.exit_code == 2
    assert result.output == f"layerctl: error: {message}\n"


def test_an_explicit_flag_overrides_the_workspace(make_workspace: Callable[..., Path]) -> None:
    from orchestrator.cli.invocation import Invocation

    root = make_workspace("jobs = 4\nkeep-going = true\nbytecode = true\n")
    plan = Invocation(root, "build-all", {"jobs": "1", "keep_going": False}).plan()
    assert plan.options.jobs == 1 and plan.options.keep_going is False
    plan = Invocation(root, "build-all", {}).plan()
    assert plan.options.jobs == 4 and plan.options.keep_going is True


def test_the_reference_tables_are_the_declarations() -> None:
    """docs/reference.md shows every setting exactly as settings.py declares it."""
    from orchestrator.cli.options import reference_tables

    page = (Path(__file__).resolve().parents[2] / "docs/reference.md").read_text()
    begin, end = (
        "<!-- settings: made by orchestrator.cli.options.reference_tables -->\n",
        "<!-- end of settings -->\n",
    )
    assert begin in page and end in page, "docs/reference.md lost its settings markers"
    shown = page.split(begin, 1)[1].split(end, 1)[0]
    assert shown == reference_tables(), (
        "docs/reference.md differs from the declarations: run "
        "python -c 'from orchestrator.cli.options import reference_tables as r; print(r(), end=\"\")'"
    )


def test_layers_and_tool_from_the_environment_and_the_workspace_take_effect(
    make_workspace: Callable[..., Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    from orchestrator.cli.invocation import Invocation
    from orchestrator.workspace.discovery import Tool

    root = make_workspace('tool = "pip"\n', {"a": "", "b": ""})
    (root / "layers/a/poetry.lock").write_text("# a lock this workspace's tool setting ignores\n")
    plan = Invocation(root, "list", {}).plan()
    assert {t.layer.tool for t in plan.targets} == {Tool.PIP}  # the workspace's tool
    monkeypatch.setenv("LAYERCTL_LAYERS", "layers/b/pyproject.toml")
    assert {t.layer.name for t in Invocation(root, "list", {}).plan().targets} == {"b"}
    monkeypatch.setenv("LAYERCTL_TOOL", "poetry")
    targets = Invocation(root, "list", {}).plan().targets  # the environment's tool: b has no poetry.lock
    assert targets and all(t.problem is not None and "no poetry.lock" in t.problem for t in targets)


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["build-all", "--bogus"], "No such option: --bogus"),
        (["bogus"], "No such command 'bogus'"),
        (["build-all", "-q", "-v"], "--quiet and --verbose"),
    ],
)
def test_a_bad_command_line_is_one_line(
    make_workspace: Callable[..., Path], argv: list[str], message: str
) -> None:
    import subprocess
    import sys

    root = make_workspace()
    result = subprocess.run(
        [sys.executable, "-m", "orchestrator", "-C", str(root), *argv],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 2
    assert result.stderr.count("\n") == 1 and result.stderr.startswith("layerctl: error: ")
    assert message in result.stderr and "Traceback" not in result.stderr


def test_a_file_that_is_not_utf8_is_one_line(make_workspace: Callable[..., Path]) -> None:
    root = make_workspace()
    (root / "layers/a/pyproject.toml").write_bytes(b'[project]\nname = "a\xff"\nversion = "1"\n')
    with pytest.raises(ConfigError, match="not UTF-8 text"):
        read_toml(root / "layers/a/pyproject.toml")


def test_a_tool_key_that_is_not_a_table_in_the_root(tmp_path: Path) -> None:
    """Found by the fuzz test: finding the workspace upward met `tool = 5` with a TypeError."""
    from tests.support.cli import invoke

    (tmp_path / "pyproject.toml").write_text("tool = 5\n")
    (tmp_path / "layers/a").mkdir(parents=True)
    (tmp_path / "layers/a/pyproject.toml").write_text('[project]\nname = "a"\nversion = "1"\n')
    result = invoke(["-C", str(tmp_path), "list", "--no-decide"])
    assert result.exit_code == EXIT_USAGE
    assert result.stderr == f"layerctl: error: {tmp_path / 'pyproject.toml'}: [tool] must be a table\n"


@pytest.mark.parametrize("pattern", ["layers/*/pyproject.toml", "layers/*"])
def test_one_project_under_two_names_is_refused(make_workspace: Callable[..., Path], pattern: str) -> None:
    """Found by the fuzz test: layers/twin -> web made two layers of one project, whose builds
    shared one output directory (and build-all waited for its own run lock for ever)."""
    root = make_workspace(f"layers = [{json.dumps(pattern)}]", {"web": ""})
    (root / "layers/twin").symlink_to("web")
    with pytest.raises(ConfigError) as info:
        plan_for(root)
    assert str(info.value) == (
        f"{root / 'layers/web/pyproject.toml'}: found twice by 'layers', also as "
        f"{root / 'layers/twin/pyproject.toml'}; one project is one layer: remove the "
        "link or narrow the pattern"
    )


def test_the_cache_secret_variable_is_no_unknown_setting() -> None:
    """LAYERCTL_CACHE_SECRET is read (secrets.py), never warned about as ignored."""
    assert unknown_variables({"LAYERCTL_CACHE_SECRET": "s3cret"}) == []


def test_an_optional_list_setting_is_shown_as_a_list() -> None:
    """`platforms = ["arm64"]`: the reference's type column says list, not string."""
    from orchestrator.cli.options import reference_tables

    rows = {line.split(" | ")[0].strip("| `"): line for line in reference_tables().splitlines()}
    assert " | list | " in rows["platforms"] and " | list | " in rows["emulates"]


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("", "is empty"),
        ("S3://bucket/x", "write s3://"),
        ("s3:/bucket/x", "must be s3://bucket/prefix"),
        ("file:///tmp/cache", "must be s3://bucket/prefix"),
        ("s3://bucket name/x", "not an S3 bucket name"),
        ("s3://Bucket/x", "not an S3 bucket name"),
        ("s3://ab/x", "not an S3 bucket name"),
        ("s3://my..bucket/x", "not an S3 bucket name"),
        ("s3://192.168.1.2/x", "not an S3 bucket name"),
        ("s3://bucket:9000/x", "not an S3 bucket name"),
    ],
)
def test_a_cache_url_that_is_neither_s3_nor_a_directory_is_one_line_before_anything_is_written(
    make_workspace: Callable[..., Path], value: str, message: str
) -> None:
    """``--cache-url ''`` made the workspace root a cache, ``S3://b/x`` and ``s3:/b/x`` a
    directory named ``S3:``/``s3:`` in it; a bad bucket name waited for the first request."""
    root = make_workspace("", {"a": ""})
    for args, env, named in (
        (["--cache-url", value], {}, "--cache-url"),
        ([], {"LAYERCTL_CACHE_URL": value}, "LAYERCTL_CACHE_URL"),
    ):
        result = invoke(["-C", str(root), "build-all", "--dry-run", *args], env=env)
        assert result.exit_code == 2, (value, result.exit_code, result.stderr)
        assert named in result.stderr and message in result.stderr, result.stderr
        assert len(result.stderr.strip().splitlines()) == 1
    before = sorted(p.name for p in root.iterdir())
    result = invoke(["-C", str(root), "publish", "--cache-url", value])
    assert result.exit_code == 2 and len(result.stderr.strip().splitlines()) == 1, result.stderr
    assert sorted(p.name for p in root.iterdir()) == before  # no directory made of the value


@pytest.mark.parametrize("value", ["s3://my-layer-cache/ci", "s3://bucket", "s3://a.b-c1/x/y", "./odd:name"])
def test_a_good_cache_url_is_taken(make_workspace: Callable[..., Path], value: str) -> None:
    root = make_workspace()
    assert plan_for(root, {"LAYERCTL_CACHE_URL": value}).options.cache_url == value
