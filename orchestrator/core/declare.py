"""How a setting is declared (``setting``), the model every settings class derives from, the
choices settings take and the commands' groups: the vocabulary of ``settings.py`` and
``run_settings.py``."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, JsonValue

__all__ = [
    "BUILD",
    "ENV_PREFIX",
    "NAME_PATTERN",
    "PUBLISH",
    "SELECT",
    "BuilderChoice",
    "ListFormat",
    "LogFormat",
    "Model",
    "PullChoice",
    "ToolChoice",
    "kebab",
    "output_settings",
    "setting",
]

ENV_PREFIX = "LAYERCTL_"

# A layer name is the first part of every target id (`name:pyX.Y-arch`), a path part and a
# container label: nothing that could split an id or escape a path.
NAME_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._-]*$"

ToolChoice = Literal["auto", "pip", "poetry", "pylock", "uv"]
BuilderChoice = Literal["auto", "native", "container", "hybrid"]
PullChoice = Literal["missing", "always", "never"]
LogFormat = Literal["auto", "live", "plain", "github", "json"]
ListFormat = Literal["text", "json"]

# Commands by the flags they share.
BUILD = frozenset({"build-all", "build"})
PUBLISH = frozenset({"publish"})
SELECT = BUILD | PUBLISH | {"list", "verify", "matrix"}


def kebab(name: str) -> str:
    return name.replace("_", "-")


def setting(
    default: Any,
    help: str,  # noqa: A002 - the word everyone uses for it
    *,
    flag: str | None = None,
    short: str | None = None,
    commands: frozenset[str] = frozenset(),
    metavar: str | None = None,
    listed: bool = False,
    repeated: bool = False,
    counted: bool = False,
    output: bool | None = None,
    **constraints: Any,
) -> Any:
    """One setting, declared once: its default and help, and on which commands it is a flag
    (``options.py`` makes the flags, the ``LAYERCTL_*`` variable and the reference table from
    this). ``listed``: comma-separated on the command line and in the environment;
    ``repeated``: the flag may be given again; ``counted``: the flag counts (``-vv``).
    ``output``: whether the setting changes the tree or zip a target builds (every layer setting
    says, True or False; ``inputkey.py`` keys a target by exactly those that do)."""
    cli: dict[str, JsonValue] = {
        "flag": flag, "short": short, "commands": list[JsonValue](sorted(commands)), "metavar": metavar,
        "listed": listed, "repeated": repeated, "counted": counted,
    }  # fmt: skip
    return Field(default, description=help, json_schema_extra={"cli": cli, "output": output}, **constraints)


def output_settings(model: type[BaseModel]) -> tuple[str, ...]:
    """The fields of ``model`` declared to change what a target builds (``output=True``)."""
    fields = model.model_fields.items()
    return tuple(
        n for n, i in fields if isinstance(i.json_schema_extra, dict) and i.json_schema_extra["output"]
    )


class Model(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", alias_generator=kebab, populate_by_name=True)
