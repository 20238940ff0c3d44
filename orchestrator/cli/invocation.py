"""One command's invocation: where it runs, its settings from ``LAYERCTL_*`` and its flags (the
flags win), and the plan they make of the workspace found from there."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..core.errors import ConfigError
from .boundary import error_line

if TYPE_CHECKING:  # the settings (pydantic) and discovery are imported when a command runs
    from ..plan.targets import Plan

__all__ = ["Invocation"]


class Invocation:
    """A command's workspace root, its positional arguments and its settings from the
    environment and the command line (the command line wins)."""

    def __init__(self, start: Path, command: str, flags: dict[str, Any]) -> None:
        from ..core.run_settings import RunFlags
        from ..workspace.config import env_overrides, unknown_variables
        from .options import parse_flags

        for warning in unknown_variables():
            error_line(f"layerctl: warning: {warning}")
        self.env, self.cli = env_overrides(), parse_flags(command, flags)
        self.start, self.command = start, command
        self.run = RunFlags.model_validate({**self.env[2], **self.cli[2]})
        if self.run.quiet and self.run.verbose:
            raise ConfigError(
                "--quiet and --verbose (or LAYERCTL_QUIET and LAYERCTL_VERBOSE) together: choose one"
            )

    def plan(self, layers: list[str] | None = None) -> Plan:
        from ..plan.targets import make_plan
        from ..workspace.config import load_workspace
        from ..workspace.discovery import discover_layers
        from ..workspace.locate import find_workspace
        from .options import flags_for

        workspace = load_workspace(find_workspace(self.start))
        settings = {**self.env[0], **self.cli[0]}
        options = {**self.env[1], **self.cli[1]}
        found = discover_layers(workspace, layers_globs=options.get("layers"), tool=settings.get("tool"))
        plan = make_plan(
            workspace,
            found,
            env_settings=self.env[0],
            env_options=self.env[1],
            cli_settings=self.cli[0],
            cli_options=self.cli[1],
            layer_names=layers or (),
        )
        if self.run.shard is not None and any(f.key == "shard" for f in flags_for(self.command)):
            from ..run.matrix import shard_plan

            plan = shard_plan(plan, self.run, error_line)
        return plan
