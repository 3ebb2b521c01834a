"""Shared pieces of the browser-login tests: fake providers, a file store, a scripted browser."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp

from handlers.auth.stores.file_store import FileTokenStore
from handlers.logins.device_poll import LoginIO
from handlers.logins.endpoints import ProviderEndpoints, endpoints_for
from tests.fakes.oauth_providers import FakeOAuthProviders


@dataclass
class Visit:
    """What the scripted browser saw when it came back to the callback server."""

    status: int
    location: str
    text: str


@dataclass
class BrowserEnv:
    fake: FakeOAuthProviders
    store: FileTokenStore
    http: aiohttp.ClientSession
    auth_dir: Path
    visits: list[Visit] = field(default_factory=list)
    said: list[str] = field(default_factory=list)
    _tasks: list[asyncio.Task[Any]] = field(default_factory=list)

    @property
    def gateway(self) -> dict[str, Any]:
        return {"provider-endpoints": self.fake.overrides()}

    def endpoints(self, provider: str) -> ProviderEndpoints:
        return endpoints_for(provider, self.gateway)

    async def consent(self, authorize_url: str) -> Visit:
        """Open the authorize URL, let the fake consent, follow its redirect to the callback."""
        async with self.http.get(authorize_url, allow_redirects=False) as first:
            location = first.headers.get("Location", "")
        assert location, f"authorize answered {first.status} without a redirect"
        return await self.visit(location)

    async def visit(self, url: str) -> Visit:
        # The redirect names localhost; the callback server listens on 127.0.0.1 only.
        url = url.replace("//localhost:", "//127.0.0.1:")
        async with self.http.get(url, allow_redirects=False) as resp:
            visit = Visit(resp.status, resp.headers.get("Location", ""), await resp.text())
        self.visits.append(visit)
        return visit

    def io(self, *, drive: bool = True) -> LoginIO:
        """A terminal whose "browser" consents at once (or does nothing when ``drive`` is False)."""

        def open_browser(url: str) -> bool:
            if drive:
                self._tasks.append(asyncio.get_running_loop().create_task(self.consent(url)))
            return True

        return LoginIO(say=self.said.append, open_browser=open_browser)

    async def settle(self) -> None:
        for task in self._tasks:
            await task


@asynccontextmanager
async def browser_env(tmp_path: Path) -> AsyncIterator[BrowserEnv]:
    fake = FakeOAuthProviders()
    await fake.start()
    auth_dir = tmp_path / "auths"
    store = FileTokenStore(auth_dir)
    await store.start()
    http = aiohttp.ClientSession()
    env = BrowserEnv(fake, store, http, auth_dir)
    try:
        yield env
    finally:
        for task in env._tasks:
            task.cancel()
        await asyncio.gather(*env._tasks, return_exceptions=True)
        await http.close()
        await store.close()
        await fake.stop()
