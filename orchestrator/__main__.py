"""``python -m orchestrator`` and the ``layerctl`` script: Ctrl-C (or SIGTERM) during start-up
(importing takes a moment) ends the command like Ctrl-C later on, in one line with exit code 130.

``layerctl --version`` is answered before the command line is built (typer, the commands'
settings): printing the version costs the interpreter's start and nothing else. pydantic's plugin
loader is turned off (``PYDANTIC_DISABLE_PLUGINS``, unless set): layerctl uses no plugin."""

from __future__ import annotations

import os
import signal
import sys
from collections.abc import Sequence
from types import FrameType

# The root options before a command, as the command line declares them (cli.py: ``_root``).
_ROOT_FLAGS = frozenset({"--debug", "--no-debug"})
_ROOT_VALUED = frozenset({"-C", "--directory"})


def _interrupted_early(signum: int, frame: FrameType | None) -> None:
    os.write(2, b"layerctl: interrupted\n")
    os._exit(130)


def asks_version(args: Sequence[str]) -> bool:
    """True when the command line would print the version and nothing else: ``--version``
    among the root options, before a command, ``--help`` or anything else. Whatever this does
    not recognise goes to the full command line, which decides as it always did."""
    rest = iter(args)
    for arg in rest:
        if arg == "--version":
            return True
        if arg in _ROOT_VALUED:
            if next(rest, None) is None:
                return False
        elif not (
            arg in _ROOT_FLAGS or arg.startswith("--directory=") or (arg.startswith("-C") and len(arg) > 2)
        ):
            return False
    return False


def main() -> None:
    # layerctl uses no pydantic plugin: spare the loader's scan of every installed distribution's
    # entry points when the first model is built (unless the user says otherwise)
    os.environ.setdefault("PYDANTIC_DISABLE_PLUGINS", "__all__")
    for signum in (signal.SIGINT, signal.SIGTERM):  # until the command line's boundary takes over
        signal.signal(signum, _interrupted_early)
    if asks_version(sys.argv[1:]):
        from . import __version__
        from .cli.boundary import print_version

        print_version(f"layerctl {__version__}")
    from .cli.app import main as cli_main

    cli_main()


if __name__ == "__main__":
    main()
    sys.exit(0)
