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
from functools import cached_property
from pathlib import Path
from typing import Any

from ..core.errors import ConfigError
from ..core.run_settings import WorkspaceOptions
from ..core.runtimes import Arch, Runtime, get_runtime
from ..core.settings import ENV_PREFIX, LayerSettings
from ..workspace.config import WorkspaceConfig, cascade
from ..workspace.discovery import Layer
from ..workspace.identity import workspace_id

__all__ = ["Builder", "Plan", "Target", "make_plan", "select", "slug_of"]


class Builder(str, enum.Enum):
    """Where a target is built (``executors``' registry has one module each). The ``builder``
    setting may also say ``auto``: decided per target before the build (``decide.py``)."""

    NATIVE = "native"
    CONTAINER = "container"
    HYBRID = "hybrid"  # native, but what has no wheel is compiled in the target's image first

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
    rebuild_reason: str | None = None  # why it builds (freshness.py); None: not checked or up to date
    # the requirement set the check found (a pip layer's pins reused from its stamp, or resolved
    # once): the decision and the build use it rather than resolving again. None: not checked
    requirements: str | None = None

    @property
    def python(self) -> str:
        return self.runtime.python

    @cached_property  # a target's id and directory are asked for dozens of times in its build
    def variant(self) -> str:
        """The Python and architecture part of the id: ``py3.12-arm64`` (the output directory)."""
        return f"py{self.python}-{self.arch.value}"

    @cached_property
    def id(self) -> str:
        return f"{self.layer.name}:{self.variant}"

    @property
    def slug(self) -> str:
        """The id without ``:`` (``web-py3.12-arm64``): usable as a CI job or artifact name."""
        return slug_of(self.id)

    @property
    def problem(self) -> str | None:
        """Why the target cannot build before it starts: its layer's project cannot be read."""
        return self.layer.problem

    @cached_property
    def out_dir(self) -> Path:
        return self.layer.root / self.settings.output / self.variant

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

    def row(self) -> str:
        """The target's line in ``layerctl list``."""
        if self.problem:
            return f"{self.id:<28} error   {self.problem}"
        reason = f"  ({self.builder_reason})" if self.builder_reason else ""
        return (
            f"{self.id:<28} {self.layer.tool.value:<7} {self.runtime.lambda_runtime:<11} "
            f"{self.runtime.manylinux:<15} {self.builder}{reason}"
        )

    def describe(self) -> dict[str, Any]:
        if self.problem:
            return {"id": self.id, "slug": self.slug, "layer": self.layer.name, "python": self.python,
                    "arch": self.arch.value, "error": self.problem}  # fmt: skip
        return {
            "id": self.id,
            "slug": self.slug,
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
    # (layer name, what was left out of its matrix and why), for `layerctl list`
    left_out: tuple[tuple[str, str], ...] = field(default=())
    env: Mapping[str, Any] = field(default_factory=dict)  # the settings LAYERCTL_* set
    cli: Mapping[str, Any] = field(default_factory=dict)  # the settings flags set
    workspace_id: str = ""  # of every discovered layer, selected or not (``identity.py``)
    shard: str | None = None  # the shard of a CI matrix ("2/4") the run builds (``--shard``)

    def origin(self, name: str, layer: Layer | None = None) -> str:
        """Where a setting's value came from, to name it in an error (``name``: field name)."""
        key = name.replace("_", "-")
        if name in self.cli:
            return f"command line ('{key}')"
        if name in self.env:
            return f"environment: {ENV_PREFIX}{key.upper().replace('-', '_')}"
        if layer is not None and name in layer.settings:
            return f"{layer.pyproject} [tool.layerctl]"
        return str(self.workspace.source or self.workspace.root)


def slug_of(target_id: str) -> str:
    return target_id.replace(":", "-")


def _matches(target_id: str, glob: str) -> bool:
    return fnmatchcase(target_id, glob) or fnmatchcase(slug_of(target_id), glob)


def select(ids: Iterable[str], only: Sequence[str], skip: Sequence[str]) -> list[str]:
    """The ids that match any ``only`` glob (all if none) and no ``skip`` glob: skip wins. A glob
    may be written for the id (``web:py3.12-*``) or its slug (``web-py3.12-*``)."""
    return [
        i
        for i in ids
        if (not only or any(_matches(i, g) for g in only)) and not any(_matches(i, g) for g in skip)
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
    left_out: list[tuple[str, str]] = []
    requested = {**(env_settings or {}), **(cli_settings or {})}
    for layer in layers:
        if layer_names and layer.name not in layer_names:
            continue
        overrides, dropped = _within_own_lists(layer.settings, requested)
        left_out += [(layer.name, why) for why in dropped]
        if overrides is None:
            continue  # nothing requested is something the layer supports
        settings = cascade(workspace.layer_defaults, layer.settings, overrides)
        for python in settings.python:
            if layer.requires_python and not layer.requires_python.contains(python + ".0", prereleases=True):
                left_out.append(
                    (layer.name, f"Python {python} left out (outside the layer's requires-python "
                                 f"{layer.requires_python})")
                )  # fmt: skip
                continue
            for arch in settings.arch:
                targets.append(Target(layer=layer, runtime=get_runtime(python), arch=arch, settings=settings))
    chosen = set(select([t.id for t in targets], options.only, options.skip))
    return Plan(
        workspace=workspace,
        options=options,
        env={**(env_settings or {}), **(env_options or {})},
        cli={**(cli_settings or {}), **(cli_options or {})},
        targets=tuple(t for t in targets if t.id in chosen),
        left_out=tuple(left_out),
        workspace_id=workspace_id(workspace.root, layers),
    )


def _within_own_lists(
    own: Mapping[str, Any], requested: Mapping[str, Any]
) -> tuple[dict[str, Any] | None, list[str]]:
    """The environment's and command line's settings for one layer: a ``python`` or ``arch`` list
    the layer sets itself is what it supports, so a requested list selects within it (it never
    adds to it). None when nothing requested is supported; and what was left out, and why."""
    overrides, dropped = dict(requested), []
    for key, label in (("python", "Python {}"), ("arch", "{}")):
        supported, asked = own.get(key), requested.get(key)
        if supported is None or asked is None:
            continue
        listed = ", ".join(str(v) for v in supported)
        for value in asked:
            if value not in supported:
                dropped.append(f"{label.format(value)} left out (the layer's own {key} list is {listed})")
        kept = tuple(v for v in asked if v in supported)
        if not kept:
            return None, dropped
        overrides[key] = kept
    return overrides, dropped
