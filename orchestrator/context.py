"""What every target of a run shares: the workspace, credentials and their masker, the run's
policy (force, per-attempt timeout, retries) and its in-repo wheels."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from .errors import ConfigError
from .localwheels import LocalWheels
from .plan import Target
from .secrets import Credentials, Masker, index_url_with_credentials

__all__ = ["BuildContext", "ca_bundle_path"]


@dataclass(frozen=True, kw_only=True)
class BuildContext:
    workspace: Path
    credentials: Credentials = field(default_factory=Credentials)
    masker: Masker = field(default_factory=Masker)
    force: bool = False
    timeout_s: float | None = None  # per target attempt
    retries: int = 0  # extra attempts after a transient failure
    local: LocalWheels = field(default_factory=LocalWheels)  # the run's in-repo projects and wheels

    def index_url(self, target: Target) -> str | None:
        return index_url_with_credentials(target.settings.index_url, self.credentials)

    def ca_bundle(self, target: Target) -> Path | None:
        return ca_bundle_path(self.workspace, target.settings.ca_bundle)


def ca_bundle_path(workspace: Path, value: str | None) -> Path | None:
    if value is None:
        return None
    path = (workspace / value).resolve()
    if not path.is_file():
        raise ConfigError(f"ca-bundle {value}: no such file (relative paths start at {workspace})")
    return path
