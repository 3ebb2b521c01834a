"""Puts the relay on the app: its sessions, their credentials in the model registry and the
inference runtime, and the ``ws-auth`` switch (turning it on ends every open session, as the
legacy's ``SetWebsocketAuthChangeHandler`` does; turning it off leaves them)."""

from __future__ import annotations

from aiohttp import web

from handlers.inference.runtime import InferenceRuntime
from handlers.models.registry import registry_for
from quotio_gateway.config.models import Config
from quotio_gateway.config.store import ConfigStore

from .manager import RELAY, RelayManager


def install_wsrelay(app: web.Application, config_store: ConfigStore, inference: InferenceRuntime,
                    manager: RelayManager | None = None) -> RelayManager:
    relay = manager or RelayManager()
    app[RELAY] = relay
    registry = registry_for(config_store)
    registry.add_source(relay.records)
    relay.subscribe(registry.refresh)
    inference.relay = relay

    def ws_auth_changed(old: Config, new: Config) -> None:
        if new.ws_auth and not old.ws_auth:
            relay.stop()

    config_store.subscribe(ws_auth_changed)

    async def shutdown(_: web.Application) -> None:
        relay.stop()

    app.on_shutdown.append(shutdown)
    return relay
