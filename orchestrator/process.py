"""Running a subprocess with its output streamed line by line as it happens."""

from __future__ import annotations

import subprocess
from collections import deque
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import anyio
from anyio.streams.buffered import BufferedByteReceiveStream

__all__ = ["LineSink", "ProcessResult", "run_streaming"]

LineSink = Callable[[str], Awaitable[None]]
_MAX_LINE = 1 << 20  # a longer "line" is cut and delivered in pieces


@dataclass(frozen=True)
class ProcessResult:
    returncode: int
    tail: tuple[str, ...]  # the last lines, for error messages (never the whole output)


async def run_streaming(
    argv: Sequence[str],
    sink: LineSink,
    *,
    cwd: Path | None = None,
    env: Mapping[str, str] | None = None,
    tail: int = 40,
) -> ProcessResult:
    """Run ``argv`` with stdout and stderr merged, handing each line to ``sink`` as it arrives."""
    last: deque[str] = deque(maxlen=tail)
    async with await anyio.open_process(
        list(argv),
        cwd=cwd,
        env=dict(env) if env is not None else None,
        stdin=subprocess.DEVNULL,
        stderr=subprocess.STDOUT,
    ) as process:
        assert process.stdout is not None
        stream = BufferedByteReceiveStream(process.stdout)
        while True:
            try:
                raw = await stream.receive_until(b"\n", _MAX_LINE)
            except anyio.IncompleteRead:
                raw = stream.buffer
                if not raw:
                    break
                await stream.receive_exactly(len(raw))
            except anyio.DelimiterNotFound:
                raw = await stream.receive_exactly(_MAX_LINE)
            except anyio.EndOfStream:
                break
            line = raw.decode("utf-8", "replace").rstrip("\r")
            last.append(line)
            await sink(line)
        returncode = await process.wait()
    return ProcessResult(returncode=returncode, tail=tuple(last))
