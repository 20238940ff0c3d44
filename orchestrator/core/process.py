"""Running a subprocess with its output streamed line by line as it happens."""

from __future__ import annotations

import subprocess
from collections import deque
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol, cast

import anyio

__all__ = ["BatchSink", "LineSink", "ProcessResult", "lines_to", "run_streaming"]

LineSink = Callable[[str], Awaitable[None]]


class BatchSink(Protocol):
    """A line sink that also takes many lines at once (a build's log): output that arrives
    together is handed over together, so a chatty build costs one event per read, not per line."""

    async def __call__(self, line: str) -> None: ...

    async def batch(self, lines: list[str]) -> None: ...


def lines_to(sink: LineSink | BatchSink) -> Callable[[list[str]], Awaitable[None]]:
    """``sink.batch`` when it has one, else a loop over ``sink``."""
    batch = getattr(sink, "batch", None)
    if batch is not None:
        return cast(Callable[[list[str]], Awaitable[None]], batch)

    async def each(lines: list[str]) -> None:
        for line in lines:
            await sink(line)

    return each


_MAX_LINE = 1 << 20  # a longer "line" is cut and delivered in pieces


@dataclass(frozen=True)
class ProcessResult:
    returncode: int
    tail: tuple[str, ...]  # the last lines, for error messages (never the whole output)


async def run_streaming(
    argv: Sequence[str],
    sink: LineSink | BatchSink,
    *,
    cwd: Path | None = None,
    env: Mapping[str, str] | None = None,
    tail: int = 40,
) -> ProcessResult:
    """Run ``argv`` with stdout and stderr merged, handing each line to ``sink`` as it arrives
    (the lines of one read together, to a sink with a ``batch`` method)."""
    last: deque[str] = deque(maxlen=tail)
    deliver = lines_to(sink)
    async with await anyio.open_process(
        list(argv),
        cwd=cwd,
        env=dict(env) if env is not None else None,
        stdin=subprocess.DEVNULL,
        stderr=subprocess.STDOUT,
    ) as process:
        assert process.stdout is not None
        pending = b""
        async for chunk in process.stdout:  # as much as the pipe holds: lines come in batches
            pending += chunk
            if b"\n" not in chunk and len(pending) < _MAX_LINE:
                continue
            *lines, pending = pending.split(b"\n")
            while len(pending) >= _MAX_LINE:  # a runaway "line" is cut, never held whole
                lines.append(pending[:_MAX_LINE])
                pending = pending[_MAX_LINE:]
            text = [raw.decode("utf-8", "replace").rstrip("\r") for raw in lines]
            last.extend(text)
            await deliver(text)
        if pending:
            line = pending.decode("utf-8", "replace").rstrip("\r")
            last.append(line)
            await deliver([line])
        returncode = await process.wait()
    return ProcessResult(returncode=returncode, tail=tuple(last))
