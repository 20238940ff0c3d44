"""Reading the settings (declared in ``settings.py``) from their sources, and the one cascade:

    defaults  <  workspace [tool.layerctl]  <  layer [tool.layerctl]  <  LAYERCTL_* env  <  CLI flags

Every source is validated on its own, so an error names the file (or variable, or flag) and the
key it came from; unknown keys get a "did you mean". Lists replace, they never append.

TOML has real booleans and numbers, so config files must use them (``jobs = true`` is an error,
not 1); environment variables and flags are strings, parsed by the type of their setting
(``parse_strings``), so ``LAYERCTL_JOBS=x`` and ``--jobs x`` fail alike.
"""

from __future__ import annotations

import difflib
import os
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, get_args, get_origin

from pydantic import BaseModel, ConfigDict

from ..core._toml import TOMLDecodeError
from ..core._toml import loads as toml_loads
from ..core.engine_settings import EngineSettings
from ..core.errors import ConfigError
from ..core.fileio import read_regular
from ..core.run_settings import RunFlags, WorkspaceOptions
from ..core.settings import ENV_PREFIX, LayerOnly, LayerSettings, kebab
from .checks import check_keys, validate
from .tables import ENGINES, PUBLISH, engines_table, publish_table

__all__ = [
    "LAYER_KEYS",
    "WORKSPACE_FILE",
    "WORKSPACE_KEYS",
    "Sources",
    "WorkspaceConfig",
    "cascade",
    "check_keys",
    "env_name",
    "env_overrides",
    "load_workspace",
    "parse_strings",
    "read_toml",
    "tool_table",
    "unknown_variables",
    "validate",
]

WORKSPACE_FILE = "layerctl.toml"


def _keys(*models: type[BaseModel]) -> list[str]:
    return [kebab(name) for model in models for name in model.model_fields]


def _kinds(*models: type[BaseModel]) -> dict[str, type]:
    """How a setting's string (environment, flag) is parsed: bool, int, float, or list (tuple)."""
    kinds: dict[str, type] = {}
    for model in models:
        for name, info in model.model_fields.items():
            declared = get_args(info.annotation) or (info.annotation,)
            if get_origin(info.annotation) is tuple:
                kinds[kebab(name)] = tuple
                continue
            kind = next((k for k in (bool, int, float) if k in declared), None)
            if kind is not None:
                kinds[kebab(name)] = kind
    return kinds


LAYER_KEYS = [*_keys(LayerSettings, LayerOnly), PUBLISH]
WORKSPACE_KEYS = [*_keys(LayerSettings, WorkspaceOptions), PUBLISH, ENGINES]
ENV_KEYS = _keys(LayerSettings, WorkspaceOptions, RunFlags)
KINDS = _kinds(LayerSettings, WorkspaceOptions, RunFlags)


class WorkspaceConfig(BaseModel):
    """The validated workspace: where it is, its run options and the layer defaults it sets."""

    model_config = ConfigDict(frozen=True, arbitrary_types_allowed=True)

    root: Path
    source: Path | None  # the file the settings came from (None: defaults only)
    options: WorkspaceOptions
    layer_defaults: dict[str, Any]  # the workspace's explicitly set LayerSettings keys
    publish: dict[str, Any] = {}  # the workspace's explicitly set [tool.layerctl.publish] keys
    engines: dict[str, EngineSettings] = {}  # [tool.layerctl.engines]: none, the default engine
    # layer-only keys (``name``) in a root pyproject.toml's table: the root is a layer itself
    # (single.py), or they are an error once discovery knows it is not
    layer_only: tuple[str, ...] = ()


def read_toml(path: Path) -> dict[str, Any]:
    """Read a TOML file, turning every failure into a one-line ConfigError naming the file."""
    try:  # universal newlines, as a text file is read
        text = read_regular(path).decode("utf-8").replace("\r\n", "\n").replace("\r", "\n")
    except FileNotFoundError:
        raise ConfigError(f"{path}: no such file") from None
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read it ({exc.strerror})") from None
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{path}: not UTF-8 text (byte {exc.start}); TOML files are UTF-8") from None
    try:
        data: dict[str, Any] = toml_loads(text)
    except TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML: {exc}") from None
    return data


def _table(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def tool_table(data: Mapping[str, Any], path: Path) -> dict[str, Any]:
    tool = data.get("tool", {})
    if not isinstance(tool, dict):
        raise ConfigError(f"{path}: [tool] must be a table")
    table = tool.get("layerctl", {})
    if not isinstance(table, dict):
        raise ConfigError(f"{path}: [tool.layerctl] must be a table")
    return table


def load_workspace(root: Path) -> WorkspaceConfig:
    """Read the workspace settings from ``layerctl.toml`` or the root ``pyproject.toml``."""
    if not root.is_dir():
        raise ConfigError(f"{root}: no such directory; pass the workspace root with -C")
    dedicated = root / WORKSPACE_FILE
    pyproject = root / "pyproject.toml"
    if dedicated.is_file():
        source, table, where = dedicated, read_toml(dedicated), str(dedicated)
        if pyproject.is_file() and "layerctl" in _table(read_toml(pyproject).get("tool")):
            raise ConfigError(
                f"{dedicated} and {pyproject} [tool.layerctl] both hold workspace settings; "
                "keep them in one of the two"
            )
    elif pyproject.is_file():
        source = pyproject
        table = tool_table(read_toml(pyproject), pyproject)
        where = f"{pyproject} [tool.layerctl]"
    else:
        raise ConfigError(
            f"{root}: no pyproject.toml or {WORKSPACE_FILE}; run layerctl in the workspace root "
            "or pass it with -C"
        )
    own = _keys(LayerOnly) if source == pyproject else []  # the root project may be the layer
    hint = " (workspace settings)" if "name" in table and not own else ""
    check_keys(table, [*WORKSPACE_KEYS, *own], where, hint=hint)
    options = WorkspaceOptions(**validate(WorkspaceOptions, table, where))
    return WorkspaceConfig(
        root=root,
        source=source,
        options=options,
        layer_defaults=validate(LayerSettings, table, where),
        publish=publish_table(table, where),
        engines=engines_table(table, where),
        layer_only=tuple(key for key in table if key in own),
    )


Sources = tuple[
    dict[str, Any], dict[str, Any], dict[str, Any]
]  # layer settings, workspace options, run flags


def env_overrides(environ: Mapping[str, str] | None = None) -> Sources:
    """``LAYERCTL_*`` variables by the model they set; unknown names are left out (``unknown_variables``)."""
    environ = os.environ if environ is None else environ
    known = {env_name(k): k for k in ENV_KEYS}
    raw = {known[var]: value for var, value in environ.items() if var in known}
    return split_sources(parse_strings(raw, "environment", env_name), "environment", env_name)


def unknown_variables(environ: Mapping[str, str] | None = None) -> list[str]:
    """A warning for each ``LAYERCTL_*`` variable that is no setting (with a "did you mean")."""
    environ = os.environ if environ is None else environ
    known = [env_name(k) for k in ENV_KEYS]
    warnings = []
    for var in sorted(environ):
        if var.startswith(ENV_PREFIX) and var not in known and var not in _ENV_NOT_SETTINGS:
            guess = difflib.get_close_matches(var, known, n=1)
            tip = f"; did you mean {guess[0]}?" if guess else ""
            warnings.append(f"environment: {var} is not a layerctl setting, ignored{tip}")
    return warnings


def split_sources(values: Mapping[str, Any], where: str, label: Callable[[str], str]) -> Sources:
    """Validated values of the three models a command line or the environment may set."""
    return (
        validate(LayerSettings, values, where, label=label),
        validate(WorkspaceOptions, values, where, label=label),
        validate(RunFlags, values, where, label=label),
    )


def parse_strings(
    raw: Mapping[str, str | list[str]], where: str, label: Callable[[str], str]
) -> dict[str, Any]:
    """Strings (of the environment or flags) as the values their settings take: lists split at
    commas, booleans and numbers parsed; anything else is left for the model to validate."""
    parsed: dict[str, Any] = {}
    for key, value in raw.items():
        kind = KINDS.get(key)
        if isinstance(value, list):  # a repeated flag
            parsed[key] = [item for v in value for item in _split(v)]
        elif kind is tuple:
            parsed[key] = _split(value)
        elif kind is not None:
            parsed[key] = _parse_scalar(kind, f"{where}: {label(key)}", value)
        else:
            parsed[key] = value
    return parsed


def _split(value: str) -> list[str]:
    return [v.strip() for v in value.split(",") if v.strip()]


def env_name(key: str) -> str:
    """The ``LAYERCTL_*`` variable of a setting: ``compression-level`` -> ``LAYERCTL_COMPRESSION_LEVEL``."""
    return ENV_PREFIX + key.upper().replace("-", "_")


_TRUE = frozenset({"1", "true", "yes", "on"})
_FALSE = frozenset({"0", "false", "no", "off"})


def _parse_scalar(kind: type, where: str, text: str) -> bool | int | float:
    """A string as the bool, int or float its setting takes."""
    word = text.strip()
    if kind is bool:
        if word.lower() in _TRUE | _FALSE:
            return word.lower() in _TRUE
        raise ConfigError(f"{where}: {text!r} is not a boolean; write true or false (or 1 / 0)")
    try:
        return int(word) if kind is int else float(word)
    except ValueError:
        what = "an integer" if kind is int else "a number"
        raise ConfigError(f"{where}: {text!r} is not {what}") from None


_ENV_NOT_SETTINGS = frozenset(  # with the prefix, not settings: read elsewhere, never validated as such
    {"LAYERCTL_INDEX_USERNAME", "LAYERCTL_INDEX_PASSWORD", "LAYERCTL_DEBUG", "LAYERCTL_CACHE_SECRET"}
)


def cascade(*sources: Mapping[str, Any]) -> LayerSettings:
    """Merge already validated sources, lowest precedence first, into the final settings."""
    merged: dict[str, Any] = {}
    for source in sources:
        merged.update(source)
    return LayerSettings.model_validate(merged)
