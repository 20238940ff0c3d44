"""The settings of a whole run: the workspace's (``WorkspaceOptions``) and a command's own
(``RunFlags``), declared like every setting (see ``settings.py``)."""

from __future__ import annotations

from pathlib import PurePosixPath
from typing import Literal

from pydantic import field_validator

from .cacheurl import cache_url_problem
from .engine_settings import EngineSelection
from .fileio import path_problem
from .settings import BUILD, PUBLISH, SELECT, ListFormat, LogFormat, Model, PullChoice, setting
from .shardspec import check_count, check_spec

__all__ = ["CacheMode", "MatrixFormat", "RunFlags", "WorkspaceOptions"]

CacheMode = Literal["read-write", "read", "off"]
MatrixFormat = Literal["github", "gitlab", "json"]


class WorkspaceOptions(EngineSelection):
    """Settings that only make sense for the whole run."""

    layers: tuple[str, ...] = setting(
        ("layers/*/pyproject.toml",),
        "Where layer projects are, relative to the workspace root (an absolute pattern is an error); a glob may name directories; a path without glob characters must exist.",
    )
    only: tuple[str, ...] = setting(
        (),
        "Build only target ids matching one of these globs (repeat the flag).",
        flag="--only",
        commands=SELECT,
        metavar="GLOB",
        repeated=True,
    )
    skip: tuple[str, ...] = setting(
        (),
        "Never build target ids matching one of these globs (wins over `only`).",
        flag="--skip",
        commands=SELECT,
        metavar="GLOB",
        repeated=True,
    )
    jobs: int | None = setting(
        None,
        "Targets built (or published) at once (default: the number of CPUs).",
        flag="--jobs",
        short="-j",
        commands=BUILD | PUBLISH | {"verify"},
        metavar="N",
        ge=1,
        strict=True,
    )
    keep_going: bool = setting(
        False,
        "Build (and publish) every target even after one failed (else the first failure stops the run).",
        flag="--keep-going",
        short="-k",
        commands=BUILD | PUBLISH,
        strict=True,
    )
    report_dir: str = setting(
        "build/layerctl",
        "Where `report.json`, `report.html` and the run lock are written, strictly inside the workspace root and apart from every layer's `output`.",
    )
    pull: PullChoice = setting(
        "missing",
        "When to pull images (each distinct image once per run).",
        flag="--pull",
        commands=BUILD | {"verify"},
    )
    keep_containers: bool = setting(
        False,
        "Leave build containers behind for debugging (they hold no secret).",
        flag="--keep-containers",
        commands=BUILD,
        strict=True,
    )
    container_network: str | None = setting(
        None,
        "Network of build containers (Docker's network mode): `host` reaches an index or proxy on the host's loopback, `none`, or a network's name.",
        flag="--container-network",
        commands=BUILD,
        metavar="NETWORK",
        pattern=r"^[A-Za-z0-9][A-Za-z0-9_.:-]*$",
    )
    cache_dir: str | None = setting(
        None,
        "pip caches of container builds (default `~/.cache/layerctl`); never the workspace or a layer project.",
    )
    cache_url: str | None = setting(
        None,
        "A build cache shared by runners: `s3://bucket/prefix` (the AWS SDK's credentials, region and `AWS_ENDPOINT_URL`) or a directory (relative to the workspace root; `--cache-url`: to the current directory; a name with a colon: `./a:b`); empty, another URL scheme or a bad bucket name is refused. A target whose input key is there is restored (`cached`), not built.",
        flag="--cache-url",
        commands=BUILD | PUBLISH,
        metavar="URL",
    )
    cache_mode: CacheMode = setting(
        "read-write",
        "How the shared build cache is used: `read-write` (restore hits, store good builds), `read` (restore only: for builds of untrusted code, e.g. pull requests), `off`.",
        flag="--cache-mode",
        commands=BUILD | PUBLISH,
    )
    timeout: float | None = setting(
        None,
        "Seconds one attempt at a target may take before it fails.",
        flag="--timeout",
        commands=BUILD,
        metavar="SECONDS",
        gt=0,
        strict=True,
        allow_inf_nan=False,
    )
    retries: int = setting(
        0,
        "Extra attempts after a transient failure only (network, engine), 1 s, 2 s, 4 s ... apart; also for image pulls.",
        flag="--retries",
        commands=BUILD,
        metavar="N",
        ge=0,
        le=10,
        strict=True,
    )

    @field_validator("report_dir", "cache_dir")
    @classmethod
    def _a_path(cls, value: str | None) -> str | None:
        problem = None if value is None else path_problem(value)
        if problem:
            raise ValueError(problem)
        return value

    runner_x86_64: str = setting(
        "ubuntu-24.04",
        "`layerctl matrix`: the CI runner label of x86_64 shards (`runs-on`; GitLab: `RUNNER`).",
    )
    runner_arm64: str = setting(
        "ubuntu-24.04-arm",
        "`layerctl matrix`: the CI runner label of arm64 shards (`runs-on`; GitLab: `RUNNER`).",
    )

    @field_validator("cache_url")
    @classmethod
    def _cache_url(cls, value: str | None) -> str | None:
        problem = None if value is None else cache_url_problem(value)
        if problem:
            raise ValueError(problem)
        return value

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


class RunFlags(Model):
    """How a command runs and shows its work: the command line and `LAYERCTL_*` only."""

    force: bool = setting(
        False, "Rebuild targets whose inputs have not changed.", flag="--force", commands=BUILD, strict=True
    )
    refresh: bool = setting(
        False,
        "Resolve again: re-export uv and Poetry locks, re-resolve pip layers' pins and re-decide `auto` builders (a target whose set is unchanged stays up to date).",
        flag="--refresh",
        commands=BUILD | {"list"},
        strict=True,
    )
    verify_zips: bool = setting(
        False,
        "Hash every existing layer.zip to confirm it is intact (by default only a zip whose size, mtime or inode changed is hashed).",
        flag="--verify-zips",
        commands=BUILD | {"list"},
        strict=True,
    )
    dry_run: bool = setting(
        False,
        "Build nothing: show each target as `up to date` or `will build` with the reason (as `layerctl list`).",
        flag="--dry-run",
        commands=BUILD,
        strict=True,
    )
    publish: bool = setting(
        False,
        "Publish each target to AWS as soon as its zip is ready (`[tool.layerctl.publish]`).",
        flag="--publish",
        commands=BUILD,
        strict=True,
    )
    wait: bool = setting(
        True,
        "Wait for another layerctl run on the workspace to finish (`--no-wait`: exit 75 at once).",
        flag="--wait",
        commands=BUILD | PUBLISH | {"clean"},
        strict=True,
    )
    log_format: LogFormat = setting(
        "auto",
        "`auto`: github on GitHub Actions, live on a terminal, else plain.",
        flag="--log-format",
        commands=BUILD | PUBLISH,
    )
    quiet: bool = setting(
        False,
        "Show only each target's outcome, failures and the summary.",
        flag="--quiet",
        short="-q",
        commands=BUILD | PUBLISH,
        strict=True,
    )
    verbose: int = setting(
        0,
        "Show each phase of each target (the flag counts: -v).",
        flag="--verbose",
        short="-v",
        commands=BUILD | PUBLISH,
        counted=True,
        ge=0,
        strict=True,
    )
    format: ListFormat = setting(
        "text",
        "Output of `list` (the targets), `publish` (each target's layer version per region) and `engines`.",
        flag="--format",
        commands=PUBLISH | {"list", "engines"},
    )
    decide: bool = setting(
        True,
        "Decide `auto` builders in `list` (a resolution per target; needs the index).",
        flag="--decide",
        commands=frozenset({"list"}),
        strict=True,
    )
    shard: str | None = setting(
        None,
        "Only the K-th of N shards of the selection (`K/N`, as `layerctl matrix` prints them; N at most 1000), or `auto`: GitLab's `CI_NODE_INDEX`/`CI_NODE_TOTAL`.",
        flag="--shard",
        commands=BUILD | {"list"},
        metavar="K/N",
    )
    shards: str = setting(
        "auto",
        "`matrix`: how many shards (a number up to 1000, raised to one per architecture, lowered to one per target), or `auto`: one per 10 minutes of expected cost.",
        flag="--shards",
        commands=frozenset({"matrix"}),
        metavar="N",
    )
    durations: str | None = setting(
        None,
        "A previous `report.json`: its targets' durations weigh the shards and order a build, longest first (else a build goes by the workspace's last report, then an estimate); give `matrix` and `--shard` the same file.",
        flag="--durations",
        commands=BUILD | {"list", "matrix"},
        metavar="PATH",
    )
    matrix_format: MatrixFormat = setting(
        "github",
        "Output of `matrix`: `github` (`strategy.matrix`), `gitlab` (`parallel:matrix`), `json` (a list of shards).",
        flag="--format",
        commands=frozenset({"matrix"}),
    )
    containers: bool = setting(
        False,
        "`clean`: only remove layerctl containers left by runs that are gone.",
        flag="--containers",
        commands=frozenset({"clean"}),
        strict=True,
    )

    @field_validator("shard")
    @classmethod
    def _shard(cls, value: str | None) -> str | None:
        return None if value is None else check_spec(value)

    @field_validator("shards")
    @classmethod
    def _shards(cls, value: str) -> str:
        return check_count(value)
