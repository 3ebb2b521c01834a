"""Stopping background tasks the same way everywhere."""

from __future__ import annotations

import asyncio


async def cancel_and_wait(task: asyncio.Task[object] | None) -> None:
    """Cancel ``task`` and wait until it has finished.

    The task's own CancelledError is swallowed, but a cancellation aimed at the caller (which
    arrives while it waits here) is not: the caller's shutdown must still be interruptible.
    """
    if task is None or task.done():
        return
    task.cancel()
    current = asyncio.current_task()
    try:
        await task
    except asyncio.CancelledError:
        if current is not None and current.cancelling():
            raise
