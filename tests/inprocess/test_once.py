"""The run-once check (each image checked once per run, however many targets ask)."""

from __future__ import annotations

import anyio
import pytest

from orchestrator.core.errors import EnvironmentProblem
from orchestrator.core.once import Once

pytestmark = pytest.mark.anyio


async def test_many_askers_one_check_and_a_problem_is_remembered() -> None:
    once: Once[str] = Once()
    calls: list[str] = []

    async def check(key: str) -> str:
        calls.append(key)
        await anyio.sleep(0.05)
        if key == "broken":
            raise EnvironmentProblem(f"image {key} is not on this machine")
        return f"id-of-{key}"

    answers: list[str] = []
    problems: list[str] = []

    async def ask(key: str) -> None:
        try:
            answers.append(await once.get(key, lambda: check(key)))
        except EnvironmentProblem as exc:
            problems.append(exc.message)

    async with anyio.create_task_group() as tg:
        for _ in range(10):
            tg.start_soon(ask, "good")
            tg.start_soon(ask, "broken")
    assert sorted(calls) == ["broken", "good"]
    assert answers == ["id-of-good"] * 10 and problems == ["image broken is not on this machine"] * 10
    with pytest.raises(EnvironmentProblem):
        await once.get("broken", lambda: check("broken"))
    assert len(calls) == 2


async def test_a_cancelled_first_asker_does_not_poison_the_key() -> None:
    once: Once[int] = Once()
    started = anyio.Event()

    async def slow() -> int:
        started.set()
        await anyio.sleep_forever()
        return 0

    async with anyio.create_task_group() as tg:
        tg.start_soon(once.get, "k", slow)
        await started.wait()
        tg.cancel_scope.cancel()

    async def fast() -> int:
        return 7

    assert await once.get("k", fast) == 7
