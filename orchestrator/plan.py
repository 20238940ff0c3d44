"""Planning: workspace + layers + overrides -> the list of build targets. Pure: no I/O here.

A target is one (layer x Python x architecture) with a canonical id such as ``web:py3.12-arm64``,
the one key used for logs, output paths, selection, cache stamps and reports.
"""

from __future__ import annotations

import difflib
import enum
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from fnmatch import fnmatchcase
from pathlib import Path
from typing import Any

from .config import WorkspaceConfig, cascade
from .discovery import Layer
from .errors import ConfigError
from .run_settings import WorkspaceOptions
from .runtimes import Arch, Runtime, get_runtime
from .settings import LayerSettings

__all__ = ["Builder", "Plan", "Target", "make_plan", "select"]


class Builder(str, enum.Enum):
    """Where a target is built (``executors``' registry has one module each). The ``builder``
    setting may also say ``auto``: decided per target before the build (``decide.py``)."""

    NATIVE = "native"
    CONTAINER = "container"

    def __str__(self) -> str:
        return self.value


@dataclass(frozen=True, kw_only=True)
class Target:
    layer: Layer
    runtime: Runtime
    arch: Arch
    settings: LayerSettings
    decided: Builder | None = None  # the builder this target builds with, once decided
    builder_reason: str | None = None  # why this builder

    @property
    def python(self) -> str:
        return self.runtime.python

    @property
    def slug(self) -> str:
        return f"py{self.python}-{self.arch}"

    @property
    def id(self) -> str:
        return f"{self.layer.name}:{self.slug}"

    @property
    def out_dir(self) -> Path:
        return self.layer.root / self.settings.output / self.slug

    @property
    def builder(self) -> str:
        """The decided builder, else the setting (``auto`` until decided)."""
        return self.decided.value if self.decided else self.settings.builder

    @property
    def build_image(self) -> str:
        """The image container builds run in (the `image` template, else the SAM build image)."""
        return (self.settings.image or self.runtime.build_image).format(
            python=self.python, arch=self.arch.value
        )

    @property
    def verify_image(self) -> str:
        """The image `layerctl verify` imports the layer in (default: the Lambda runtime image)."""
        template = self.settings.verify_image or self.runtime.runtime_image
        return template.format(python=self.python, arch=self.arch.value)

    def describe(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "layer": self.layer.name,
            "python": self.python,
            "arch": self.arch.value,
            "tool": self.layer.tool.value,
            "builder": self.builder,
            "builder_reason": self.builder_reason,
            "lambda_runtime": self.runtime.lambda_runtime,
            "manylinux": self.runtime.manylinux,
            "image": self.build_image,
            "output": str(self.out_dir),
        }


@dataclass(frozen=True, kw_only=True)
class Plan:
    workspace: WorkspaceConfig
    options: WorkspaceOptions
    targets: tuple[Target, ...]
    # (layer name, python) pairs dropped because the layer's requires-python excludes them
    incompatible: tuple[tuple[str, str], ...] = field(default=())


def select(ids: Iterable[str], only: Sequence[str], skip: Sequence[str]) -> list[str]:
    """The ids that match any ``only`` glob (all if none) and no ``skip`` glob: skip wins."""
    return [
        i
        for i in ids
        if (not only or any(fnmatchcase(i, g) for g in only)) and not any(fnmatchcase(i, g) for g in skip)
    ]


def make_plan(
    workspace: WorkspaceConfig,
    layers: Sequence[Layer],
    *,
    env_settings: Mapping[str, Any] | None = None,
    env_options: Mapping[str, Any] | None = None,
    cli_settings: Mapping[str, Any] | None = None,
    cli_options: Mapping[str, Any] | None = None,
    layer_names: Sequence[str] = (),
) -> Plan:
    options = workspace.options.model_copy(update={**(env_options or {}), **(cli_options or {})})
    known = [layer.name for layer in layers]
    for name in layer_names:
        if name not in known:
            guess = difflib.get_close_matches(name, known, n=1)
            tip = f"; did you mean '{guess[0]}'?" if guess else f"; layers: {', '.join(known)}"
            raise ConfigError(f"no layer named '{name}'{tip}")
    targets: list[Target] = []
    incompatible: list[tuple[str, str]] = []
    for layer in layers:
        if layer_names and layer.name not in layer_names:
            continue
        settings = cascade(workspace.layer_defaults, layer.settings, env_settings or {}, cli_settings or {})
        for python in settings.python:
            if layer.requires_python and not layer.requires_python.contains(python + ".0", prereleases=True):
                incompatible.append((layer.name, python))
                continue
            for arch in settings.arch:
                targets.append(Target(layer=layer, runtime=get_runtime(python), arch=arch, settings=settings))
    chosen = set(select([t.id for t in targets], options.only, options.skip))
    return Plan(
        workspace=workspace,
        options=options,
        targets=tuple(t for t in targets if t.id in chosen),
        incompatible=tuple(incompatible),
    )
