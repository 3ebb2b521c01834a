import asyncio

import pytest

from quotio_gateway.tasks import cancel_and_wait


async def test_cancels_and_waits_for_the_task():
    finished = []

    async def worker():
        try:
            await asyncio.sleep(60)
        finally:
            finished.append(True)

    task = asyncio.create_task(worker())
    await asyncio.sleep(0)
    await cancel_and_wait(task)
    assert task.cancelled() and finished == [True]
    await cancel_and_wait(task)  # already done: nothing to do
    await cancel_and_wait(None)


async def test_a_cancellation_aimed_at_the_caller_is_not_swallowed():
    async def stubborn():
        try:
            await asyncio.sleep(60)
        except asyncio.CancelledError:
            await asyncio.sleep(0.2)  # takes a while to stop
            raise

    inner = asyncio.create_task(stubborn())
    await asyncio.sleep(0)
    outer = asyncio.create_task(cancel_and_wait(inner))
    await asyncio.sleep(0.05)
    outer.cancel()
    with pytest.raises(asyncio.CancelledError):
        await outer
