"""The ``layerctl`` command line: typer wiring only. Each command's flags come from the
settings' declarations (``options.py``); its body calls the module that does the work."""

from __future__ import annotations

import inspect
import json
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, TypeVar

import anyio  # its back-ends are imported when a loop starts
import typer

from .. import __version__
from ..core.errors import EXIT_USAGE
from .boundary import DEBUG_KEY, boundary, error_line, run_main
from .invocation import Invocation
from .lazycli import LazyGroup, deferred, help_text

if TYPE_CHECKING:  # each stage is imported by the command that uses it: start-up costs nothing
    from contextlib import AbstractContextManager

    from ..plan.targets import Plan
    from ..report.reporters import Reporter
    from ..run.skeleton import RunOutcome

    Lock = AbstractContextManager[None]
    Work = Callable[[Plan, Reporter, Lock], Awaitable[tuple[RunOutcome, int]]]

__all__ = ["app", "main"]

T = TypeVar("T")

app = typer.Typer(
    name="layerctl",
    help="Build AWS Lambda layers for a whole monorepo: every layer x Python x architecture, at once.",
    no_args_is_help=True,
    add_completion=False,
    rich_markup_mode="rich",  # help texts go through options.help_text, so brackets show as written
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
    cls=LazyGroup,
)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"layerctl {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    ctx: typer.Context,
    directory: Annotated[
        Path,
        typer.Option(
            "-C",
            "--directory",
            help="Start here (default: the current directory); the workspace root is found upward.",
        ),
    ] = Path("."),
    version: Annotated[
        bool, typer.Option("--version", callback=_version, is_eager=True, help="Print the version.")
    ] = False,
    debug: Annotated[
        bool,
        typer.Option(
            "--debug/--no-debug", help="Show the traceback of an unexpected error (also LAYERCTL_DEBUG=1)."
        ),
    ] = False,
) -> None:
    ctx.obj = directory.absolute()
    ctx.meta[DEBUG_KEY] = debug


_LAYERS_HELP = {
    "build": "Layer names to build.",
    "list": "Only these layers.",
    "verify": "Only these layers.",
}


def command(
    name: str, *, layers: bool | None = False
) -> Callable[[Callable[..., None]], Callable[..., None]]:
    """Register ``body(invocation, layers)`` as command ``name`` with the flags its settings
    declare; ``layers``: True (required) or None (optional) for layer-name arguments."""

    def register(body: Callable[..., None]) -> Callable[..., None]:
        from .options import parameters

        params = [inspect.Parameter("ctx", inspect.Parameter.POSITIONAL_OR_KEYWORD, annotation=typer.Context)]
        if layers is not False:
            default = typer.Argument(
                ... if layers else None, help=_LAYERS_HELP.get(name, "Only these layers.")
            )
            annotation = list[str] if layers else list[str] | None
            params.append(
                inspect.Parameter(
                    "layers", inspect.Parameter.POSITIONAL_OR_KEYWORD, default=default, annotation=annotation
                )
            )
        params += parameters(name)

        def run(**values: Any) -> None:
            ctx = values.pop("ctx")
            names = values.pop("layers", None)
            body(Invocation(ctx.obj, name, values), names)

        run.__signature__ = inspect.Signature(params)  # type: ignore[attr-defined]
        run.__annotations__ = {p.name: p.annotation for p in params}
        run.__doc__, run.__name__ = help_text(body.__doc__ or ""), body.__name__
        app.command(name)(boundary(run))
        return body

    return deferred(app, name, register)


def _targets_or_exit(plan: Plan) -> None:
    if not plan.targets:
        error_line(
            "layerctl: error: no targets match the selection (--only, --skip, --python, --arch, layer names)"
        )
        raise typer.Exit(EXIT_USAGE)


def _run(invocation: Invocation, layers: list[str] | None, work: Work, *, rows: bool = False) -> None:
    """The body of the commands that run targets (build-all, build, publish): the plan, the run lock
    (taken once nothing can refuse the run), a reporter (on stderr when stdout carries ``rows``), the exit code."""
    from ..building.places import run_lock
    from ..report.reporters import make_reporter
    from ..run.skeleton import report_path

    plan, flags = invocation.plan(layers), invocation.run
    _targets_or_exit(plan)
    lock = run_lock(plan, flags.wait, say=error_line)
    reporter = make_reporter(
        flags.log_format,
        verbose=-1 if flags.quiet else flags.verbose,
        workspace=plan.workspace.root,
        out=sys.stderr if rows else None,
    )
    outcome, code = _in_process(lambda: work(plan, reporter, lock), reporter)
    if rows:
        from ..run.publish import publish_rows

        typer.echo(json.dumps(publish_rows(outcome.results), indent=2))
    elif flags.log_format != "json":
        typer.echo(f"report: {report_path(plan)} (and report.html)")
    raise typer.Exit(code)


def _in_process(work: Callable[[], Awaitable[T]], reporter: Reporter) -> T:
    try:
        return anyio.run(work)
    finally:
        reporter.close()  # the live view gives the terminal back on every path


def _build(invocation: Invocation, layers: list[str] | None) -> None:
    """The body of `build-all` and `build`: their flags differ only in the layer names."""
    flags = invocation.run
    if flags.dry_run:
        return list_targets(invocation, layers)
    from ..run.builds import run_plan

    _run(invocation, layers, lambda plan, reporter, lock: run_plan(plan, reporter, flags, lock=lock))


@command("build-all")
def build_all(invocation: Invocation, layers: list[str] | None) -> None:
    """Build every target of every layer in the workspace."""
    _build(invocation, None)


@command("build", layers=True)
def build(invocation: Invocation, layers: list[str] | None) -> None:
    """Build the targets of the named layers only."""
    _build(invocation, layers)


@command("publish", layers=None)
def publish(invocation: Invocation, layers: list[str] | None) -> None:
    """Publish what the last good builds produced to AWS Lambda (see [tool.layerctl.publish])."""
    from ..run.publish import publish_plan

    work: Work = lambda plan, reporter, lock: publish_plan(plan, reporter, lock=lock)  # noqa: E731
    _run(invocation, layers, work, rows=invocation.run.format == "json")


@command("list", layers=None)
def list_targets(invocation: Invocation, layers: list[str] | None) -> None:
    """Print each target (a dry run): up to date, or will build and why, with its builder."""
    from ..run.explain import explain, show

    plan, flags = invocation.plan(layers), invocation.run
    _targets_or_exit(plan)
    how = {"refresh": flags.refresh, "verify": flags.verify_zips, "force": flags.force}
    checks = anyio.run(lambda: explain(plan, decide_builders=flags.decide, **how))
    show(plan, checks, flags.format, typer.echo)
    if any(c.target.problem for c in checks):
        raise typer.Exit(EXIT_USAGE)  # a layer whose project cannot be read: as build-all would


@command("matrix", layers=None)
def matrix(invocation: Invocation, layers: list[str] | None) -> None:
    """Print the shards a CI fans out over (GitHub strategy.matrix, GitLab parallel:matrix, JSON)."""
    from ..run.matrix import show_matrix

    plan = invocation.plan(layers)
    _targets_or_exit(plan)
    show_matrix(plan, invocation.run, typer.echo)


@command("verify", layers=None)
def verify(invocation: Invocation, layers: list[str] | None) -> None:
    """Import every top-level module of each built layer.zip in a container of its platform."""
    from ..report.reporters.plain import PlainReporter
    from ..run.verify import verify_plan

    plan = invocation.plan(layers)
    _targets_or_exit(plan)
    reporter = PlainReporter(sys.stdout)
    outcome, code = _in_process(lambda: verify_plan(plan, reporter), reporter)
    if outcome.interrupted:
        error_line("layerctl: interrupted")  # as Ctrl-C anywhere else: no rows
        raise typer.Exit(code)
    for result in outcome.results:
        typer.echo(f"{result.id:<28} {'ok' if result.ok else 'FAILED':<7} {result.detail}")
    raise typer.Exit(code)


@command("engines")
def engines(invocation: Invocation, layers: list[str] | None) -> None:
    """Check each Docker engine of [tool.layerctl.engines]: reachable, version, architectures, images."""
    from ..run.engines import engines_command

    raise typer.Exit(anyio.run(engines_command, invocation.plan(), invocation.run.format, typer.echo))


@command("clean", layers=None)
def clean(invocation: Invocation, layers: list[str] | None) -> None:
    """Remove build outputs (zips, artifacts, logs) and the run report, or leftover containers."""
    from ..building.places import report_dir, run_lock
    from ..run.clean import clean_outputs, clean_report
    from ..run.engines import clean_containers

    if invocation.run.containers:  # on every engine of the workspace (outside one: the default)
        return anyio.run(clean_containers, invocation.start, invocation.cli[1].get("engine", ()), typer.echo)
    plan = invocation.plan(layers)
    with run_lock(plan, invocation.run.wait, creating=False, say=error_line):
        for name, problem in {t.layer.name: t.problem for t in plan.targets if t.problem}.items():
            typer.echo(f"skipped layer {name}: {problem}")
        outputs = {
            (t.layer.root, t.settings.output): (t.layer, t.settings.output)
            for t in plan.targets
            if not t.problem  # its output setting is unknown: nothing of it is touched
        }
        clean_outputs(outputs.values(), typer.echo)
        if not layers:
            clean_report(report_dir(plan), typer.echo)


_OUTPUT_HELP = (
    "Where to write the HTML (default: beside the JSON); with --merge, the directory for report.json and "
    "report.html (default: the workspace's report-dir), never a part's own."
)
_MERGE_HELP = "Merge the reports of a CI matrix's parts into one; exits with the worst part's code."
_PARTIAL_HELP = "With --merge: shards that are not all of their matrix's (else every K/N is needed)."


@app.command("report")
@boundary
def report(
    ctx: typer.Context,
    paths: Annotated[
        list[Path] | None,
        typer.Argument(help="A report.json (default: the workspace's); with --merge, each part's."),
    ] = None,
    output: Annotated[Path | None, typer.Option("--output", "-o", help=_OUTPUT_HELP)] = None,
    merge: Annotated[bool, typer.Option("--merge", help=_MERGE_HELP)] = False,
    partial: Annotated[bool, typer.Option("--partial", help=_PARTIAL_HELP)] = False,
) -> None:
    """Re-render report.html (timeline and size charts) from a report.json and print its summary."""
    from ..report.command import report_command

    code = report_command(ctx.obj, paths or [], output, merge=merge, partial=partial, say=error_line)
    raise typer.Exit(code)


def main() -> None:
    run_main(app)
