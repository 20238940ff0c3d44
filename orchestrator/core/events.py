"""Events flowing from builds to reporters. Library code never prints: it emits these."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, field_validator

from .. import __version__
from .redact import mask_urls

__all__ = [
    "GOOD",
    "SCHEMA",
    "Emit",
    "Event",
    "LogLines",
    "Notice",
    "PackageSize",
    "Phase",
    "PhaseStarted",
    "PublishResult",
    "PublishStatus",
    "Published",
    "ReportPart",
    "RunFinished",
    "RunReport",
    "RunStarted",
    "Status",
    "TargetFinished",
    "TargetResult",
    "TargetStarted",
    "TargetWarning",
]

Status = Literal["built", "up-to-date", "cached", "failed", "cancelled", "not-run"]
GOOD: frozenset[str] = frozenset({"built", "up-to-date", "cached"})  # a zip to report, publish, verify
Phase = Literal["resolving", "pulling", "installing", "auditing", "compiling", "zipping"]
PublishStatus = Literal["published", "unchanged", "failed"]


class PublishResult(BaseModel):
    """A target's zip in one region: a new layer version, the current one, or why it failed."""

    model_config = ConfigDict(frozen=True)

    region: str
    status: PublishStatus
    layer_name: str
    version: int | None = None
    arn: str | None = None  # the layer version's ARN (new or existing)
    uploaded: bool = False  # the zip was sent (to S3 or directly) in this run
    shared: list[str] = []  # statement ids added to the version's policy in this run
    pruned: list[int] = []  # versions deleted by `keep` in this run
    error: str | None = None  # one line: target, region, AWS error code
    exit_code: int | None = None
    hint: str | None = None

    @field_validator("error", "hint")
    @classmethod
    def _masked(cls, value: Any) -> Any:
        return _mask(value)


def _mask(value: Any) -> Any:
    """A row's words with the credentials of any URL in them masked (``redact.mask_urls``): what
    reporters show and report.json keeps, whoever made the row."""
    if isinstance(value, str):
        return mask_urls(value)
    if isinstance(value, list):
        return [mask_urls(item) if isinstance(item, str) else item for item in value]
    return value


class PackageSize(BaseModel):
    """One package of a layer and the room it takes unzipped (what counts against Lambda's limit)."""

    model_config = ConfigDict(frozen=True)

    name: str
    version: str | None = None  # None: files no installed distribution's RECORD lists
    size: int
    files: int


class TargetResult(BaseModel):
    """What happened to one target: the row of the run report."""

    model_config = ConfigDict(frozen=True)

    id: str
    slug: str | None = None  # the id without ':' (web-py3.12-arm64), for CI job and artifact names
    layer: str
    python: str
    arch: str
    tool: str
    builder: str
    builder_reason: str | None = None
    rebuild_reason: str | None = None  # why it was built: never built, requirements changed (...), --force
    status: Status
    cache: str | None = None  # cached: the shared build cache it was restored from (its name, masked)
    started_at: float | None = None  # Unix time the build started (the report's timeline)
    duration_s: float = 0.0
    phases_s: dict[str, float] = {}  # in the order they ran, back to back from started_at
    attempts: int = 1
    zip_path: str | None = None
    files: int | None = None
    unzipped_size: int | None = None
    zipped_size: int | None = None
    sha256: str | None = None
    largest: list[PackageSize] = []  # its largest packages, largest first (also of a layer too large)
    elf_files: int | None = None
    max_glibc: str | None = None
    image: str | None = None
    image_id: str | None = None
    engine: str | None = None  # the Docker engine a container build ran on ([tool.layerctl.engines])
    tool_versions: dict[str, str] = {}
    warnings: list[str] = []
    error: str | None = None
    exit_code: int | None = None  # of a failure: 1 the target's own, 3 this machine's (engine, image, QEMU)
    hint: str | None = None  # what to do about a known cause of failure
    error_file: str | None = None  # the file (relative to the workspace) and line the failure is about
    error_line: int | None = None
    log_tail: list[str] = []  # the last lines of the log of a failed target
    log: str | None = None
    publish: list[PublishResult] = []  # one per region, when the run publishes

    @field_validator("builder_reason", "rebuild_reason", "cache", "warnings", "error", "hint", "log_tail")
    @classmethod
    def _masked(cls, value: Any) -> Any:
        return _mask(value)


SCHEMA = "layerctl-report/3"


class ReportPart(BaseModel):
    """One report merged into a report (``layerctl report --merge``): a CI matrix's shard."""

    label: str  # its shard ("2/4") when its report records one, else its file's name
    file: str  # the part's report.json as given
    started_at: str
    duration_s: float
    jobs: int
    exit_code: int
    interrupted: bool
    targets: list[str]  # the ids of its rows


class RunReport(BaseModel):
    """report.json: the run and one row per target (schema in docs/reference.md)."""

    schema_: str = SCHEMA
    layerctl: str = __version__
    started_at: str
    duration_s: float
    workspace: str
    # the same workspace wherever it is checked out: its root's name and a digest of its layers
    # (``identity.workspace_id``); None in reports older than layerctl-report/3
    workspace_id: str | None = None
    shard: str | None = None  # the run's shard of the matrix ("2/4"), when it built one
    jobs: int
    exit_code: int
    interrupted: bool
    counts: dict[str, int]
    targets: list[TargetResult]
    parts: list[ReportPart] = []  # a merged report's parts, in the order merged


@dataclass(frozen=True)
class RunStarted:
    targets: tuple[str, ...]
    jobs: int
    doing: str = "building"  # what the run does to its targets, for the first line


@dataclass(frozen=True)
class Notice:
    """Run-level progress that belongs to no target (image pulls, probes, decisions)."""

    message: str

    def __post_init__(self) -> None:
        object.__setattr__(self, "message", mask_urls(self.message))


@dataclass(frozen=True)
class TargetStarted:
    target: str
    builder: str


@dataclass(frozen=True)
class PhaseStarted:
    target: str
    phase: Phase


@dataclass(frozen=True)
class LogLines:
    """Lines of a target's log, in order: as many as arrived together (one read of the pipe)."""

    target: str
    lines: tuple[str, ...]


@dataclass(frozen=True)
class TargetWarning:
    target: str
    message: str

    def __post_init__(self) -> None:
        object.__setattr__(self, "message", mask_urls(self.message))


@dataclass(frozen=True)
class TargetFinished:
    result: TargetResult


@dataclass(frozen=True)
class Published:
    """A target's zip was published (or found current, or failed) in each region."""

    target: str
    results: tuple[PublishResult, ...]


@dataclass(frozen=True)
class RunFinished:
    results: tuple[TargetResult, ...]
    duration_s: float


Event = (
    RunStarted
    | Notice
    | TargetStarted
    | PhaseStarted
    | LogLines
    | TargetWarning
    | TargetFinished
    | Published
    | RunFinished
)
Emit = Callable[[Event], Awaitable[None]]
