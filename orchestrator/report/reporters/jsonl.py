"""``--log-format json``: one JSON object per line, one line per event, for machines."""

from __future__ import annotations

import dataclasses
import json
import time
from collections.abc import Callable
from json.encoder import encode_basestring
from typing import Any, TextIO

from ...core.events import Event, LogLines, Published, RunFinished, TargetFinished

__all__ = ["JsonReporter"]

_quote: Callable[[str], str] = encode_basestring  # the C string encoder json.dumps itself uses

_NAMES = {
    "RunStarted": "run-started",
    "Notice": "notice",
    "TargetStarted": "target-started",
    "PhaseStarted": "phase",
    "LogLines": "log",
    "TargetWarning": "warning",
    "TargetFinished": "target-finished",
    "Published": "published",
    "RunFinished": "run-finished",
}


class JsonReporter:
    def __init__(self, out: TextIO) -> None:
        self.out = out
        self.dumps = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode
        self.quoted: dict[str, str] = {}  # target ids, encoded once

    async def handle(self, event: Event) -> None:
        now = round(time.time(), 3)
        if isinstance(event, LogLines):  # the hot path: one JSON object per line, no reflection
            target = self.quoted.get(event.target) or self.quoted.setdefault(
                event.target, _quote(event.target)
            )
            head = f'{{"event":"log","time":{now},"target":{target},"line":'
            self.out.write("".join(f"{head}{_quote(line)}}}\n" for line in event.lines))
            return
        data: dict[str, Any] = {"event": _NAMES[type(event).__name__], "time": now}
        if isinstance(event, TargetFinished):
            data["result"] = event.result.model_dump(mode="json")
        elif isinstance(event, Published):
            data["target"] = event.target
            data["publish"] = [p.model_dump(mode="json") for p in event.results]
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
