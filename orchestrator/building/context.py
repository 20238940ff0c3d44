"""What every target of a run shares: the workspace, credentials and their masker, the run's
policy (force, per-attempt timeout, retries), its in-repo wheels and its build caches."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from ..core.errors import ConfigError
from ..core.fileio import path_problem
from ..core.secrets import Credentials, IndexUrls, Masker, index_urls
from ..core.tools import uv_environment
from ..plan.targets import Target
from .buildcache.caches import BuildCaches
from .localwheels import LocalWheels

__all__ = ["BuildContext", "ca_bundle_path"]


@dataclass(frozen=True, kw_only=True)
class BuildContext:
    workspace: Path
    credentials: Credentials = field(default_factory=Credentials)
    masker: Masker = field(default_factory=Masker)
    force: bool = False
    verify_zips: bool = False  # hash every stamped zip, not only those whose size/mtime/inode differ
    timeout_s: float | None = None  # per target attempt
    retries: int = 0  # extra attempts after a transient failure
    local: LocalWheels = field(default_factory=LocalWheels)  # the run's in-repo projects and wheels
    caches: BuildCaches = field(default_factory=BuildCaches)  # where builds are found and kept
    # uv's environment by index URLs and CA bundle: the run's environment is read once, not per target
    _envs: dict[tuple[object, ...], dict[str, str]] = field(
        default_factory=dict, init=False, repr=False, compare=False
    )

    def indexes(self, target: Target) -> IndexUrls:
        """The target's indexes with their credentials: layerctl's setting and its tool's."""
        return index_urls(target.settings.index_url, target.layer.indexes, self.credentials)

    def index_url(self, target: Target) -> str | None:
        return self.indexes(target).default

    def extra_index_urls(self, target: Target) -> tuple[str, ...]:
        return self.indexes(target).extra

    def ca_bundle(self, target: Target) -> Path | None:
        return ca_bundle_path(self.workspace, target.settings.ca_bundle)

    def uv_env(self, target: Target) -> dict[str, str]:
        """uv's environment for resolving the target: its indexes, credentials and CA bundle."""
        urls, ca_bundle = self.indexes(target), self.ca_bundle(target)
        key = (urls.default, urls.extra, ca_bundle)
        if key not in self._envs:
            self._envs[key] = uv_environment(urls.default, ca_bundle, extra_index_urls=urls.extra)
        return dict(self._envs[key])


def ca_bundle_path(workspace: Path, value: str | None) -> Path | None:
    if value is None:
        return None
    problem = path_problem((workspace / value).absolute())
    if problem:
        raise ConfigError(f"ca-bundle {value[:80]!r}: {problem}")
    path = (workspace / value).resolve()
    if not path.is_file():
        raise ConfigError(f"ca-bundle {value}: no such file (relative paths start at {workspace})")
    return path
