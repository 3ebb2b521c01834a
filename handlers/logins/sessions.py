"""Pending logins started over HTTP, keyed by their OAuth ``state`` (CLIProxyAPI ``oauth_sessions.go``).

One :class:`LoginSessions` table per app, shared by every flow (browser and device)::

    sessions = sessions_for(request.app)            # app[LOGIN_SESSIONS], or one made on first use
    sessions.register(state, "anthropic")           # provider key as normalize_oauth_provider gives it
    ...                                              # the flow runs as a background task
    result = await sessions.wait_callback(state, wait_seconds=300)   # CallbackResult(code, state, error)
    sessions.set_error(state, "State code error")   # failure: get-auth-status shows the message
    sessions.complete(state)                         # success: the session disappears ("ok")
    sessions.complete_provider("anthropic")          # also drop every other pending one (legacy does)

    status, body = sessions.status_body(state)      # the exact GET /get-auth-status answer

Device flows never wait for a callback; they only ``register`` / ``set_error`` / ``complete``.

A callback (from a local callback server, or pasted into ``POST /oauth-callback``) is handed over
with :meth:`LoginSessions.deliver`, which accepts exactly one callback per session: a second one for
the same state (a replay) is refused with 409 ``oauth flow is not pending``, an unknown or finished
state with 404 ``unknown or expired state``, another provider's state with 400 ``provider does not
match state``. The waiting flow wakes up at once; nothing is written to disk (the legacy passes the
code through ``.oauth-<provider>-<state>.oauth`` files in the auth-dir and polls them).

Sessions live 10 minutes (``SESSION_TTL``), refreshed by ``set_error`` so a failure stays visible;
expired ones are dropped on every access. Everything here runs on the event loop; no locking.
"""

from __future__ import annotations

import asyncio
import re
import time
import weakref
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from quotio_gateway.gostrings import go_trim

from .per_app import installed_or_lazy

__all__ = [
    "LOGIN_SESSIONS",
    "SESSION_TTL",
    "CallbackRejected",
    "CallbackResult",
    "LoginSession",
    "LoginSessions",
    "normalize_oauth_provider",
    "sessions_for",
    "valid_state",
]

SESSION_TTL = 10 * 60.0
DEFAULT_ERROR = "Authentication failed"
_STATE_CHARS = re.compile(r"[A-Za-z0-9._-]+")

# Route and body spellings the legacy accepts for each provider, and the key it files them under.
_PROVIDER_KEYS = {
    "anthropic": "anthropic",
    "claude": "anthropic",
    "codex": "codex",
    "openai": "codex",
    "gemini": "gemini",
    "google": "gemini",
    "iflow": "iflow",
    "i-flow": "iflow",
    "antigravity": "antigravity",
    "anti-gravity": "antigravity",
    "qwen": "qwen",
}


def normalize_oauth_provider(name: str) -> str | None:
    """The session key for a provider name from a route or request body, None when unsupported."""
    return _PROVIDER_KEYS.get(go_trim(name).lower())


def valid_state(state: str) -> bool:
    """The legacy's state rules: 1-128 of ``[A-Za-z0-9._-]``, and never ``..``.

    Trimmed as Go's ``strings.TrimSpace``, not ``str.strip``: Python also strips the ASCII
    separators U+001C-U+001F, so ``%1Cabc`` would pass here where the legacy answers
    ``invalid state``."""
    value = go_trim(state)
    return (
        0 < len(value) <= 128
        and ".." not in value
        and _STATE_CHARS.fullmatch(value) is not None
    )


@dataclass(frozen=True, slots=True)
class CallbackResult:
    """What the provider sent back to the redirect URI (``error`` set when the user said no)."""

    code: str
    state: str
    error: str = ""


class CallbackRejected(Exception):
    """A callback the table will not accept; ``status``/``message`` are the HTTP answer."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


@dataclass(slots=True)
class LoginSession:
    state: str
    provider: str
    expires_at: float
    # "" while pending; otherwise the error shown by get-auth-status.
    status: str = ""
    callback: asyncio.Future[CallbackResult] | None = field(default=None, repr=False)

    @property
    def pending(self) -> bool:
        return not self.status


class LoginSessions:
    def __init__(self, ttl: float = SESSION_TTL, clock: Callable[[], float] = time.monotonic) -> None:
        self._ttl = ttl
        self._clock = clock
        self._sessions: dict[str, LoginSession] = {}

    def __len__(self) -> int:
        self._purge()
        return len(self._sessions)

    def register(self, state: str, provider: str) -> LoginSession:
        """Start tracking ``state``; a session already under that state is replaced."""
        self._purge()
        old = self._sessions.get(state)
        if old is not None:
            _cancel(old)
        session = LoginSession(state=state, provider=provider, expires_at=self._clock() + self._ttl)
        self._sessions[state] = session
        return session

    def get(self, state: str) -> LoginSession | None:
        self._purge()
        return self._sessions.get(go_trim(state))

    def is_pending(self, state: str, provider: str | None = None) -> bool:
        session = self.get(state)
        if session is None or not session.pending:
            return False
        return provider is None or session.provider == provider

    def set_error(self, state: str, message: str) -> None:
        """Fail the session; it stays (another TTL) so the poller can read ``message``."""
        session = self.get(state)
        if session is None:
            return
        session.status = go_trim(message) or DEFAULT_ERROR
        session.expires_at = self._clock() + self._ttl
        _cancel(session)

    def complete(self, state: str) -> None:
        """Success: forget the session, so get-auth-status answers ``ok``."""
        session = self._sessions.pop(state, None)
        if session is not None:
            _cancel(session)

    def complete_provider(self, provider: str) -> int:
        """Forget every session of ``provider`` (the legacy does this after a successful login)."""
        states = [s.state for s in self._sessions.values() if s.provider == provider]
        for state in states:
            self.complete(state)
        return len(states)

    def deliver(self, state: str, provider: str, *, code: str = "", error: str = "") -> None:
        """Hand a callback to the flow waiting on ``state``; raises :class:`CallbackRejected`."""
        session = self.get(state)
        if session is None:
            raise CallbackRejected(404, "unknown or expired state")
        if not session.pending:
            raise CallbackRejected(409, "oauth flow is not pending")
        if session.provider != provider:
            raise CallbackRejected(400, "provider does not match state")
        future = self._future(session)
        if future.done():
            # A second redirect with the same state: the first one is already being exchanged.
            raise CallbackRejected(409, "oauth flow is not pending")
        future.set_result(CallbackResult(code=code, state=state, error=error))

    async def wait_callback(self, state: str, wait_seconds: float) -> CallbackResult:
        """The callback for ``state``; TimeoutError after ``wait_seconds``, KeyError if not pending."""
        session = self.get(state)
        if session is None or not session.pending:
            raise KeyError(state)
        future = self._future(session)
        return await asyncio.wait_for(asyncio.shield(future), wait_seconds)

    def status_body(self, state: str) -> tuple[int, dict[str, Any]]:
        """``GET /get-auth-status?state=``: (HTTP status, JSON body) exactly as the legacy."""
        value = go_trim(state)
        if not value:
            return 200, {"status": "ok"}
        if not valid_state(value):
            return 400, {"status": "error", "error": "invalid state"}
        session = self.get(value)
        if session is None:
            # Finished, expired and never-seen all read as ok; pollers just stop.
            return 200, {"status": "ok"}
        if session.status:
            return 200, {"status": "error", "error": session.status}
        return 200, {"status": "wait"}

    def _future(self, session: LoginSession) -> asyncio.Future[CallbackResult]:
        if session.callback is None:
            session.callback = asyncio.get_running_loop().create_future()
        return session.callback

    def _purge(self) -> None:
        now = self._clock()
        expired = [state for state, s in self._sessions.items() if s.expires_at <= now]
        for state in expired:
            _cancel(self._sessions.pop(state))


def _cancel(session: LoginSession) -> None:
    if session.callback is not None and not session.callback.done():
        session.callback.cancel()


LOGIN_SESSIONS: web.AppKey[LoginSessions] = web.AppKey("quotio_login_sessions", LoginSessions)
# Apps whose mapping was not given a table before start-up; weak so a finished test app goes away.
_LAZY_TABLES: weakref.WeakKeyDictionary[web.Application, LoginSessions] = weakref.WeakKeyDictionary()


def sessions_for(app: web.Application) -> LoginSessions:
    """The app's session table: ``app[LOGIN_SESSIONS]`` when set up front, else one made lazily."""
    return installed_or_lazy(app, LOGIN_SESSIONS, _LAZY_TABLES, LoginSessions)
