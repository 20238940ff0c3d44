"""One way to try again: after a transient failure, wait 1 s, 2 s, 4 s ... (at most 30 s) and
attempt once more, up to a number of retries. Used by target builds and image pulls."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TypeVar

import anyio

__all__ = ["attempts", "backoff"]

T = TypeVar("T")


def backoff(attempt: int) -> float:
    """Seconds to wait after failed attempt ``attempt`` (1-based): 1, 2, 4, ... at most 30."""
    return min(2.0 ** (attempt - 1), 30.0)


async def attempts(
    attempt: Callable[[], Awaitable[T]],
    *,
    retries: int,
    transient: Callable[[T], bool],
    before_retry: Callable[[int, float, T], Awaitable[None]],
    delay: Callable[[int], float] | None = None,
) -> tuple[T, int]:
    """Run ``attempt`` until its outcome is not ``transient`` or ``retries`` retries are used;
    ``before_retry(number, seconds, outcome)`` runs before each wait. Returns the last outcome
    and how many attempts were made."""
    number = 0
    while True:
        number += 1
        outcome = await attempt()
        if number > retries or not transient(outcome):
            return outcome, number
        seconds = (delay or backoff)(number)
        await before_retry(number, seconds, outcome)
        await anyio.sleep(seconds)
