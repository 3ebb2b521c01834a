from __future__ import annotations

import socket
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import aiohttp
import pytest

from handlers.logins.callback_server import CallbackServer, CallbackServerError, CallbackServers
from handlers.logins.sessions import CallbackResult, LoginSessions


@asynccontextmanager
async def _serving(sessions: LoginSessions, provider: str, route: str, **options: str) -> AsyncIterator[str]:
    """A callback server on a free port for the test's duration; yields the callback URL."""
    server = CallbackServer(sessions, provider, route, 0, **options)
    port = await server.start()
    try:
        yield f"http://127.0.0.1:{port}{route}"
    finally:
        await server.stop()


async def _get(http: aiohttp.ClientSession, url: str) -> tuple[int, str, str]:
    async with http.get(url, allow_redirects=False) as resp:
        return resp.status, resp.headers.get("Location", ""), await resp.text()


async def test_accepts_the_pending_state_once(http: aiohttp.ClientSession) -> None:
    sessions = LoginSessions()
    sessions.register("st1", "anthropic")
    async with _serving(sessions, "anthropic", "/callback") as url:
        status, _, text = await _get(http, f"{url}?code=abc&state=st1")
        assert status == 200 and "Authentication successful!" in text
        assert await sessions.wait_callback("st1", 1) == CallbackResult("abc", "st1", "")
        # Replay of the same redirect.
        status, _, text = await _get(http, f"{url}?code=abc&state=st1")
        assert status == 409 and "already used" in text


@pytest.mark.parametrize(("query", "status", "snippet"), [
    ("code=abc&state=wrong", 400, "does not match a pending sign-in"),
    ("code=abc", 400, "no state parameter"),
    ("state=st1", 400, "neither a code nor an error"),
])
async def test_refused_callbacks_leave_the_login_waiting(http: aiohttp.ClientSession, query: str, status: int,
                                                         snippet: str) -> None:
    sessions = LoginSessions()
    sessions.register("st1", "codex")
    async with _serving(sessions, "codex", "/auth/callback") as url:
        got, _, text = await _get(http, f"{url}?{query}")
        assert got == status and snippet in text
        assert sessions.status_body("st1") == (200, {"status": "wait"})
        with pytest.raises(TimeoutError):
            await sessions.wait_callback("st1", 0.01)


async def test_other_providers_state_is_a_mismatch(http: aiohttp.ClientSession) -> None:
    sessions = LoginSessions()
    sessions.register("st1", "codex")
    async with _serving(sessions, "anthropic", "/callback") as url:
        status, _, _ = await _get(http, f"{url}?code=x&state=st1")
        assert status == 400
        assert sessions.is_pending("st1")


async def test_consent_denied_is_delivered_as_error(http: aiohttp.ClientSession) -> None:
    sessions = LoginSessions()
    sessions.register("st1", "anthropic")
    async with _serving(sessions, "anthropic", "/callback") as url:
        status, _, text = await _get(http, f"{url}?error=access_denied&state=st1")
        assert status == 200 and "Authentication failed" in text
        assert (await sessions.wait_callback("st1", 1)).error == "access_denied"


async def test_error_description_counts_as_error(http: aiohttp.ClientSession) -> None:
    sessions = LoginSessions()
    sessions.register("st1", "gemini")
    async with _serving(sessions, "gemini", "/oauth2callback") as url:
        await _get(http, f"{url}?error_description=nope&state=st1")
        assert (await sessions.wait_callback("st1", 1)).error == "nope"


async def test_iflow_redirects_to_its_pages(http: aiohttp.ClientSession) -> None:
    sessions = LoginSessions()
    sessions.register("ok", "iflow")
    sessions.register("bad", "iflow")
    async with _serving(sessions, "iflow", "/oauth2callback", success_redirect="https://i/success",
                        error_redirect="https://i/error") as url:
        assert (await _get(http, f"{url}?code=c&state=ok"))[:2] == (302, "https://i/success")
        assert (await _get(http, f"{url}?error=denied&state=bad"))[:2] == (302, "https://i/error")
        assert (await _get(http, f"{url}?code=c&state=zzz"))[:2] == (400, "https://i/error")


async def test_other_paths_are_404(http: aiohttp.ClientSession) -> None:
    async with _serving(LoginSessions(), "anthropic", "/callback") as url:
        elsewhere = url.removesuffix("/callback") + "/elsewhere"
        assert (await _get(http, f"{elsewhere}?code=a&state=b"))[0] == 404


async def test_busy_port_is_a_clear_error() -> None:
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        port = holder.getsockname()[1]
        server = CallbackServer(LoginSessions(), "anthropic", "/callback", port)
        with pytest.raises(CallbackServerError, match=f"cannot listen on 127.0.0.1:{port}"):
            await server.start()


async def test_shared_servers_are_reference_counted(http: aiohttp.ClientSession) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    sessions = LoginSessions()
    servers = CallbackServers()
    first = await servers.acquire(CallbackServer(sessions, "codex", "/auth/callback", port))
    second = await servers.acquire(CallbackServer(sessions, "codex", "/auth/callback", port))
    assert first is second
    await servers.release(first)
    assert (await _get(http, f"http://127.0.0.1:{port}/auth/callback?code=a&state=b"))[0] == 400
    await servers.release(second)
    with pytest.raises(aiohttp.ClientConnectionError):
        await _get(http, f"http://127.0.0.1:{port}/auth/callback?code=a&state=b")
    await servers.close()
