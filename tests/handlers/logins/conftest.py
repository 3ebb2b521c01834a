"""Fixtures the device-login tests (Qwen, Copilot, Kiro) and the callback tests share.

A test file that needs a differently seeded fake (Vertex's service accounts) defines its own
``fake``, which takes precedence over this one.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest

from handlers.auth.stores.file_store import FileTokenStore
from tests.fakes.device_providers import DeviceProviderState, start_device_providers


@pytest.fixture
async def fake() -> AsyncIterator[DeviceProviderState]:
    runner, state = await start_device_providers()
    yield state
    await runner.cleanup()


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as session:
        yield session


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[FileTokenStore]:
    store = FileTokenStore(tmp_path / "auth")
    await store.start()
    yield store
    await store.close()
