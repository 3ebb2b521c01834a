"""Per-app state of the HTTP-started logins: token store, HTTP client, callback servers, tasks.

The app factory may install it up front (and should, so it is closed with the app)::

    setup_login_context(app)                        # or setup_login_context(app, LoginContext(...))

Otherwise :func:`login_context` makes one on first use. The token store is the one CLIProxyAPI
would use for this environment (``store_from_env`` over the config's ``auth-dir``) unless one is
given; tests pass their own store, callback ports (0 = any free port) and a shorter wait.
"""

from __future__ import annotations

import asyncio
import os
import weakref
from collections.abc import Coroutine, Mapping
from dataclasses import dataclass, field
from typing import Any

import aiohttp
from aiohttp import web

from handlers.auth.stores import TokenStore, store_from_env
from quotio_gateway.appkeys import CONFIG_STORE
from quotio_gateway.config.models import DEFAULT_AUTH_DIR

from .browser_flow import DEFAULT_WAIT_SECONDS
from .callback_server import CallbackServers
from .device_http import token_call_session
from .per_app import installed_or_lazy

__all__ = ["LOGIN_CONTEXT", "LoginContext", "login_context", "setup_login_context"]


@dataclass
class LoginContext:
    store: TokenStore | None = None
    http: aiohttp.ClientSession | None = None
    # Provider (endpoint-table name) -> port to listen on instead of the provider's fixed one.
    callback_ports: Mapping[str, int] = field(default_factory=dict)
    callback_host: str = "127.0.0.1"
    wait_seconds: float = DEFAULT_WAIT_SECONDS
    servers: CallbackServers = field(default_factory=CallbackServers)
    tasks: set[asyncio.Task[Any]] = field(default_factory=set)
    _store_started: bool = False
    _owns_http: bool = False
    _lock: asyncio.Lock = field(default_factory=asyncio.Lock)

    async def token_store(self, app: web.Application) -> TokenStore:
        async with self._lock:
            if self.store is None:
                cfg = app[CONFIG_STORE].current
                self.store = store_from_env(os.environ, cfg.auth_dir or DEFAULT_AUTH_DIR)
            if not self._store_started:
                await self.store.start()
                self._store_started = True
            return self.store

    def client(self) -> aiohttp.ClientSession:
        if self.http is None or self.http.closed:
            self.http = token_call_session()
            self._owns_http = True
        return self.http

    def spawn(self, coro: Coroutine[Any, Any, Any]) -> asyncio.Task[Any]:
        """Run a login in the background; a reference is kept so it is not collected mid-way."""
        task = asyncio.get_running_loop().create_task(coro)
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)
        return task

    async def close(self) -> None:
        tasks = list(self.tasks)
        for task in tasks:
            task.cancel()
        if tasks:
            await asyncio.gather(*tasks, return_exceptions=True)
        await self.servers.close()
        if self._owns_http and self.http is not None:
            await self.http.close()
        if self.store is not None and self._store_started:
            await self.store.close()
            self._store_started = False


LOGIN_CONTEXT: web.AppKey[LoginContext] = web.AppKey("quotio_login_context", LoginContext)
_LAZY: weakref.WeakKeyDictionary[web.Application, LoginContext] = weakref.WeakKeyDictionary()


def setup_login_context(app: web.Application, context: LoginContext | None = None) -> LoginContext:
    """Install the context before the app starts and close it with the app."""
    ctx = context or LoginContext()
    app[LOGIN_CONTEXT] = ctx

    async def close(_app: web.Application) -> None:
        await ctx.close()

    app.on_cleanup.append(close)
    return ctx


def login_context(app: web.Application) -> LoginContext:
    return installed_or_lazy(app, LOGIN_CONTEXT, _LAZY, LoginContext)
