"""``python -m orchestrator`` and the ``layerctl`` script: Ctrl-C (or SIGTERM) during start-up
(importing takes a moment) ends the command like Ctrl-C later on, in one line with exit code 130."""

from __future__ import annotations

import os
import signal
import sys
from types import FrameType


def _interrupted_early(signum: int, frame: FrameType | None) -> None:
    os.write(2, b"layerctl: interrupted\n")
    os._exit(130)


def main() -> None:
    for signum in (signal.SIGINT, signal.SIGTERM):  # until the command line's boundary takes over
        signal.signal(signum, _interrupted_early)
    from .cli import main as cli_main

    cli_main()


if __name__ == "__main__":
    main()
    sys.exit(0)
