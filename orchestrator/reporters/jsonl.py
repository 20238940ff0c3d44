"""``--log-format json``: one JSON object per line, one line per event, for machines."""

from __future__ import annotations

import dataclasses
import json
import time
from typing import Any, TextIO

from ..events import Event, LogLine, RunFinished, TargetFinished

__all__ = ["JsonReporter"]

_NAMES = {
    "RunStarted": "run-started",
    "Notice": "notice",
    "TargetStarted": "target-started",
    "PhaseStarted": "phase",
    "LogLine": "log",
    "Warning": "warning",
    "TargetFinished": "target-finished",
    "RunFinished": "run-finished",
}


class JsonReporter:
    def __init__(self, out: TextIO) -> None:
        self.out = out
        self.dumps = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode

    async def handle(self, event: Event) -> None:
        now = round(time.time(), 3)
        if isinstance(event, LogLine):  # the hot path: no reflection
            self.out.write(
                f'{{"event":"log","time":{now},"target":{self.dumps(event.target)},"line":{self.dumps(event.line)}}}\n'
            )
            return
        data: dict[str, Any] = {"event": _NAMES[type(event).__name__], "time": now}
        if isinstance(event, TargetFinished):
            data["result"] = event.result.model_dump(mode="json")
        elif isinstance(event, RunFinished):
            data["results"] = [r.model_dump(mode="json") for r in event.results]
            data["duration_s"] = event.duration_s
        else:
            data.update(dataclasses.asdict(event))
        self.out.write(self.dumps(data) + "\n")

    def flush(self) -> None:
        self.out.flush()

    def close(self) -> None:
        self.out.flush()
