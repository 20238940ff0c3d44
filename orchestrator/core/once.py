"""Work done once per key, however many tasks ask for it at the same time."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Hashable
from dataclasses import dataclass, field
from typing import Generic, TypeVar

import anyio

from .errors import LayerctlError

__all__ = ["Once"]

T = TypeVar("T")


@dataclass
class _Entry(Generic[T]):
    done: anyio.Event = field(default_factory=anyio.Event)
    value: T | None = None
    error: LayerctlError | None = None


class Once(Generic[T]):
    """The first asker of a key does the work, the others wait for its answer. A problem found
    (a LayerctlError) is remembered and given to every asker; a cancelled attempt is not."""

    def __init__(self) -> None:
        self._entries: dict[Hashable, _Entry[T]] = {}

    async def get(self, key: Hashable, work: Callable[[], Awaitable[T]]) -> T:
        entry = self._entries.get(key)
        if entry is None:
            entry = self._entries[key] = _Entry()
            try:
                entry.value = await work()
            except LayerctlError as exc:
                entry.error = exc
            except BaseException:
                del self._entries[key]  # the next asker starts over
                entry.done.set()
                raise
            entry.done.set()
        else:
            await entry.done.wait()
            if entry.value is None and entry.error is None:  # the first asker was cancelled
                return await self.get(key, work)
        if entry.error is not None:
            raise entry.error
        assert entry.value is not None
        return entry.value
