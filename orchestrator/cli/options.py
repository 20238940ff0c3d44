"""The command line's flags and the reference tables, made from the settings' declarations
(``settings.py``): a new setting is one field there, and its flag, its ``LAYERCTL_*`` variable
and its row in docs/reference.md follow. Flags take strings and are validated by the same
models as files and the environment, so a bad value gets the same one-line error anywhere."""

from __future__ import annotations

import inspect
import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, get_args, get_origin

import typer
from pydantic import BaseModel
from pydantic.fields import FieldInfo

from ..core.cacheurl import names_a_directory
from ..core.engine_settings import EngineSettings
from ..core.publish_settings import PublishSettings
from ..core.run_settings import RunFlags, WorkspaceOptions
from ..core.settings import LayerOnly, LayerSettings, kebab
from ..workspace.config import Sources, env_name, parse_strings, split_sources
from .lazycli import help_text

__all__ = ["Flag", "flags_for", "help_text", "parameters", "parse_flags", "reference_tables"]

Kind = Literal["bool", "count", "repeat", "value"]
_FLAGGED: tuple[type[BaseModel], ...] = (LayerSettings, WorkspaceOptions, RunFlags)


@dataclass(frozen=True)
class Flag:
    key: str  # the setting's key (kebab-case)
    name: str  # the Python parameter
    decls: tuple[str, ...]
    help: str
    metavar: str | None
    kind: Kind


def _cli(info: FieldInfo) -> dict[str, Any]:
    extra = info.json_schema_extra
    cli = extra.get("cli") if isinstance(extra, dict) else None
    return dict(cli) if isinstance(cli, dict) else {}


def _choices(info: FieldInfo) -> list[str]:
    annotation = info.annotation
    return [str(a) for a in get_args(annotation)] if get_origin(annotation) is Literal else []


def flags_for(command: str) -> list[Flag]:
    """The flags of one command, in declaration order."""
    found = []
    for model in _FLAGGED:
        for name, info in model.model_fields.items():
            cli = _cli(info)
            if not cli.get("flag") or command not in cli.get("commands", ()):
                continue
            flag, short = str(cli["flag"]), cli.get("short")
            choices = _choices(info)
            kind: Kind
            if cli.get("counted"):
                kind, decls = "count", (flag, *([short] if short else []))
            elif info.annotation is bool:
                kind, decls = "bool", (f"{flag}/--no-{flag[2:]}", *([short] if short else []))
            else:
                kind = "repeat" if cli.get("repeated") else "value"
                decls = (flag, *([short] if short else []))
            metavar = cli.get("metavar") or ("|".join(choices) if choices else None)
            found.append(Flag(kebab(name), name, decls, help_text(info.description or ""), metavar, kind))
    return found


# What rich reads as a markup tag (its own ``rich.markup.escape`` rule, without importing rich,
# which --version and --help would pay for): ``[tool.layerctl.publish]`` would vanish from help.
def parameters(command: str) -> list[inspect.Parameter]:
    """typer parameters for the command's flags: every value is a string (or a list of them) and
    ``None`` when not given, so an explicit ``--no-x`` or ``--jobs 1`` overrides the workspace."""
    params = []
    for flag in flags_for(command):
        annotation: Any
        if flag.kind == "count":
            option, annotation = typer.Option(0, *flag.decls, count=True, help=flag.help), int
        elif flag.kind == "bool":
            option, annotation = typer.Option(None, *flag.decls, help=flag.help), bool | None
        elif flag.kind == "repeat":
            option = typer.Option(None, *flag.decls, help=flag.help, metavar=flag.metavar)
            annotation = list[str] | None
        else:
            option = typer.Option(None, *flag.decls, help=flag.help, metavar=flag.metavar)
            annotation = str | None
        params.append(
            inspect.Parameter(
                flag.name, inspect.Parameter.KEYWORD_ONLY, default=option, annotation=annotation
            )
        )
    return params


def parse_flags(command: str, values: Mapping[str, Any]) -> Sources:
    """The given flags of a command, validated by their settings' models (one-line errors that
    name the flag)."""
    flags = {flag.key: flag for flag in flags_for(command)}
    raw: dict[str, Any] = {}
    typed: dict[str, Any] = {}
    for key, flag in flags.items():
        value = values.get(flag.name)
        if value is None or (flag.kind == "count" and value == 0):
            continue
        (typed if flag.kind in ("bool", "count") else raw)[key] = value
    if "ca-bundle" in raw:  # a flag's relative path starts where the user is, not at the workspace
        raw["ca-bundle"] = str(Path(raw["ca-bundle"]).absolute())
    if "cache-url" in raw and names_a_directory(raw["cache-url"]):  # likewise a cache directory
        raw["cache-url"] = str(Path(raw["cache-url"]).absolute())  # (an empty value is refused)

    def label(key: str) -> str:
        return flags[key].decls[0].split("/")[0] if key in flags else key

    return split_sources({**parse_strings(raw, "command line", label), **typed}, "command line", label)


def reference_tables() -> str:
    """The settings' tables of docs/reference.md (a test keeps the page equal to this)."""
    sections: list[tuple[str, type[BaseModel]]] = [
        ("Layer settings (workspace, layer, env, CLI)", LayerSettings),
        ("Layer-only settings (the layer's own `[tool.layerctl]`)", LayerOnly),
        ("Workspace-only settings (workspace, env, CLI)", WorkspaceOptions),
        ("Run flags (env, CLI)", RunFlags),
    ]
    out = []
    for title, model in sections:
        out += [f"### {title}", "", "| key | type | default | flag | meaning |", "|---|---|---|---|---|"]
        for name, info in model.model_fields.items():
            cli = _cli(info)
            flag = ""
            if cli.get("flag"):
                base = str(cli["flag"])
                flag = f"`{base}/--no-{base[2:]}`" if info.annotation is bool else f"`{base}`"
                if cli.get("short"):
                    flag += f", `{cli['short']}`"
            env = "" if model is LayerOnly else f" (`{env_name(kebab(name))}`)"
            out.append(
                f"| `{kebab(name)}`{env} | {_type(info)} | {_default(info.default)} | {flag} | {info.description} |"
            )
        out.append("")
    out += [
        "### Publish settings (`[tool.layerctl.publish]`: workspace, layer)",
        "",
        "| key | type | default | meaning |",
        "|---|---|---|---|",
        *_nested_rows(PublishSettings, ""),
        "",
        "### Engine settings (`[tool.layerctl.engines]`: workspace; one table per engine name)",
        "",
        "| key | type | default | meaning |",
        "|---|---|---|---|",
        *_nested_rows(EngineSettings, ""),
        "",
    ]
    return "\n".join(out).rstrip("\n") + "\n"


def _nested_rows(model: type[BaseModel], prefix: str) -> list[str]:
    """Rows of a TOML table's settings; a nested table's keys are named `table.key`."""
    rows = []
    for name, info in model.model_fields.items():
        annotation = info.annotation
        if isinstance(annotation, type) and issubclass(annotation, BaseModel):
            rows += _nested_rows(annotation, f"{prefix}{kebab(name)}.")
            continue
        rows.append(
            f"| `{prefix}{kebab(name)}` | {_type(info)} | {_default(info.default)} | {info.description} |"
        )
    return rows


def _type(info: FieldInfo) -> str:
    choices = _choices(info)
    if choices:
        return " \\| ".join(f"`{c}`" for c in choices)
    annotation = info.annotation
    if any(get_origin(a) is tuple for a in (annotation, *get_args(annotation))):  # also `... | None`
        return "list"
    names = {bool: "bool", int: "int", float: "number", str: "string"}
    base = next((names[a] for a in (get_args(annotation) or (annotation,)) if a in names), "string")
    bounds = [
        f"{op} {getattr(m, attr)}"
        for m in info.metadata
        for attr, op in (("ge", "≥"), ("gt", ">"), ("le", "≤"))
        if getattr(m, attr, None) is not None
    ]
    return base + (f" {', '.join(bounds)}" if bounds else "")


def _default(value: Any) -> str:
    if value is None:
        return "none"
    if isinstance(value, tuple):
        return "`" + json.dumps([str(v) for v in value]) + "`"
    if isinstance(value, bool):
        return f"`{str(value).lower()}`"
    return f"`{value}`"
