"""Driving one browser login to its end: wait for the callback, exchange, save, report.

Used by the management routes (the login runs as a background task; progress shows through
``get-auth-status``) and by the CLI (the login runs in the foreground)::

    credential = await complete_login(login, sessions, store, wait_seconds=300)

Whatever fails, the session gets the legacy's message, :class:`LoginFailed` is raised, and nothing
is written: the credential is saved only after every provider call succeeded, and the token
stores write atomically, so an existing file of the same name is never truncated or lost.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

import structlog

from handlers.auth.credential import Credential, CredentialError
from handlers.auth.stores import TokenStore

from .authcode import AuthCodeLogin, LoginFailed
from .sessions import LoginSessions

log = structlog.get_logger("handlers.logins.browser_flow")

__all__ = ["DEFAULT_WAIT_SECONDS", "LoginCancelled", "complete_login"]

# The legacy waits five minutes for the browser, on every path.
DEFAULT_WAIT_SECONDS = 300.0


class LoginCancelled(LoginFailed):
    """The session ended elsewhere (replaced, expired, finished) while this login waited."""


StoreSource = TokenStore | Callable[[], Awaitable[TokenStore]]


async def complete_login(login: AuthCodeLogin, sessions: LoginSessions, store: StoreSource, *,
                         wait_seconds: float = DEFAULT_WAIT_SECONDS) -> Credential:
    """Finish ``login`` (already registered in ``sessions`` under ``login.state``).

    ``store`` may be a function giving the store, so an HTTP-started login opens (or fails to
    open) it only once there is something to save.
    """
    state = login.state
    try:
        callback = await sessions.wait_callback(state, wait_seconds)
    except TimeoutError:
        sessions.set_error(state, login.timeout_message)
        log.warning("login timed out waiting for the callback", provider=login.provider)
        raise LoginFailed(login.timeout_message, f"no callback within {wait_seconds:g} s") from None
    except KeyError:
        raise LoginCancelled("login is no longer pending") from None
    except asyncio.CancelledError:
        task = asyncio.current_task()
        if task is not None and task.cancelling():
            raise
        # The session's future was dropped (set_error / complete / replaced), not this task.
        raise LoginCancelled("login is no longer pending") from None
    try:
        credential = await login.finish(callback)
    except LoginFailed as exc:
        sessions.set_error(state, exc.message)
        log.warning("login failed", provider=login.provider, reason=exc.message, detail=exc.detail)
        raise
    except CredentialError as exc:
        # A file name the store refuses (an e-mail or project id holding "/" or "\"): the
        # legacy would write it somewhere and answer ok; we save nothing and say so. Left
        # uncaught, the session would read "wait" and then, once expired, "ok".
        sessions.set_error(state, login.save_failed_message)
        log.error("the login's credential cannot be saved", provider=login.provider, reason=exc.reason,
                  error=str(exc))
        raise LoginFailed(login.save_failed_message, str(exc)) from None
    try:
        target = store if isinstance(store, TokenStore) else await store()
        saved = await target.save(credential)
    except Exception as exc:  # any store failure ends the login the same way; the old file stays
        sessions.set_error(state, login.save_failed_message)
        log.error("saving the login's credential failed", provider=login.provider,
                  file=credential.file_name, error=str(exc))
        raise LoginFailed(login.save_failed_message, str(exc)) from None
    sessions.complete(state)
    # The legacy also drops every other pending login of this provider once one succeeds.
    sessions.complete_provider(login.session_key)
    log.info("login saved", provider=login.provider, file=saved.file_name)
    return saved
