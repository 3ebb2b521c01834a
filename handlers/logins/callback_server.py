"""The small local HTTP server the provider redirects the browser to (``localhost:<port><path>``).

It never holds a login of its own: it checks each callback against the :class:`LoginSessions`
table and hands the ``code`` (or the provider's ``error``) to the flow waiting on that ``state``.

Answers (HTML pages meant for the person in the browser):

- ``200`` callback accepted (the flow takes over; success or failure shows in the terminal or in
  ``get-auth-status``); iFlow instead redirects (302) to its own success or error page, as the
  legacy does;
- ``400`` no ``state``; a ``state`` that no pending login of this provider has (a mismatch, or a
  login that already finished); no ``code`` and no ``error`` — the login keeps waiting, so a stray
  or forged request cannot end someone else's login;
- ``409`` a second callback for a state that already received one (a replay);
- ``404`` any other path.

Several HTTP-started logins of one provider share one server on its port (``CallbackServers``);
it stops when the last of them ends.
"""

from __future__ import annotations

import html
from dataclasses import dataclass, field

import structlog
from aiohttp import web

from quotio_gateway.goquery import query_value
from quotio_gateway.gostrings import go_trim

from .sessions import CallbackRejected, LoginSessions

log = structlog.get_logger("handlers.logins.callback_server")

__all__ = ["CallbackServer", "CallbackServerError", "CallbackServers", "page"]


class CallbackServerError(OSError):
    """The callback port could not be bound (usually another program holds it)."""


def page(title: str, message: str, *, status: int = 200) -> web.Response:
    """A small HTML page for the person in the browser."""
    t, m = html.escape(title), html.escape(message)
    body = (
        f'<!DOCTYPE html><html><head><meta charset="utf-8"><title>{t}</title></head>'
        f'<body style="font-family:sans-serif;text-align:center;margin-top:4em">'
        f"<h1>{t}</h1><p>{m}</p></body></html>"
    )
    return web.Response(status=status, text=body, content_type="text/html",
                        headers={"Cache-Control": "no-store"})


@dataclass
class CallbackServer:
    """One listener on ``host:port`` accepting ``GET <path>`` callbacks for ``session_key`` logins."""

    sessions: LoginSessions
    session_key: str
    path: str
    port: int
    host: str = "127.0.0.1"
    # iFlow sends the browser on to its own pages instead of showing ours.
    success_redirect: str = ""
    error_redirect: str = ""
    _runner: web.AppRunner | None = field(default=None, init=False, repr=False)
    bound_port: int = field(default=0, init=False)

    async def start(self) -> int:
        app = web.Application()
        app.router.add_get(self.path, self._handle)
        runner = web.AppRunner(app, access_log=None, handle_signals=False)
        await runner.setup()
        site = web.TCPSite(runner, self.host, self.port, reuse_address=True)
        try:
            await site.start()
        except OSError as exc:
            await runner.cleanup()
            raise CallbackServerError(
                exc.errno or 0, f"cannot listen on {self.host}:{self.port}: {exc.strerror or exc}"
            ) from None
        self._runner = runner
        addresses = runner.addresses
        self.bound_port = int(addresses[0][1]) if addresses else self.port
        return self.bound_port

    async def stop(self) -> None:
        runner, self._runner = self._runner, None
        if runner is not None:
            await runner.cleanup()

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        # Read as Go's URL.Query() (the legacy's servers and Gin's c.Query): a pair holding ";"
        # or a malformed escape is dropped, where aiohttp would keep it.
        state = go_trim(query_value(request, "state"))
        code = go_trim(query_value(request, "code"))
        error = go_trim(query_value(request, "error")) or go_trim(query_value(request, "error_description"))
        if not state:
            return self._refuse(400, "The callback carries no state parameter.")
        if not code and not error:
            return self._refuse(400, "The callback carries neither a code nor an error.")
        try:
            self.sessions.deliver(state, self.session_key, code=code, error=error)
        except CallbackRejected as exc:
            log.warning("oauth callback rejected", provider=self.session_key, reason=exc.message)
            if exc.status == 409:
                return self._refuse(409, "This sign-in link was already used.")
            return self._refuse(400, "The state parameter does not match a pending sign-in.")
        if error:
            if self.error_redirect:
                raise web.HTTPFound(self.error_redirect)
            return page("Authentication failed", "The provider reported an error. You can close this window.")
        if self.success_redirect:
            raise web.HTTPFound(self.success_redirect)
        return page("Authentication successful!", "You can close this window and return to the terminal or app.")

    def _refuse(self, status: int, message: str) -> web.StreamResponse:
        if self.error_redirect:
            # iFlow's error page, like the legacy; the status stays visible to tools (tests, curl).
            return web.Response(status=status, headers={"Location": self.error_redirect,
                                                        "Cache-Control": "no-store"})
        return page("Authentication failed", message, status=status)


@dataclass
class _Lease:
    server: CallbackServer
    users: int


class CallbackServers:
    """Shared callback servers by port, for logins started over HTTP."""

    def __init__(self) -> None:
        self._leases: dict[int, _Lease] = {}

    async def acquire(self, server: CallbackServer) -> CallbackServer:
        """The running server for ``server.port`` (started when none runs); CallbackServerError."""
        lease = self._leases.get(server.port)
        if lease is not None and lease.server.session_key == server.session_key and server.port:
            lease.users += 1
            return lease.server
        if lease is not None:
            # Another provider's server on this port (only possible with test ports): replace it,
            # as the legacy replaces its forwarder; that login can still be finished by pasting.
            await lease.server.stop()
            del self._leases[server.port]
        await server.start()
        if server.port:
            self._leases[server.port] = _Lease(server, 1)
        return server

    async def release(self, server: CallbackServer) -> None:
        lease = self._leases.get(server.port)
        if lease is None or lease.server is not server:
            await server.stop()
            return
        lease.users -= 1
        if lease.users <= 0:
            del self._leases[server.port]
            await server.stop()

    async def close(self) -> None:
        leases, self._leases = list(self._leases.values()), {}
        for lease in leases:
            await lease.server.stop()
