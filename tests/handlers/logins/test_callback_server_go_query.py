"""The local callback server reads its query as Go's URL.Query() does (the legacy's callback servers
and, behind its forwarder, Gin's c.Query): a pair holding ";" or a malformed escape is dropped."""

from __future__ import annotations

import aiohttp
import yarl

from handlers.logins.callback_server import CallbackServer
from handlers.logins.sessions import CallbackResult, LoginSessions


async def test_pairs_go_drops_are_not_read(http: aiohttp.ClientSession) -> None:
    sessions = LoginSessions()
    sessions.register("st1", "anthropic")
    server = CallbackServer(sessions, "anthropic", "/callback", 0)
    port = await server.start()
    try:
        base = f"http://127.0.0.1:{port}/callback"
        # Go keeps neither "code=abc;x" nor "error=%zz": no code, no error, the login keeps waiting.
        async with http.get(yarl.URL(f"{base}?code=abc;x&error=%zz&state=st1", encoded=True)) as resp:
            assert resp.status == 400
        assert sessions.is_pending("st1")
        async with http.get(yarl.URL(f"{base}?code=a+b%21&state=st1", encoded=True)) as resp:
            assert resp.status == 200
        assert await sessions.wait_callback("st1", 1) == CallbackResult("a b!", "st1", "")
    finally:
        await server.stop()
