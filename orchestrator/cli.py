"""The ``layerctl`` command line: typer wiring, flag parsing and exit codes only."""

from __future__ import annotations

import functools
import json
import os
import sys
import traceback
from collections.abc import Callable, Iterable, Iterator
from contextlib import AbstractContextManager
from dataclasses import replace
from pathlib import Path
from typing import Annotated, Any, TextIO, TypeVar, cast, get_args

import anyio
import typer

from . import __version__
from .config import LayerSettings, WorkspaceOptions, env_overrides, load_workspace, validate
from .discovery import discover_layers
from .errors import (
    EXIT_BUG,
    EXIT_ENVIRONMENT,
    EXIT_INTERRUPTED,
    EXIT_USAGE,
    ConfigError,
    LayerctlError,
)
from .outputs import MARKER, check_inside, claim_report_dir, clean_output_dir, clean_report_dir, report_dir
from .plan import Plan, make_plan
from .reporters import LogFormat, make_reporter
from .reporters.plain import PlainReporter
from .run import decide as decide_targets
from .run import report_path, run_plan
from .runlock import LOCK_NAME, workspace_lock
from .scheduler import default_jobs
from .secrets import Credentials
from .verify import verify_targets

if sys.version_info < (3, 11):
    from exceptiongroup import BaseExceptionGroup

__all__ = ["app", "main"]

app = typer.Typer(
    name="layerctl",
    help="Build AWS Lambda layers for a whole monorepo: every layer x Python x architecture, at once.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)

F = TypeVar("F", bound=Callable[..., Any])


# Raised by typer/click to end a command or show its usage: theirs to handle, not errors of ours.
_CLI_CONTROL = (typer.Exit, typer.Abort, typer.BadParameter)
_DEBUG_KEY = "layerctl.debug"


def _user_errors(func: F) -> F:
    """The error boundary of a command: a LayerctlError is one line on stderr and its exit code;
    anything else is one line saying it is a bug (exit 70), with the traceback under --debug."""

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        meta = getattr(kwargs.get("ctx"), "meta", None)  # the root's --debug (contexts share meta)
        debug = bool(meta and meta.get(_DEBUG_KEY))
        try:
            return func(*args, **kwargs)
        except (*_CLI_CONTROL, SystemExit, GeneratorExit):
            raise
        except BaseException as exc:
            raise typer.Exit(_fail(exc, debug=debug)) from None

    return wrapper  # type: ignore[return-value]


def _fail(exc: BaseException, *, debug: bool) -> int:
    """Print what went wrong in one line on stderr; return the exit code."""
    real = _real_error(exc)
    if isinstance(real, KeyboardInterrupt):
        _error_line("layerctl: interrupted")
        return EXIT_INTERRUPTED
    if isinstance(real, LayerctlError):
        if debug:
            _print_traceback(exc)
        _error_line(f"layerctl: error: {real.message}")
        return real.exit_code
    if debug or os.environ.get("LAYERCTL_DEBUG", "").strip().lower() in ("1", "true", "yes", "on"):
        _print_traceback(exc)
    detail = f"{type(real).__name__}: {real}" if str(real) else type(real).__name__
    _error_line(
        f"layerctl: error: this is a bug in layerctl, please report it: {detail} "
        "(--debug or LAYERCTL_DEBUG=1 shows the traceback)"
    )
    return EXIT_BUG


def _real_error(exc: BaseException) -> BaseException:
    """The error an exception group (anyio's task groups raise them) stands for: Ctrl-C first,
    then one of our errors, then the first other one; cancellations only when nothing else."""
    if not isinstance(exc, BaseExceptionGroup):
        return exc
    leaves = list(_leaves(exc))
    for kind in (KeyboardInterrupt, LayerctlError, Exception):
        found = next((leaf for leaf in leaves if isinstance(leaf, kind)), None)
        if found is not None:
            return found
    return leaves[0] if leaves else exc


def _leaves(group: BaseExceptionGroup[BaseException]) -> Iterator[BaseException]:
    for exc in group.exceptions:
        if isinstance(exc, BaseExceptionGroup):
            yield from _leaves(exc)
        else:
            yield exc


def _error_line(text: str) -> None:
    # one line, whatever a message quotes (a key or a path with a newline in it)
    typer.echo(text.replace("\r", "\\r").replace("\n", "\\n"), err=True)


def _print_traceback(exc: BaseException) -> None:
    if sys.stderr is not None:
        traceback.print_exception(type(exc), exc, exc.__traceback__, file=sys.stderr)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"layerctl {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    ctx: typer.Context,
    directory: Annotated[
        Path, typer.Option("-C", "--directory", help="The workspace root (default: the current directory).")
    ] = Path("."),
    version: Annotated[
        bool, typer.Option("--version", callback=_version, is_eager=True, help="Print the version.")
    ] = False,
    debug: Annotated[
        bool,
        typer.Option("--debug", help="Show the traceback of an unexpected error (also LAYERCTL_DEBUG=1)."),
    ] = False,
) -> None:
    ctx.obj = directory.absolute()
    ctx.meta[_DEBUG_KEY] = debug


def _csv(value: str | None) -> list[str] | None:
    if value is None:
        return None
    return [v.strip() for v in value.split(",") if v.strip()]


PythonOpt = Annotated[str | None, typer.Option("--python", help="Python versions, e.g. 3.11,3.12.")]
ArchOpt = Annotated[str | None, typer.Option("--arch", help="Architectures: x86_64,arm64.")]
OnlyOpt = Annotated[
    list[str] | None, typer.Option("--only", help="Build only target ids matching this glob.")
]
SkipOpt = Annotated[
    list[str] | None, typer.Option("--skip", help="Skip target ids matching this glob (wins).")
]
JobsOpt = Annotated[
    int | None, typer.Option("--jobs", "-j", min=1, help="Targets built at once (default: CPUs).")
]
BuilderOpt = Annotated[str | None, typer.Option("--builder", help="auto | native | container.")]
KeepGoingOpt = Annotated[
    bool, typer.Option("--keep-going", "-k", help="Build every target even after a failure.")
]
ForceOpt = Annotated[bool, typer.Option("--force", help="Rebuild targets whose inputs have not changed.")]
VerboseOpt = Annotated[
    int, typer.Option("--verbose", "-v", count=True, help="Show each phase of each target.")
]
QuietOpt = Annotated[
    bool, typer.Option("--quiet", "-q", help="Show only each target's outcome, failures and the summary.")
]
LogFormatOpt = Annotated[
    str,
    typer.Option(
        "--log-format",
        help="auto (github on GitHub Actions, live on a terminal, else plain) | live | plain | github | json.",
    ),
]
TimeoutOpt = Annotated[
    float | None,
    typer.Option("--timeout", min=1, help="Seconds one attempt at a target may take before it fails."),
]
RetriesOpt = Annotated[
    int | None,
    typer.Option(
        "--retries",
        min=0,
        max=10,
        help="Retry a target this many times after a transient failure (network, engine).",
    ),
]
PullOpt = Annotated[str | None, typer.Option("--pull", help="Pull build images: missing | always | never.")]
KeepContainersOpt = Annotated[
    bool, typer.Option("--keep-containers", help="Leave build containers behind for debugging.")
]
ContainerNetworkOpt = Annotated[
    str | None,
    typer.Option(
        "--container-network",
        help="Network of build containers: bridge (default) | host | none | a network's name.",
    ),
]
CaBundleOpt = Annotated[str | None, typer.Option("--ca-bundle", help="Extra CA bundle (PEM) for the index.")]
NoWaitOpt = Annotated[
    bool,
    typer.Option(
        "--no-wait",
        help="If another layerctl run holds the workspace, exit at once (code 75) instead of waiting.",
    ),
]
IndexUrlOpt = Annotated[
    str | None, typer.Option("--index-url", help="Package index URL (credentials: LAYERCTL_INDEX_* env).")
]


def _plan(
    root: Path,
    *,
    layers: list[str] | None = None,
    python: str | None = None,
    arch: str | None = None,
    only: list[str] | None = None,
    skip: list[str] | None = None,
    jobs: int | None = None,
    builder: str | None = None,
    pull: str | None = None,
    keep_containers: bool = False,
    container_network: str | None = None,
    ca_bundle: str | None = None,
    index_url: str | None = None,
    timeout: float | None = None,
    retries: int | None = None,
) -> Plan:
    workspace = load_workspace(root)
    env_settings, env_options = env_overrides()
    settings = {
        "python": _csv(python),
        "arch": _csv(arch),
        "builder": builder,
        "ca_bundle": ca_bundle,
        "index_url": index_url,
    }
    options = {
        "only": only,
        "skip": skip,
        "jobs": jobs,
        "pull": pull,
        "keep_containers": keep_containers,
        "container_network": container_network,
        "timeout": timeout,
        "retries": retries,
    }
    if ca_bundle is not None:  # a flag's relative path starts where the user is, not at the workspace
        settings["ca_bundle"] = str(Path(ca_bundle).absolute())
    return make_plan(
        workspace,
        discover_layers(workspace),
        env_settings=env_settings,
        env_options=env_options,
        cli_settings=validate(
            LayerSettings, {k: v for k, v in settings.items() if v is not None}, "command line"
        ),
        cli_options=validate(
            WorkspaceOptions,
            {k: v for k, v in options.items() if v or (k == "retries" and v == 0)},
            "command line",
        ),
        layer_names=layers or (),
    )


def _echo_err(message: str) -> None:
    typer.echo(message, err=True)


def _run_lock(plan: Plan, no_wait: bool) -> AbstractContextManager[None]:
    """The workspace's run lock, in its report directory (checked first): one run at a time."""
    return workspace_lock(
        report_dir(plan), wait=not no_wait, say=_echo_err, prepare=lambda: claim_report_dir(plan)
    )


def _build(
    root: Path,
    *,
    keep_going: bool,
    force: bool,
    verbose: int,
    quiet: bool,
    log_format: str,
    no_wait: bool,
    **plan_flags: Any,
) -> None:
    """The body of `build-all` and `build`: their flags differ only in the layer names."""
    if log_format not in _LOG_FORMATS:
        raise ConfigError(f"--log-format {log_format!r}: use one of {', '.join(_LOG_FORMATS)}")
    plan = _plan(root, **plan_flags)
    if not plan.targets:
        typer.echo("layerctl: no targets match the selection", err=True)
        raise typer.Exit(EXIT_USAGE)
    with _run_lock(plan, no_wait):
        reporter = make_reporter(
            log_format,  # type: ignore[arg-type]
            verbose=-1 if quiet else verbose,
            workspace=plan.workspace.root,
        )
        try:
            _outcome, code = anyio.run(
                lambda: run_plan(
                    plan,
                    reporter,
                    keep_going=keep_going,
                    force=force,
                    timeout_s=plan.options.timeout,
                    retries=plan.options.retries,
                )
            )
        finally:
            reporter.close()  # the live view gives the terminal back on every path
    if log_format != "json":
        typer.echo(f"report: {report_path(plan)} (and report.html)")
    raise typer.Exit(code)


_LOG_FORMATS = get_args(LogFormat)


@app.command("build-all")
@_user_errors
def build_all(
    ctx: typer.Context,
    python: PythonOpt = None,
    arch: ArchOpt = None,
    only: OnlyOpt = None,
    skip: SkipOpt = None,
    jobs: JobsOpt = None,
    builder: BuilderOpt = None,
    keep_going: KeepGoingOpt = False,
    force: ForceOpt = False,
    pull: PullOpt = None,
    keep_containers: KeepContainersOpt = False,
    container_network: ContainerNetworkOpt = None,
    ca_bundle: CaBundleOpt = None,
    index_url: IndexUrlOpt = None,
    timeout: TimeoutOpt = None,
    retries: RetriesOpt = None,
    log_format: LogFormatOpt = "auto",
    verbose: VerboseOpt = 0,
    quiet: QuietOpt = False,
    no_wait: NoWaitOpt = False,
) -> None:
    """Build every target of every layer in the workspace."""
    flags = {name: value for name, value in locals().items() if name != "ctx"}
    _build(ctx.obj, layers=None, **flags)


@app.command("build")
@_user_errors
def build(
    ctx: typer.Context,
    layers: Annotated[list[str], typer.Argument(help="Layer names to build.")],
    python: PythonOpt = None,
    arch: ArchOpt = None,
    only: OnlyOpt = None,
    skip: SkipOpt = None,
    jobs: JobsOpt = None,
    builder: BuilderOpt = None,
    keep_going: KeepGoingOpt = False,
    force: ForceOpt = False,
    pull: PullOpt = None,
    keep_containers: KeepContainersOpt = False,
    container_network: ContainerNetworkOpt = None,
    ca_bundle: CaBundleOpt = None,
    index_url: IndexUrlOpt = None,
    timeout: TimeoutOpt = None,
    retries: RetriesOpt = None,
    log_format: LogFormatOpt = "auto",
    verbose: VerboseOpt = 0,
    quiet: QuietOpt = False,
    no_wait: NoWaitOpt = False,
) -> None:
    """Build the targets of the named layers only."""
    flags = {name: value for name, value in locals().items() if name != "ctx"}
    _build(ctx.obj, **flags)


@app.command("list")
@_user_errors
def list_targets(
    ctx: typer.Context,
    layers: Annotated[list[str] | None, typer.Argument(help="Only these layers.")] = None,
    python: PythonOpt = None,
    arch: ArchOpt = None,
    only: OnlyOpt = None,
    skip: SkipOpt = None,
    builder: BuilderOpt = None,
    fmt: Annotated[str, typer.Option("--format", help="text | json.")] = "text",
    decide: Annotated[
        bool, typer.Option("--decide/--no-decide", help="Decide `auto` builders (resolves; needs the index).")
    ] = True,
) -> None:
    """Print the targets a build would run (a dry run), with the builder each would use."""
    if fmt not in ("text", "json"):
        raise typer.BadParameter("choose text or json", param_hint="--format")
    plan = _plan(ctx.obj, layers=layers, python=python, arch=arch, only=only, skip=skip, builder=builder)
    targets = list(plan.targets)
    if decide:
        credentials = Credentials.from_env()
        targets = anyio.run(lambda: decide_targets(plan, credentials))
    if fmt == "json":
        typer.echo(json.dumps([t.describe() for t in targets], indent=2))
        return
    for target in targets:
        reason = f"  ({target.builder_reason})" if target.builder_reason else ""
        typer.echo(
            f"{target.id:<28} {target.layer.tool.value:<7} {target.runtime.lambda_runtime:<11} "
            f"{target.runtime.manylinux:<15} {target.builder}{reason}"
        )
    for layer, python_version in plan.incompatible:
        typer.echo(f"# {layer}: Python {python_version} left out (outside the layer's requires-python)")


@app.command("verify")
@_user_errors
def verify(
    ctx: typer.Context,
    layers: Annotated[list[str] | None, typer.Argument(help="Only these layers.")] = None,
    python: PythonOpt = None,
    arch: ArchOpt = None,
    only: OnlyOpt = None,
    skip: SkipOpt = None,
    jobs: JobsOpt = None,
    pull: PullOpt = None,
    image: Annotated[
        str | None,
        typer.Option("--image", help="Image template ({python}, {arch}); default: the Lambda runtime image."),
    ] = None,
) -> None:
    """Import every top-level module of each built layer.zip in a container of its platform."""
    plan = _plan(ctx.obj, layers=layers, python=python, arch=arch, only=only, skip=skip, jobs=jobs, pull=pull)
    if image is not None:
        validate(LayerSettings, {"verify-image": image}, "command line")
    targets = [
        replace(t, settings=t.settings.model_copy(update={"verify_image": image})) if image else t
        for t in plan.targets
    ]
    if not targets:
        typer.echo("layerctl: no targets match the selection", err=True)
        raise typer.Exit(EXIT_USAGE)
    reporter = PlainReporter(sys.stdout)
    results = anyio.run(
        lambda: verify_targets(
            targets, reporter.handle, pull=plan.options.pull, jobs=plan.options.jobs or default_jobs()
        )
    )
    for result in results:
        typer.echo(f"{result.id:<28} {'ok' if result.ok else 'FAILED':<7} {result.detail}")
    raise typer.Exit(max((r.exit_code for r in results if not r.ok), default=0))


@app.command("report")
@_user_errors
def report(
    ctx: typer.Context,
    path: Annotated[
        Path | None, typer.Argument(help="A report.json (default: the workspace's report-dir/report.json).")
    ] = None,
    output: Annotated[
        Path | None,
        typer.Option("--output", "-o", help="Where to write the HTML (default: beside the JSON)."),
    ] = None,
) -> None:
    """Re-render report.html (timeline and size charts) from a report.json and print its summary."""
    from rich.console import Console

    from .report import load_report, write_html
    from .reporters.summary import failure_lines, summary_table

    if path is None:
        path = report_path(_plan(ctx.obj))
    run = load_report(path)
    html = output or path.with_suffix(".html")
    try:
        write_html(run, html)
    except OSError as exc:
        raise ConfigError(f"{html}: cannot write the report ({exc.strerror or exc})") from None
    console = Console(highlight=False)
    for result in run.targets:
        if result.status == "failed":
            console.print("\n".join(failure_lines(result)), markup=False)
    summary_table(run.targets, console)
    typer.echo(f"report: {html}")


@app.command("clean")
@_user_errors
def clean(
    ctx: typer.Context,
    layers: Annotated[list[str] | None, typer.Argument(help="Only these layers.")] = None,
    containers: Annotated[
        bool, typer.Option("--containers", help="Only remove layerctl containers left by crashed runs.")
    ] = False,
    no_wait: NoWaitOpt = False,
) -> None:
    """Remove build outputs (zips, artifacts, logs) and the run report, or leftover containers."""
    if containers:
        from .executors.engine import DockerEngine

        async def remove() -> tuple[list[str], list[str]]:
            async with DockerEngine() as engine:
                return await engine.remove_leftovers()

        removed_containers, kept = anyio.run(remove)
        for name in removed_containers:
            typer.echo(f"removed container {name}")
        for name in kept:
            typer.echo(f"kept container {name}: its layerctl run is still going")
        typer.echo(f"{len(removed_containers)} layerctl containers removed")
        return
    plan = _plan(ctx.obj, layers=layers)
    with _run_lock(plan, no_wait):
        _clean_outputs(plan)
        if not layers:
            removed = clean_report_dir(report_dir(plan))
            for name in removed or ():
                if name != LOCK_NAME:
                    typer.echo(f"removed {report_dir(plan) / name}")


def _clean_outputs(plan: Plan) -> None:
    """Every output directory of the plan's layers that layerctl made, and only those."""
    seen: set[Path] = set()
    for target in plan.targets:
        layer = target.layer
        where = f"layer {layer.name} ({layer.pyproject})"
        out_root = check_inside(layer.root, target.settings.output, key="output", where=where)
        if out_root in seen or not out_root.exists():
            seen.add(out_root)
            continue
        seen.add(out_root)
        if clean_output_dir(out_root) is None:
            typer.echo(f"skipped {out_root}: layerctl did not make it (no {MARKER} in it)")
        else:
            typer.echo(f"removed the outputs in {out_root}")


class _Stdout:
    """sys.stdout for the command line: output that cannot be written (a closed stdout, a reader
    that went away, a full disk) stops the output, never the command, and never raises into the
    code that was printing. ``error`` keeps the first failure other than a reader going away."""

    def __init__(self, stream: TextIO) -> None:
        self.stream = stream
        self.error: OSError | None = None
        self.dead = False

    def write(self, text: str) -> int:
        if not self.dead:
            try:
                self.stream.write(text)
            except (OSError, ValueError) as exc:
                self._failed(exc)
        return len(text)

    def writelines(self, lines: Iterable[str]) -> None:
        for line in lines:
            self.write(line)

    def flush(self) -> None:
        if not self.dead:
            try:
                self.stream.flush()
            except (OSError, ValueError) as exc:
                self._failed(exc)

    def _failed(self, exc: Exception) -> None:
        self.dead = True
        if isinstance(exc, OSError) and not isinstance(exc, BrokenPipeError):
            self.error = exc
        # what is still buffered goes nowhere, so the interpreter's last flush cannot fail again
        _devnull_onto(1)

    def __getattr__(self, name: str) -> Any:  # isatty, fileno, encoding...: the real stream's
        return getattr(self.stream, name)


def _devnull_onto(fd: int) -> None:
    null = os.open(os.devnull, os.O_RDWR)
    if null != fd:
        os.dup2(null, fd)
        os.close(null)


def _standard_streams() -> _Stdout:
    """Make 0, 1 and 2 open descriptors (a closed one would be taken by the next file layerctl
    opens, and a child process would write into it) and wrap stdout."""
    for fd in (0, 1, 2):
        try:
            os.fstat(fd)
        except OSError:
            _devnull_onto(fd)
    if sys.stdout is None:  # started with stdout closed (`>&-`): its output goes nowhere
        sys.stdout = open(os.devnull, "w", encoding="utf-8")  # noqa: SIM115 - lives as long as the process
    stdout = _Stdout(sys.stdout)
    sys.stdout = cast(TextIO, stdout)
    return stdout


def main() -> None:
    """The ``layerctl`` entry point: the commands' boundary also covers what happens outside
    them (option parsing, help) and an output that could not be written."""
    stdout = _standard_streams()
    code: int | str | None
    try:
        app()
        code = 0
    except SystemExit as exc:
        code = exc.code
    except BaseException as exc:  # raised outside a command (the commands have their own boundary)
        code = _fail(exc, debug="--debug" in sys.argv[1:])
    if stdout.error is not None:
        _error_line(f"layerctl: error: cannot write to stdout ({stdout.error.strerror or stdout.error})")
        if code in (0, None):
            code = EXIT_ENVIRONMENT
    sys.exit(code)
