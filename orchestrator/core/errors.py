"""One error hierarchy: every error a user can cause or meet carries a one-line message and an
exit code. Library errors (OSError, subprocess failures, pydantic) are translated at the
boundary so the CLI never shows a traceback for a user mistake. A message or hint is masked
when the error is made (``redact.mask_urls``: no ``user:password@`` of a URL it quotes survives),
so no path that shows, logs or reports an error can leak one."""

from __future__ import annotations

from .redact import mask_urls

__all__ = [
    "EXIT_BUG",
    "EXIT_BUILD_FAILED",
    "EXIT_BUSY",
    "EXIT_ENVIRONMENT",
    "EXIT_INTERRUPTED",
    "EXIT_OK",
    "EXIT_PUBLISH",
    "EXIT_USAGE",
    "AuditError",
    "BuildError",
    "ConfigError",
    "EnvironmentProblem",
    "LayerctlError",
    "NoCompatibleWheel",
    "PackageError",
    "PublishError",
    "ReportError",
    "ResolveError",
    "TargetTimeout",
    "WorkspaceBusy",
    "error_code",
]

EXIT_OK = 0
EXIT_BUILD_FAILED = 1  # at least one target failed
EXIT_USAGE = 2  # bad configuration, flags or project files
EXIT_ENVIRONMENT = 3  # a tool or service layerctl needs is missing or unreachable
EXIT_PUBLISH = 4  # every target built, but AWS refused or could not be reached when publishing
EXIT_BUG = 70  # an unexpected error: a bug in layerctl (EX_SOFTWARE)
EXIT_BUSY = 75  # another run holds the workspace and --no-wait was given (EX_TEMPFAIL: try later)
EXIT_INTERRUPTED = 130  # SIGINT / SIGTERM


class LayerctlError(Exception):
    """Base of every error layerctl reports to a user: a one-line message, the exit code it
    ends a command with, whether trying again may help, and what to do about it."""

    exit_code: int = EXIT_BUILD_FAILED
    hint: str | None = None  # what to do, when the class (or the instance) knows
    transient: bool = False  # the network's or the engine's bad moment: worth a retry

    def __init__(self, message: str, *, hint: str | None = None, transient: bool | None = None) -> None:
        message = mask_urls(message)
        super().__init__(message)
        self.message = message
        if hint is not None:
            self.hint = mask_urls(hint)
        if transient is not None:
            self.transient = transient

    def __str__(self) -> str:
        return self.message


class ConfigError(LayerctlError):
    """The workspace, a layer project or a flag is wrong; the message names the file and field."""

    exit_code = EXIT_USAGE


class WorkspaceBusy(LayerctlError):
    """Another layerctl run holds the workspace's run lock and the user asked not to wait."""

    exit_code = EXIT_BUSY


class EnvironmentProblem(LayerctlError):
    """Something layerctl needs on this machine is missing (a tool, an engine, an interpreter)."""

    exit_code = EXIT_ENVIRONMENT


class ReportError(LayerctlError):
    """The run report could not be written (a read-only report-dir, a full disk). The builds are
    done by then: a run whose targets failed or was interrupted keeps its own exit code."""

    exit_code = EXIT_ENVIRONMENT


class BuildError(LayerctlError):
    """One target failed; the scheduler records it and carries on or stops the run."""


class TargetTimeout(BuildError):
    """An attempt at a target took longer than ``--timeout``."""

    hint = "the target took longer than --timeout: raise it, or look at the log for where it stalled"


class ResolveError(BuildError):
    """The lock or dependency list could not be turned into a requirement set; ``output``: what
    the resolving tool printed, for the target's log (its hint is read from there)."""

    def __init__(self, message: str, *, output: tuple[str, ...] = (), hint: str | None = None) -> None:
        super().__init__(message, hint=hint)
        self.output = output


class NoCompatibleWheel(BuildError):
    """A dependency has no wheel for the target platform: only a container build can make it."""

    hint = "build it in the Lambda build image: --builder container (or auto, the default)"

    def __init__(self, message: str, package: str) -> None:
        super().__init__(message)
        self.package = package


class AuditError(BuildError):
    """A binary in the layer would not run on the target (wrong machine or too new a glibc)."""


class PackageError(BuildError):
    """The layer could not be zipped (for example it exceeds Lambda's size limit)."""


class PublishError(LayerctlError):
    """Publishing a target to one region failed: AWS refused (no credentials, access denied, a
    missing bucket or one in another region) or could not be reached after the SDK's retries.
    The message names the target, the region and AWS's error code."""

    exit_code = EXIT_PUBLISH


def error_code(exc: BaseException) -> str | None:
    """AWS's error code of a botocore error (``ClientError``), else None: read by publishing
    (``publish/aws.py``) and by the S3 build cache (``build/buildcache/s3.py``)."""
    response = getattr(exc, "response", None)
    if isinstance(response, dict):
        code = response.get("Error", {}).get("Code")
        return str(code) if code else None
    return None
