"""Reporters consume the event stream and present it; they never build anything."""

from __future__ import annotations

from typing import Protocol

from ..events import Event

__all__ = ["Reporter"]


class Reporter(Protocol):
    async def handle(self, event: Event) -> None: ...
