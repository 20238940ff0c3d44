"""The composite action (action.yml at the repository root): its inputs are layerctl's flags, and
its run step passes each of them as that flag (tests/integration/test_ci_workflow.py runs it)."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import yaml

from orchestrator.cli.options import flags_for

ROOT = Path(__file__).resolve().parents[2]
# inputs of the action itself, not flags of the command
OWN = {"command", "args", "working-directory", "upload-report"}
COMMANDS = ("build-all", "build", "publish", "verify", "list", "matrix")


def action() -> dict[str, Any]:
    data = yaml.safe_load((ROOT / "action.yml").read_text())
    assert isinstance(data, dict)
    return data


def step(data: dict[str, Any], step_id: str) -> dict[str, Any]:
    (found,) = [s for s in data["runs"]["steps"] if s.get("id") == step_id]
    assert isinstance(found, dict)
    return found


def test_every_input_is_a_flag_of_the_default_command() -> None:
    data = action()
    inputs = data["inputs"]
    command = inputs["command"]["default"]
    assert command == "build-all"
    keys = {flag.key: flag for flag in flags_for(command)}
    flagged = set(inputs) - OWN
    assert flagged == {"python", "arch", "shard", "cache-url", "cache-mode"}
    for name in flagged:
        assert name in keys, f"action.yml input {name!r} is no flag of layerctl {command}"
        assert keys[name].kind == "value" and keys[name].decls[0] == f"--{name}"
        assert inputs[name]["default"] == ""  # empty: no flag, the workspace's settings decide
        assert inputs[name]["description"].startswith(f"--{name}")
    # and the run step passes each input as its flag, only when it is given
    run = step(data, "run")
    script = run["run"]
    for name in flagged:
        var = "IN_" + name.upper().replace("-", "_")
        assert run["env"][var] == f"${{{{ inputs.{name} }}}}"
        assert f'[ -z "${var}" ] || argv+=(--{name} "${var}")' in script
    assert run["env"]["IN_COMMAND"] == "${{ inputs.command }}"
    assert run["env"]["IN_ARGS"] == "${{ inputs.args }}"
    assert 'layerctl "${argv[@]}" "${extra[@]}"' in script
    # no input reaches the script as text (an input holding $(...) stays data)
    assert not re.search(r"\$\{\{", script)


def test_the_command_input_names_commands_that_exist() -> None:
    description = action()["inputs"]["command"]["description"]
    named = re.findall(r"\b(build-all|build|publish|verify|list|matrix)\b", description)
    assert set(named) == set(COMMANDS)
    for command in COMMANDS:  # each has a flag for at least --python (the cli knows it)
        assert any(flag.key == "python" for flag in flags_for(command)), command


def test_it_installs_from_its_own_checkout_and_uploads_the_report_per_shard() -> None:
    data = action()
    assert data["runs"]["using"] == "composite"
    install = step(data, "install")
    assert install["env"]["ACTION_PATH"] == "${{ github.action_path }}"
    assert '-m pip install --quiet --disable-pip-version-check "$ACTION_PATH"' in install["run"]
    assert '>> "$GITHUB_PATH"' in install["run"]
    (upload,) = [s for s in data["runs"]["steps"] if s.get("uses", "").startswith("actions/upload-artifact@")]
    assert upload["uses"] == "actions/upload-artifact@v4"
    assert upload["with"]["name"] == "${{ steps.run.outputs.artifact }}"
    assert "always()" in upload["if"]
    assert set(data["outputs"]) == {"layer-arns", "report", "artifact"}
    assert all(step.get("shell") == "bash" for step in data["runs"]["steps"] if "run" in step)
