"""One error hierarchy: every error a user can cause or meet carries a one-line message and an
exit code. Library errors (OSError, subprocess failures, pydantic) are translated at the
boundary so the CLI never shows a traceback for a user mistake."""

from __future__ import annotations

__all__ = [
    "EXIT_BUG",
    "EXIT_BUILD_FAILED",
    "EXIT_ENVIRONMENT",
    "EXIT_INTERRUPTED",
    "EXIT_OK",
    "EXIT_USAGE",
    "AuditError",
    "BuildError",
    "ConfigError",
    "EnvironmentProblem",
    "LayerctlError",
    "NoCompatibleWheel",
    "PackageError",
    "ReportError",
    "ResolveError",
]

EXIT_OK = 0
EXIT_BUILD_FAILED = 1  # at least one target failed
EXIT_USAGE = 2  # bad configuration, flags or project files
EXIT_ENVIRONMENT = 3  # a tool or service layerctl needs is missing or unreachable
EXIT_BUG = 70  # an unexpected error: a bug in layerctl (EX_SOFTWARE)
EXIT_INTERRUPTED = 130  # SIGINT / SIGTERM


class LayerctlError(Exception):
    """Base of every error layerctl reports to a user."""

    exit_code: int = EXIT_BUILD_FAILED

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def __str__(self) -> str:
        return self.message


class ConfigError(LayerctlError):
    """The workspace, a layer project or a flag is wrong; the message names the file and field."""

    exit_code = EXIT_USAGE


class EnvironmentProblem(LayerctlError):
    """Something layerctl needs on this machine is missing (a tool, an engine, an interpreter)."""

    exit_code = EXIT_ENVIRONMENT


class ReportError(LayerctlError):
    """The run report could not be written (a read-only report-dir, a full disk). The builds are
    done by then: a run whose targets failed or was interrupted keeps its own exit code."""

    exit_code = EXIT_ENVIRONMENT


class BuildError(LayerctlError):
    """One target failed; the scheduler records it and carries on or stops the run.
    ``transient``: the failure was the engine's or the network's (worth a retry)."""

    def __init__(self, message: str, *, transient: bool = False) -> None:
        super().__init__(message)
        self.transient = transient


class ResolveError(BuildError):
    """The lock or dependency list could not be turned into a requirement set."""


class NoCompatibleWheel(BuildError):
    """A dependency has no wheel for the target platform: only a container build can make it."""

    def __init__(self, message: str, package: str) -> None:
        super().__init__(message)
        self.package = package


class AuditError(BuildError):
    """A binary in the layer would not run on the target (wrong machine or too new a glibc)."""


class PackageError(BuildError):
    """The layer could not be zipped (for example it exceeds Lambda's size limit)."""
