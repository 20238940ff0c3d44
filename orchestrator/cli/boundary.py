"""The command line's boundary: every command ends in one line and a documented exit code.

A LayerctlError prints its one-line message and exits with its code; anything else is a bug in
layerctl: one line saying so (exit 70), the traceback only with ``--debug`` or
``LAYERCTL_DEBUG=1``. Exception groups (anyio's task groups) are unwrapped to the error they
stand for. Output that cannot be written (a closed stdout, a full device) never raises into
the code that was printing. Every line it writes is masked (``error_line``)."""

from __future__ import annotations

import contextlib
import functools
import os
import sys
from collections.abc import Callable, Iterable, Iterator
from typing import TYPE_CHECKING, Any, TextIO, TypeVar, cast

from ..core import interrupts
from ..core.errors import EXIT_BUG, EXIT_ENVIRONMENT, EXIT_INTERRUPTED, EXIT_USAGE, LayerctlError
from ..core.secrets import Credentials, Masker

if sys.version_info < (3, 11):
    from exceptiongroup import BaseExceptionGroup

if TYPE_CHECKING:  # typer is imported when a command line is parsed (``--version`` needs none)
    import typer

__all__ = ["DEBUG_KEY", "boundary", "error_line", "print_version", "run_main"]

F = TypeVar("F", bound=Callable[..., Any])

DEBUG_KEY = "layerctl.debug"


def boundary(func: F) -> F:
    """The error boundary of a command: a LayerctlError is one line on stderr and its exit code;
    anything else is one line saying it is a bug (exit 70), with the traceback under --debug."""

    import typer

    # Raised by typer/click to end a command or show its usage: theirs to handle, not errors of ours.
    cli_control = (typer.Exit, typer.Abort, typer.BadParameter)

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        meta = getattr(kwargs.get("ctx"), "meta", None)  # the root's --debug (contexts share meta)
        debug = bool(meta and meta.get(DEBUG_KEY))
        try:
            return func(*args, **kwargs)
        except (*cli_control, SystemExit, GeneratorExit):
            raise
        except BaseException as exc:
            raise typer.Exit(_fail(exc, debug=debug)) from None

    return wrapper  # type: ignore[return-value]


def _fail(exc: BaseException, *, debug: bool) -> int:
    """Print what went wrong in one line on stderr; return the exit code."""
    real = _real_error(exc)
    if isinstance(real, KeyboardInterrupt):
        error_line("layerctl: interrupted")
        return EXIT_INTERRUPTED
    if isinstance(real, LayerctlError):
        if debug:
            _print_traceback(exc)
        error_line(f"layerctl: error: {real.message}")
        return real.exit_code
    if debug or os.environ.get("LAYERCTL_DEBUG", "").strip().lower() in ("1", "true", "yes", "on"):
        _print_traceback(exc)
    detail = f"{type(real).__name__}: {real}" if str(real) else type(real).__name__
    error_line(
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


# Control characters a message may quote (in a key, a path, a variable) are shown escaped: an
# error stays one line on a terminal and cannot move its cursor.
_ESCAPES = {
    code: repr(chr(code))[1:-1] for code in [*range(0x20), *range(0x7F, 0xA0), 0x2028, 0x2029] if code != 0x09
}


def error_line(text: str) -> None:
    """One line on stderr: control characters escaped, secrets masked (the environment's
    passwords and any URL's credentials, also in a bug's message or a bad flag's value)."""
    import typer

    text = Masker.for_credentials(Credentials.from_env())(text)
    typer.echo(text.translate(_ESCAPES), err=True)


def _print_traceback(exc: BaseException) -> None:
    import traceback

    if sys.stderr is not None:
        mask = Masker.for_credentials(Credentials.from_env())
        lines = traceback.format_exception(type(exc), exc, exc.__traceback__)
        sys.stderr.write("".join(mask(line) for line in lines))


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


def _format(exc: Exception) -> str:
    format_message = getattr(exc, "format_message", None)
    text = format_message() if callable(format_message) else str(exc)
    return " ".join(str(text).split())


def run_main(app: typer.Typer) -> None:
    """The ``layerctl`` entry point: the commands' boundary also covers what happens outside
    them (option parsing, help) and an output that could not be written."""
    import typer
    import typer.main

    def parse() -> int | str | None:
        try:
            # click's own handling of a bad command line prints a boxed usage: ours is one line
            returned = typer.main.get_command(app).main(
                args=sys.argv[1:], prog_name="layerctl", standalone_mode=False
            )
        except typer.TyperException as exc:  # a bad command line (click's errors are typer's)
            message = _format(exc)
            if not message:  # `layerctl` alone: the help was shown
                return 0
            context = getattr(exc, "ctx", None)
            error_line(
                f"layerctl: error: {message} (see {getattr(context, 'command_path', 'layerctl')} --help)"
            )
            return EXIT_USAGE
        return returned if isinstance(returned, int) else 0

    _main(parse)


def print_version(text: str) -> None:
    """``layerctl --version`` without the command line (typer) or any stage: the same streams,
    output errors and exit code as every other command."""

    def show() -> int:
        sys.stdout.write(f"{text}\n")
        sys.stdout.flush()
        return 0

    _main(show)


def _main(body: Callable[[], int | str | None]) -> None:
    stdout: _Stdout | None = None
    code: int | str | None
    try:
        stdout = _standard_streams()
        interrupts.install()  # from here on Ctrl-C (or SIGTERM) ends up below, or in a run's receiver
        code = body()
    except SystemExit as exc:
        code = exc.code
    except BaseException as exc:  # raised outside a command (the commands have their own boundary)
        code = _fail(exc, debug="--debug" in sys.argv[1:])
    interrupts.settle()  # the outcome is decided: a late signal cannot change it
    if stdout is not None and stdout.error is not None:
        error_line(f"layerctl: error: cannot write to stdout ({stdout.error.strerror or stdout.error})")
        if code in (0, None):
            code = EXIT_ENVIRONMENT
    if code == EXIT_INTERRUPTED:
        # CPython ends a process by SIGINT, whatever it was asked to exit with, once a
        # KeyboardInterrupt has been raised where the interpreter saw it unhandled (seen: a
        # Ctrl-C just as the command line starts, said in one line here, then exit -2). The
        # outcome is decided and said: end with 130, as Ctrl-C ends every other run.
        for stream in (sys.stdout, sys.stderr):
            with contextlib.suppress(Exception):
                stream.flush()
        os._exit(EXIT_INTERRUPTED)
    sys.exit(code)
