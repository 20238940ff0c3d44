"""Every setting of layerctl, declared once: its type, default, constraints and help, and where
it may be set (the model it belongs to), with its command-line flag. ``config.py`` reads them
from files and the environment; ``options.py`` makes the flags and the reference table.

    LayerSettings     workspace, layer, LAYERCTL_* env, command line
    LayerOnly         the layer's own [tool.layerctl]
    WorkspaceOptions  workspace, LAYERCTL_* env, command line   (run_settings.py)
    RunFlags          LAYERCTL_* env, command line               (run_settings.py)
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from pydantic import field_validator

from .declare import (
    BUILD,
    ENV_PREFIX,
    NAME_PATTERN,
    PUBLISH,
    SELECT,
    BuilderChoice,
    ListFormat,
    LogFormat,
    Model,
    PullChoice,
    ToolChoice,
    kebab,
    output_settings,
    setting,
)
from .fileio import path_problem
from .runtimes import Arch, supported_pythons
from .templates import check_template

__all__ = [
    "BUILD",
    "ENV_PREFIX",
    "NAME_PATTERN",
    "PUBLISH",
    "SELECT",
    "BuilderChoice",
    "LayerOnly",
    "LayerSettings",
    "ListFormat",
    "LogFormat",
    "Model",
    "PullChoice",
    "ToolChoice",
    "kebab",
    "output_settings",
    "setting",
]


class LayerSettings(Model):
    """Settings that may differ per layer; the workspace sets their defaults."""

    python: tuple[str, ...] = setting(
        ("3.12",),
        'Python versions: "3.10" ... "3.14" (write them as strings; comma-separated on the command line).',
        flag="--python",
        commands=SELECT,
        metavar="VERSIONS",
        listed=True,
        output=False,  # python, arch: the key takes the target's own
    )
    arch: tuple[Arch, ...] = setting(
        (Arch.X86_64, Arch.ARM64),
        "Architectures: x86_64, arm64 (amd64 and aarch64 accepted).",
        flag="--arch",
        commands=SELECT,
        metavar="ARCHES",
        listed=True,
        output=False,
    )
    tool: ToolChoice = setting(  # the set it gives is keyed, not who gave it
        "auto", "Who manages the dependencies; `auto` detects it from the lock file.", output=False
    )
    builder: BuilderChoice = setting(
        "auto",
        "Where targets build: `auto` decides per target (native when every dependency has a wheel, else `hybrid`: only what has none is compiled in the target's image); `container` installs everything with pip in the image (slower, full parity with the SAM image).",
        flag="--builder",
        commands=BUILD | {"list"},
        output=False,  # the key takes the builder decided for the target
    )
    exclude: tuple[str, ...] = setting(
        (),
        'Paths (gitignore-style patterns, relative to `python/`) left out of the zip, e.g. `["*.pyi", "numpy/tests/"]`; a pattern git would refuse is an error when the settings are read.',
        output=True,
    )
    exclude_runtime_provided: bool = setting(
        False,
        "Leave out what every Lambda Python runtime ships: boto3, botocore, s3transfer, jmespath (their packages, `.dist-info` and `.libs`).",
        strict=True,
        output=True,
    )
    include_project: bool = setting(
        False,
        "Install the layer project itself (its own package, built into a wheel with its build backend) into the layer, beside its dependencies.",
        strict=True,
        output=True,
    )
    extras: tuple[str, ...] = setting(
        (),
        'Optional dependencies (`[project.optional-dependencies]`) the layer installs too, e.g. `["fast"]`.',
        output=True,
    )
    groups: tuple[str, ...] = setting(
        (),
        'Dependency groups the layer installs besides the main dependencies: `[dependency-groups]` (uv, pip) or `[tool.poetry.group.<name>]` (Poetry), e.g. `["aws"]`; none by default (never `dev` unless named).',
        output=True,
    )
    output: str = setting(
        "build/lambda/layer",
        "Where the layer's targets are written: strictly inside the layer project, no `..`, no symlink on the way, and a new, empty or layerctl-made (marked) directory.",
        output=False,
    )
    bytecode: bool = setting(
        False,
        "Precompile `.pyc` files (`unchecked-hash`) when an interpreter of the target's version is available.",
        strict=True,
        output=True,
    )
    compression_level: int = setting(
        6,
        "zlib level of the zip; 0 stores. 6 is within 0.1% of `zip -9`'s size at a fraction of its time.",
        ge=0,
        le=9,
        strict=True,
        output=True,
    )
    image: str | None = setting(
        None,
        "Container build image; `{python}` and `{arch}` are replaced (`x86_64`/`arm64`), plain placeholders only (no `{python.x}`, `{arch:>9}`); may pin a digest (`...@sha256:...`). Default: the SAM build image of the runtime table.",
        output=False,  # a container target is keyed by its image's digest, a native one not at all
    )
    verify_image: str | None = setting(
        None,
        "Image template `layerctl verify` imports the layer in (`{python}`, `{arch}` as for `image`); default: the Lambda runtime image.",
        flag="--image",
        commands=frozenset({"verify"}),
        metavar="TEMPLATE",
        output=False,
    )
    index_url: str | None = setting(
        None,
        "PEP 503 simple index for native and container builds. No credentials here: `LAYERCTL_INDEX_USERNAME` / `LAYERCTL_INDEX_PASSWORD`.",
        flag="--index-url",
        commands=BUILD | {"list"},
        metavar="URL",
        output=False,  # where packages come from: the set (with hashes) says what is installed
    )
    ca_bundle: str | None = setting(
        None,
        "Extra CA bundle (PEM) for the index; relative to the workspace root (`--ca-bundle`: to the current directory).",
        flag="--ca-bundle",
        commands=BUILD | {"list"},
        metavar="PEM",
        output=False,
    )

    @field_validator("image", "verify_image")
    @classmethod
    def _image_template(cls, value: str | None) -> str | None:
        return None if value is None else check_template(value, ("python", "arch"))

    @field_validator("output", "ca_bundle")
    @classmethod
    def _a_path(cls, value: str | None) -> str | None:
        problem = None if value is None else path_problem(value)
        if problem:
            raise ValueError(problem)
        return value

    @field_validator("index_url")
    @classmethod
    def _index_without_credentials(cls, value: str | None) -> str | None:
        if value is not None:
            if any(ord(c) < 0x21 or ord(c) == 0x7F for c in value):
                raise ValueError("must be a URL without spaces or control characters (a NUL, a newline)")
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
        return tuple((Arch.from_name(i) or i) if isinstance(i, str) else i for i in items)

    @field_validator("arch")
    @classmethod
    def _some_arch(cls, value: tuple[Arch, ...]) -> tuple[Arch, ...]:
        if not value:
            raise ValueError("name at least one architecture (x86_64, arm64)")
        return tuple(dict.fromkeys(value))

    @field_validator("exclude")
    @classmethod
    def _gitignore_patterns(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        if not value:
            return value
        # pathspec (6 ms to import) is imported when there is a pattern to check, not at start-up
        from pathspec import GitIgnoreSpec

        for pattern in value:  # compiled as package.py compiles them, so a bad one fails here
            try:
                GitIgnoreSpec.from_lines([pattern])
            except ValueError as exc:
                raise ValueError(f"{pattern!r} is not a valid gitignore-style pattern ({exc})") from None
        return value

    @field_validator("extras", "groups")
    @classmethod
    def _names(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        for name in value:
            if not re.fullmatch(NAME_PATTERN, name):
                raise ValueError(f"{name!r} is not a name (letters, digits, '.', '_' and '-')")
        return tuple(dict.fromkeys(value))

    @field_validator("output")
    @classmethod
    def _relative_output(cls, value: str) -> str:
        if not value or Path(value).is_absolute() or ".." in Path(value).parts:
            raise ValueError("must be a relative path inside the layer project, e.g. build/lambda/layer")
        return value


class LayerOnly(Model):
    """Settings only a layer's own `[tool.layerctl]` may set."""

    name: str | None = setting(
        None,
        "The layer's name in target ids (default: the directory name; for a workspace root that is its own layer, its project's name first): letters, digits, `.`, `_`, `-`, starting with a letter or digit; a directory name that breaks this rule is an error until the layer sets `name`.",
        pattern=NAME_PATTERN,
    )
