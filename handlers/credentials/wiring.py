"""Puts the auth-dir credentials to work in the gateway: one store, one refresh manager, one runtime.

``install_credentials(app, config_store, inference)`` adds start-up and clean-up hooks. At start-up
it opens the token store CLIProxyAPI would use for this environment (``store_from_env`` over the
config's ``auth-dir``), loads every credential, starts the auth-dir watcher and the refresh loop,
and plugs the runtime into native inference as its OAuth credential source. A store that cannot be
reached does not stop the gateway: the error is logged with the store's own message and start-up
is retried in the background with backoff, while API-key credentials and legacy routes keep
serving.

Logins started over HTTP save through the login context's own store object. The file store's
watcher notices those files like any outside edit; PostgreSQL, Git and object stores have no
watcher, so for them the login context gets a store that tells the runtime and the refresh
manager about every credential it saves or deletes, and a new login serves at once.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
from dataclasses import dataclass, field
from pathlib import Path

import aiohttp
import structlog
from aiohttp import web

from handlers.auth.credential import Credential
from handlers.auth.stores import LoadResult, StoreUnavailable, TokenStore, store_from_env
from handlers.auth.stores.file_store import FileTokenStore
from handlers.inference.runtime import InferenceRuntime
from handlers.logins.context import LOGIN_CONTEXT
from handlers.logins.device_http import token_call_session
from handlers.logins.refresh import RefreshManager
from handlers.logins.refresh_metrics import RefreshMetrics
from handlers.logins.refresh_providers import refresh_context
from handlers.models.registry import registry_for
from quotio_gateway.appkeys import METRICS
from quotio_gateway.config.models import DEFAULT_AUTH_DIR, Config
from quotio_gateway.config.store import ConfigStore

from .runtime import CredentialRuntime

log = structlog.get_logger("handlers.credentials")

RETRY_FIRST = 2.0
RETRY_MAX = 60.0


@dataclass
class CredentialServices:
    store: TokenStore
    session: aiohttp.ClientSession
    manager: RefreshManager
    runtime: CredentialRuntime
    started: asyncio.Event = field(default_factory=asyncio.Event)
    retry_task: asyncio.Task[None] | None = None

    def notifying(self) -> NotifyingStore:
        """The store, with each save and delete reaching the runtime and the refresh manager at
        once (management uploads and deletes, as the legacy's registerAuthFromFile does)."""
        return NotifyingStore(self.store, self)


CREDENTIALS = web.AppKey("quotio_credentials", CredentialServices)


class NotifyingStore(TokenStore):
    """A token store that reports each save and delete to the running credential services."""

    def __init__(self, inner: TokenStore, services: CredentialServices) -> None:
        super().__init__()
        self.inner = inner
        self.services = services
        self.kind = inner.kind

    async def start(self) -> None:
        await self.inner.start()

    async def close(self) -> None:
        await self.inner.close()

    async def load_all(self) -> LoadResult:
        return await self.inner.load_all()

    async def get(self, file_name: str) -> Credential | None:
        return await self.inner.get(file_name)

    async def save(self, credential: Credential, *, if_revision: str | None = None) -> Credential:
        saved = await self.inner.save(credential, if_revision=if_revision)
        if self.services.started.is_set():
            self.services.runtime.apply(saved)
            self.services.manager.upsert(saved)
        return saved

    async def delete(self, file_name: str) -> bool:
        deleted = await self.inner.delete(file_name)
        if deleted and self.services.started.is_set():
            self.services.runtime.forget(file_name)
            self.services.manager.remove(file_name)
        return deleted


def _auth_dir(config_store: ConfigStore) -> Path:
    return Path(config_store.current.auth_dir or DEFAULT_AUTH_DIR).expanduser()


def build_services(app: web.Application, config_store: ConfigStore, inference: InferenceRuntime) -> CredentialServices:
    store = store_from_env(os.environ, _auth_dir(config_store))
    session = token_call_session()
    context = refresh_context(session, lambda: config_store.current)
    manager = RefreshManager(store, context, metrics=RefreshMetrics(app[METRICS].registry))
    runtime = CredentialRuntime(store, inference.client, registry=registry_for(config_store),
                                config=lambda: config_store.current, refresher=manager.as_refresher(),
                                unauthorized=manager.on_unauthorized, blocked=manager.is_blocked,
                                listeners=[manager.on_auth_change], copilot_tokens=context.copilot,
                                vertex_tokens=context.vertex, antigravity_models=True)
    return CredentialServices(store, session, manager, runtime)


async def _start(services: CredentialServices, inference: InferenceRuntime) -> None:
    result = await services.runtime.start()
    services.manager.load(result.credentials.values())
    services.manager.start()
    inference.oauth = services.runtime
    # A file that registers again starts with a clean rotation record, as in the legacy.
    services.runtime.follow_reregistration(inference.state.forget)
    services.started.set()
    for name, error in result.skipped.items():
        log.warning("credential file skipped", file=name, reason=getattr(error, "reason", str(error)))


async def _retry(services: CredentialServices, inference: InferenceRuntime) -> None:
    delay = RETRY_FIRST
    while not services.started.is_set():
        await asyncio.sleep(delay)
        try:
            await _start(services, inference)
        except StoreUnavailable as exc:
            log.error("token store still unreachable", store=services.store.kind, error=str(exc),
                      next_try_seconds=min(delay * 2, RETRY_MAX))
            delay = min(delay * 2, RETRY_MAX)
    log.info("token store reachable again; OAuth credentials loaded", store=services.store.kind)


def _endpoints_of(cfg: Config) -> object:
    gateway = getattr(cfg, "gateway", None) or {}
    return gateway.get("provider-endpoints") if isinstance(gateway, dict) else None


def install_credentials(app: web.Application, config_store: ConfigStore, inference: InferenceRuntime) -> None:
    async def startup(app: web.Application) -> None:
        services = build_services(app, config_store, inference)
        app[CREDENTIALS] = services

        def endpoints_changed(old: Config, new: Config) -> None:
            if _endpoints_of(old) != _endpoints_of(new):
                services.runtime.rebuild_views()

        config_store.subscribe(endpoints_changed)
        logins = app.get(LOGIN_CONTEXT)
        if logins is not None and logins.store is None and not isinstance(services.store, FileTokenStore):
            logins.store = NotifyingStore(store_from_env(os.environ, _auth_dir(config_store)), services)
        try:
            await _start(services, inference)
        except StoreUnavailable as exc:
            log.error("token store unreachable at start-up; retrying in the background "
                      "(API-key credentials still serve)", store=services.store.kind, error=str(exc))
            services.retry_task = asyncio.get_running_loop().create_task(_retry(services, inference))

    async def cleanup(app: web.Application) -> None:
        services = app.get(CREDENTIALS)
        if services is None:
            return
        if services.retry_task is not None:
            services.retry_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await services.retry_task
        inference.oauth = None
        await services.manager.stop()
        if services.started.is_set():
            await services.runtime.stop()
        else:
            with contextlib.suppress(Exception):
                await services.store.close()
        await services.session.close()

    app.on_startup.append(startup)
    app.on_cleanup.append(cleanup)
