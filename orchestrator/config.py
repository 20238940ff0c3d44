"""Workspace and layer configuration: pydantic models, TOML loading and the one precedence cascade.

    defaults  <  workspace [tool.layerctl]  <  layer [tool.layerctl]  <  LAYERCTL_* env  <  CLI flags

Every source is validated on its own, so an error names the file (or variable, or flag) and the
key it came from; unknown keys get a "did you mean". Lists replace, they never append.

TOML has real booleans and numbers, so config files must use them (``jobs = true`` is an error,
not 1); environment variables are strings and are parsed by the type of their setting.
"""

from __future__ import annotations

import difflib
import os
from collections.abc import Callable, Mapping
from pathlib import Path, PurePosixPath
from typing import Any, Literal, get_args
from urllib.parse import urlsplit

from pathspec import GitIgnoreSpec
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from ._toml import TOMLDecodeError
from ._toml import loads as toml_loads
from .errors import ConfigError
from .runtimes import Arch, supported_pythons

__all__ = [
    "ENV_PREFIX",
    "NAME_PATTERN",
    "BuilderChoice",
    "LayerSettings",
    "ToolChoice",
    "WorkspaceConfig",
    "WorkspaceOptions",
    "cascade",
    "env_overrides",
    "load_workspace",
    "read_toml",
]

ENV_PREFIX = "LAYERCTL_"
WORKSPACE_FILE = "layerctl.toml"

# A layer name is the first part of every target id (`name:pyX.Y-arch`), a path part and a
# container label: nothing that could split an id or escape a path.
NAME_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._-]*$"

ToolChoice = Literal["auto", "pip", "poetry", "uv"]
BuilderChoice = Literal["auto", "native", "container"]


def _kebab(name: str) -> str:
    return name.replace("_", "-")


class _Model(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", alias_generator=_kebab, populate_by_name=True)


class LayerSettings(_Model):
    """Settings that may differ per layer; the workspace sets their defaults."""

    python: tuple[str, ...] = ("3.12",)
    arch: tuple[Arch, ...] = (Arch.X86_64, Arch.ARM64)
    tool: ToolChoice = "auto"
    builder: BuilderChoice = "auto"
    exclude: tuple[str, ...] = ()
    exclude_runtime_provided: bool = Field(default=False, strict=True)
    output: str = "build/lambda/layer"
    bytecode: bool = Field(default=False, strict=True)
    compression_level: int = Field(default=6, ge=0, le=9, strict=True)
    # container builds
    image: str | None = None  # build image template: {python}, {arch}; default: the runtime table's
    verify_image: str | None = None  # image for `layerctl verify`; default: the Lambda runtime image
    index_url: str | None = None  # credentials never go here: LAYERCTL_INDEX_USERNAME / _PASSWORD
    ca_bundle: str | None = None  # extra CA bundle (PEM) for the index, given to pip/uv and containers

    @field_validator("image", "verify_image")
    @classmethod
    def _image_template(cls, value: str | None) -> str | None:
        if value is not None:
            try:
                value.format(python="3.12", arch="arm64")
            except (KeyError, IndexError, ValueError):
                raise ValueError("may use only the placeholders {python} and {arch}") from None
        return value

    @field_validator("index_url")
    @classmethod
    def _index_without_credentials(cls, value: str | None) -> str | None:
        if value is not None:
            parsed = urlsplit(value)
            if parsed.scheme not in ("http", "https") or not parsed.hostname:
                raise ValueError("must be an http(s) URL of a simple index")
            if parsed.username or parsed.password:
                raise ValueError(
                    "must not hold credentials; pass them as LAYERCTL_INDEX_USERNAME and "
                    "LAYERCTL_INDEX_PASSWORD in the environment"
                )
        return value

    @field_validator("python", mode="before")
    @classmethod
    def _versions_are_strings(cls, value: Any) -> Any:
        items = value if isinstance(value, (list, tuple)) else [value]
        for item in items:
            if not isinstance(item, str):
                raise ValueError(f'write Python versions as strings, e.g. "3.12" (got {item!r})')
        return tuple(items)

    @field_validator("python")
    @classmethod
    def _supported_python(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        supported = supported_pythons()
        for version in value:
            if version not in supported:
                raise ValueError(f"unsupported Python {version}; Lambda runs {', '.join(supported)}")
        if not value:
            raise ValueError("name at least one Python version")
        return tuple(dict.fromkeys(value))

    @field_validator("arch", mode="before")
    @classmethod
    def _arch_list(cls, value: Any) -> Any:
        items = value if isinstance(value, (list, tuple)) else [value]
        aliases = {"amd64": "x86_64", "aarch64": "arm64"}
        return tuple(aliases.get(i, i) if isinstance(i, str) else i for i in items)

    @field_validator("arch")
    @classmethod
    def _some_arch(cls, value: tuple[Arch, ...]) -> tuple[Arch, ...]:
        if not value:
            raise ValueError("name at least one architecture (x86_64, arm64)")
        return tuple(dict.fromkeys(value))

    @field_validator("exclude")
    @classmethod
    def _gitignore_patterns(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        for pattern in value:  # compiled as package.py compiles them, so a bad one fails here
            try:
                GitIgnoreSpec.from_lines([pattern])
            except ValueError as exc:
                raise ValueError(f"{pattern!r} is not a valid gitignore-style pattern ({exc})") from None
        return value

    @field_validator("output")
    @classmethod
    def _relative_output(cls, value: str) -> str:
        if not value or Path(value).is_absolute() or ".." in Path(value).parts:
            raise ValueError("must be a relative path inside the layer project, e.g. build/lambda/layer")
        return value


class WorkspaceOptions(_Model):
    """Settings that only make sense for the whole run."""

    layers: tuple[str, ...] = ("layers/*/pyproject.toml",)
    only: tuple[str, ...] = ()
    skip: tuple[str, ...] = ()
    jobs: int | None = Field(default=None, ge=1, strict=True)
    report_dir: str = "build/layerctl"
    pull: Literal["missing", "always", "never"] = "missing"
    keep_containers: bool = Field(default=False, strict=True)
    # the build containers' network (Docker's NetworkMode): "host" reaches an index or proxy on
    # the host's loopback, which the default bridge network cannot
    container_network: str | None = Field(default=None, pattern=r"^[A-Za-z0-9][A-Za-z0-9_.:-]*$")
    cache_dir: str | None = None  # download caches shared by builds; default ~/.cache/layerctl
    # seconds per attempt at a target
    timeout: float | None = Field(default=None, gt=0, strict=True, allow_inf_nan=False)
    retries: int = Field(default=0, ge=0, le=10, strict=True)  # extra attempts after a transient failure

    @field_validator("layers")
    @classmethod
    def _relative_globs(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        for pattern in value:
            if not pattern:
                raise ValueError("an empty pattern matches nothing; e.g. layers/*/pyproject.toml")
            if "\x00" in pattern:
                raise ValueError(f"{pattern!r} holds a NUL character")
            if PurePosixPath(pattern).is_absolute():
                raise ValueError(
                    f"{pattern!r} is absolute; layers are found relative to the workspace root, "
                    "e.g. layers/*/pyproject.toml"
                )
        return value


class LayerOnly(_Model):
    name: str | None = Field(default=None, pattern=NAME_PATTERN)


def _keys(*models: type[BaseModel]) -> list[str]:
    return [_kebab(name) for model in models for name in model.model_fields]


def _scalar_types(*models: type[BaseModel]) -> dict[str, type]:
    """Settings whose value is a bool, int or float: their environment strings are parsed."""
    kinds: dict[str, type] = {}
    for model in models:
        for name, info in model.model_fields.items():
            declared = get_args(info.annotation) or (info.annotation,)
            kind = next((k for k in (bool, int, float) if k in declared), None)
            if kind is not None:
                kinds[_kebab(name)] = kind
    return kinds


LAYER_KEYS = _keys(LayerSettings, LayerOnly)
WORKSPACE_KEYS = _keys(LayerSettings, WorkspaceOptions)
LIST_KEYS = {"python", "arch", "exclude", "layers", "only", "skip"}
SCALAR_TYPES = _scalar_types(LayerSettings, WorkspaceOptions)


class WorkspaceConfig(BaseModel):
    """The validated workspace: where it is, its run options and the layer defaults it sets."""

    model_config = ConfigDict(frozen=True, arbitrary_types_allowed=True)

    root: Path
    source: Path | None  # the file the settings came from (None: defaults only)
    options: WorkspaceOptions
    layer_defaults: dict[str, Any]  # the workspace's explicitly set LayerSettings keys


def read_toml(path: Path) -> dict[str, Any]:
    """Read a TOML file, turning every failure into a one-line ConfigError naming the file."""
    try:
        text = path.read_text("utf-8")
    except FileNotFoundError:
        raise ConfigError(f"{path}: no such file") from None
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read it ({exc.strerror})") from None
    try:
        data: dict[str, Any] = toml_loads(text)
    except TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML: {exc}") from None
    return data


def tool_table(data: Mapping[str, Any], path: Path) -> dict[str, Any]:
    tool = data.get("tool", {})
    if not isinstance(tool, dict):
        raise ConfigError(f"{path}: [tool] must be a table")
    table = tool.get("layerctl", {})
    if not isinstance(table, dict):
        raise ConfigError(f"{path}: [tool.layerctl] must be a table")
    return table


def check_keys(table: Mapping[str, Any], allowed: list[str], where: str, *, hint: str = "") -> None:
    for key in table:
        if key in allowed:
            continue
        guess = difflib.get_close_matches(key, allowed, n=1)
        suggestion = (
            f"; did you mean '{guess[0]}'?" if guess else f"; known keys: {', '.join(sorted(allowed))}"
        )
        raise ConfigError(f"{where}: unknown key {key!r}{suggestion}{hint}")


def validate(
    model: type[_Model],
    table: Mapping[str, Any],
    where: str,
    *,
    label: Callable[[str], str] = repr,
) -> dict[str, Any]:
    """Validate the keys of ``table`` that belong to ``model``; return only those set, by field name.
    ``label`` names a key in errors (the key itself; an environment variable for the environment)."""
    fields = {_kebab(name) for name in model.model_fields}
    subset = {_kebab(k): v for k, v in table.items() if _kebab(k) in fields}
    try:
        parsed = model.model_validate(subset)
    except ValidationError as exc:
        err = exc.errors()[0]
        loc = str(err["loc"][0]) if err["loc"] else "?"
        msg = err["msg"].removeprefix("Value error, ")
        raise ConfigError(f"{where}: {label(loc)}: {msg}") from None
    return {name: getattr(parsed, name) for name in parsed.model_fields_set}


def load_workspace(root: Path) -> WorkspaceConfig:
    """Read the workspace settings from ``layerctl.toml`` or the root ``pyproject.toml``."""
    if not root.is_dir():
        raise ConfigError(f"{root}: no such directory; pass the workspace root with -C")
    dedicated = root / WORKSPACE_FILE
    pyproject = root / "pyproject.toml"
    if dedicated.is_file():
        source, table, where = dedicated, read_toml(dedicated), str(dedicated)
    elif pyproject.is_file():
        source = pyproject
        table = tool_table(read_toml(pyproject), pyproject)
        where = f"{pyproject} [tool.layerctl]"
    else:
        raise ConfigError(
            f"{root}: no pyproject.toml or {WORKSPACE_FILE}; run layerctl in the workspace root "
            "or pass it with -C"
        )
    check_keys(table, WORKSPACE_KEYS, where, hint=" (workspace settings)" if "name" in table else "")
    options = WorkspaceOptions(**validate(WorkspaceOptions, table, where))
    return WorkspaceConfig(
        root=root,
        source=source,
        options=options,
        layer_defaults=validate(LayerSettings, table, where),
    )


def env_overrides(environ: Mapping[str, str] | None = None) -> tuple[dict[str, Any], dict[str, Any]]:
    """``LAYERCTL_*`` variables as (layer settings, workspace options); unknown names are errors."""
    environ = os.environ if environ is None else environ
    raw: dict[str, Any] = {}
    known = {env_name(k): k for k in WORKSPACE_KEYS}
    for var, value in environ.items():
        if not var.startswith(ENV_PREFIX) or var in _ENV_NOT_SETTINGS:
            continue
        if var not in known:
            guess = difflib.get_close_matches(var, list(known), n=1)
            tip = f"; did you mean {guess[0]}?" if guess else ""
            raise ConfigError(f"environment: unknown variable {var}{tip}")
        key = known[var]
        if key in LIST_KEYS:
            raw[key] = [v.strip() for v in value.split(",") if v.strip()]
        elif key in SCALAR_TYPES:
            raw[key] = _parse_scalar(SCALAR_TYPES[key], var, value)
        else:
            raw[key] = value
    return (
        validate(LayerSettings, raw, "environment", label=env_name),
        validate(WorkspaceOptions, raw, "environment", label=env_name),
    )


def env_name(key: str) -> str:
    """The ``LAYERCTL_*`` variable of a setting: ``compression-level`` -> ``LAYERCTL_COMPRESSION_LEVEL``."""
    return ENV_PREFIX + key.upper().replace("-", "_")


_TRUE = frozenset({"1", "true", "yes", "on"})
_FALSE = frozenset({"0", "false", "no", "off"})


def _parse_scalar(kind: type, var: str, text: str) -> bool | int | float:
    """An environment string as the bool, int or float its setting takes."""
    word = text.strip()
    if kind is bool:
        if word.lower() in _TRUE | _FALSE:
            return word.lower() in _TRUE
        raise ConfigError(f"environment: {var}={text!r}: write true or false (or 1 / 0)")
    try:
        return int(word) if kind is int else float(word)
    except ValueError:
        what = "an integer" if kind is int else "a number"
        raise ConfigError(f"environment: {var}={text!r}: not {what}") from None


# Variables with the prefix that are not settings (read elsewhere, never validated as such).
_ENV_NOT_SETTINGS = frozenset({"LAYERCTL_INDEX_USERNAME", "LAYERCTL_INDEX_PASSWORD", "LAYERCTL_DEBUG"})


def cascade(*sources: Mapping[str, Any]) -> LayerSettings:
    """Merge already validated sources, lowest precedence first, into the final settings."""
    merged: dict[str, Any] = {}
    for source in sources:
        merged.update(source)
    return LayerSettings.model_validate(merged)
