"""Commands made when they are used: a command's parameters are its settings' flags (every
setting's declaration, pydantic), so the root's help lists each command by its name and help
only, and a command is made in full when it runs or shows its own help.

``deferred(app, name, register)`` puts a stand-in for the command into ``app`` (its name and
help, no parameters) and keeps ``register``; ``LazyGroup``, the root command, calls it the first
time the command is looked up for anything but the root's help."""

from __future__ import annotations

import importlib
import re
import sys
import types
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, TypeVar

import typer
import typer.main
from typer.core import TyperGroup

if sys.version_info < (3, 11):
    from exceptiongroup import BaseExceptionGroup

__all__ = ["LazyGroup", "deferred", "help_text"]

_TAG = re.compile(r"(\\*)(\[[a-z#/@][^[]*?])")


def help_text(text: str) -> str:
    """A help text as typer's rich help shows it verbatim: brackets escaped."""
    return _TAG.sub(lambda m: f"{m.group(1)}{m.group(1)}\\{m.group(2)}", text)


F = TypeVar("F", bound=Callable[..., None])
_MAKE = "_layerctl_make"  # the stand-in callback's attribute: makes the full command


class LazyGroup(TyperGroup):
    """The root command: its own help lists the stand-ins; any other look-up of a command
    (running it, its help, a typo's suggestion aside) gets the full command."""

    _listing = False

    def format_help(self, ctx: Any, formatter: Any) -> None:
        self._listing = True
        try:
            with _help_without_unused_rich():
                super().format_help(ctx, formatter)
        finally:
            self._listing = False

    def get_command(self, ctx: Any, cmd_name: str) -> Any:
        cmd = super().get_command(ctx, cmd_name)
        make = getattr(getattr(cmd, "callback", None), _MAKE, None)
        if cmd is None or make is None or self._listing:
            return cmd
        self.commands[cmd_name] = cmd = make()
        return cmd

    # Ctrl-C while the command line is parsed and its command made (imports): typer would end
    # with 130 silently; wrapped, it reaches the boundary, which says so in one line.
    def make_context(self, *args: Any, **kwargs: Any) -> Any:
        with _interrupt_reaches_boundary():
            return super().make_context(*args, **kwargs)

    def invoke(self, ctx: Any) -> Any:
        with _interrupt_reaches_boundary():
            return super().invoke(ctx)


# What typer's help module imports from rich but never uses for layerctl's help (markdown is for
# rich_markup_mode="markdown", the traceback for pretty exceptions): markdown-it and pygments.
_UNUSED_BY_HELP = {"rich.markdown": "Markdown", "rich.traceback": "Traceback"}


@contextmanager
def _help_without_unused_rich() -> Iterator[None]:
    """While the root's help is made: rich's modules typer's help module imports but does not
    use are stand-ins, whose one name imports the real module when it is used after all."""
    stand_ins = {
        name: _stand_in(name, attr)
        for name, attr in _UNUSED_BY_HELP.items()
        if name not in sys.modules and "typer.rich_utils" not in sys.modules
    }
    sys.modules.update(stand_ins)
    try:
        yield
    finally:
        for name, module in stand_ins.items():
            if sys.modules.get(name) is module:
                del sys.modules[name]


def _stand_in(module: str, name: str) -> types.ModuleType:
    stand_in = types.ModuleType(module)

    def real() -> Any:
        if sys.modules.get(module) is stand_in:
            del sys.modules[module]
        return getattr(importlib.import_module(module), name)

    class Deferred(type):
        def __getattr__(cls, attr: str) -> Any:  # Traceback.from_exception
            return getattr(real(), attr)

    class Name(metaclass=Deferred):
        def __new__(cls, *args: Any, **kwargs: Any) -> Any:
            return real()(*args, **kwargs)

    Name.__name__ = Name.__qualname__ = name
    setattr(stand_in, name, Name)
    return stand_in


@contextmanager
def _interrupt_reaches_boundary() -> Iterator[None]:
    try:
        yield
    except KeyboardInterrupt as exc:
        raise BaseExceptionGroup("interrupted while starting", [exc]) from None


def deferred(app: typer.Typer, name: str, register: Callable[[F], F]) -> Callable[[F], F]:
    """A decorator registering ``body`` as command ``name`` of ``app`` the way ``register``
    does (``register`` adds the full command to ``app``), but only when the command is used."""

    def defer(body: F) -> F:
        made: list[Any] = []

        def stand_in() -> None:  # pragma: no cover - never run: replaced before it could be
            raise AssertionError(f"the stand-in of {name} ran")

        def make() -> Any:
            if not made:
                register(body)
                full = app.registered_commands.pop()
                commands = app.registered_commands
                commands[next(i for i, c in enumerate(commands) if c.callback is stand_in)] = full
                made.append(
                    typer.main.get_command_from_info(
                        full,
                        pretty_exceptions_short=app.pretty_exceptions_short,
                        rich_markup_mode=app.rich_markup_mode,
                    )
                )
            return made[0]

        stand_in.__doc__ = help_text(body.__doc__ or "")
        setattr(stand_in, _MAKE, make)
        app.command(name)(stand_in)
        return body

    return defer
