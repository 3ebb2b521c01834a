"""The relay's sessions by channel name, and the ``aistudio`` credentials they stand for.

Legacy: ``internal/wsrelay/manager.go`` and the ``wsOnConnected`` / ``wsOnDisconnected`` hooks
of ``sdk/cliproxy/service.go``. Each connection gets a channel name ``aistudio-<16 random
characters>`` (the legacy sets no provider factory, so a client cannot choose it); the channel is
registered as one credential of provider ``aistudio`` serving the AI Studio catalogue for as long
as its session lives. A new session under a name already taken replaces the old one, whose
waiting requests fail with ``replaced by new connection``; the credential stays.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import structlog
from aiohttp import web

from handlers.auth.credential import stable_index
from handlers.models.registry import CredentialRecord
from handlers.providers.aistudio import AIStudioExecutor
from handlers.providers.http import UpstreamClient

from .session import HEARTBEAT, READ_TIMEOUT, RelaySession

log = structlog.get_logger("handlers.wsrelay")

PROVIDER = "aistudio"
_ALPHABET = "abcdefghijklmnopqrstuvwxyz0123456789"
REPLACED = "replaced by new connection"
STOPPED = "wsrelay: manager stopped"


def random_channel_name() -> str:
    return "aistudio-" + "".join(secrets.choice(_ALPHABET) for _ in range(16))


# eq=False: identity equality and hashing (the metadata dict would make a field hash fail).
@dataclass(frozen=True, slots=True, eq=False)
class RelayCredential:
    """The runtime-only auth the legacy registers per channel (no file, no key, no refresh)."""

    id: str
    provider: str = PROVIDER
    label: str = ""
    prefix: str = ""
    priority: int = 0
    disabled: bool = False
    proxy_url: str = ""
    metadata: dict[str, Any] = field(default_factory=dict)
    connected_ns: int = 0  # the legacy's CreatedAt / UpdatedAt

    @property
    def auth_index(self) -> str:
        """``EnsureIndex`` of an auth with neither file nor key: ``id:`` + its id."""
        return stable_index("id:" + self.id)


class RelayManager:
    def __init__(self, *, name_factory: Callable[[], str] = random_channel_name,
                 heartbeat: float = HEARTBEAT, read_timeout: float = READ_TIMEOUT) -> None:
        self._name_factory = name_factory
        self.heartbeat = heartbeat
        self.read_timeout = read_timeout
        self._sessions: dict[str, RelaySession] = {}
        self._credentials: dict[str, RelayCredential] = {}
        self._listeners: list[Callable[[], None]] = []
        self._executors: dict[int, AIStudioExecutor] = {}

    # --- sessions -----------------------------------------------------------------------------

    def attach(self, ws: web.WebSocketResponse) -> RelaySession:
        name = (self._name_factory() or random_channel_name()).strip().lower()
        session = RelaySession(ws, name, on_closed=self._closed, heartbeat=self.heartbeat,
                               read_timeout=self.read_timeout)
        replaced = self._sessions.get(name)
        self._sessions[name] = session
        if replaced is not None:
            replaced.close_soon(REPLACED)
        # Only channels named like the legacy's own become credentials (wsOnConnected).
        if name.startswith("aistudio-") and name not in self._credentials:
            self._credentials[name] = RelayCredential(id=name, label=name, metadata={"email": name},
                                                      connected_ns=time.time_ns())
            log.info("websocket provider connected", channel=name)
            self._changed()
        return session

    def session(self, name: str) -> RelaySession | None:
        return self._sessions.get(name.strip().lower())

    def _closed(self, session: RelaySession, cause: str) -> None:
        if self._sessions.get(session.name) is session:
            del self._sessions[session.name]
        if cause == REPLACED:
            log.info("websocket provider replaced", channel=session.name)
            return
        log.info("websocket provider disconnected", channel=session.name, cause=cause)
        if session.name not in self._sessions and self._credentials.pop(session.name, None) is not None:
            self._changed()

    def stop(self) -> None:
        """End every session (shutdown, or ``ws-auth`` switched on)."""
        sessions, self._sessions = list(self._sessions.values()), {}
        for session in sessions:
            session.close_soon(STOPPED)

    @property
    def channels(self) -> list[str]:
        return sorted(self._sessions)

    # --- credentials (the inference runtime's CredentialSource) ----------------------------------

    def subscribe(self, listener: Callable[[], None]) -> None:
        self._listeners.append(listener)

    def _changed(self) -> None:
        for listener in self._listeners:
            listener()

    def records(self) -> list[CredentialRecord]:
        return [CredentialRecord(provider=PROVIDER, id=name) for name in sorted(self._credentials)]

    def credentials(self) -> list[RelayCredential]:
        return [self._credentials[name] for name in sorted(self._credentials)]

    def usable(self, credential_id: str) -> RelayCredential | None:
        return self._credentials.get(credential_id)

    async def refresh_now(self, credential_id: str) -> bool:
        return False  # nothing to refresh: the browser holds the real credentials

    def executor_for(self, credential: Any, client: UpstreamClient) -> AIStudioExecutor:
        executor = self._executors.get(id(client))
        if executor is None:
            executor = self._executors[id(client)] = AIStudioExecutor(client, self)
        return executor


RELAY = web.AppKey("quotio_wsrelay", RelayManager)
