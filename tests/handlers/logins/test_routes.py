"""The HTTP login API over real sockets, against the fake providers, behind management auth."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import aiohttp
import bcrypt
import pytest
import yaml
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from handlers.auth.credential import new_credential
from handlers.logins.context import LOGIN_CONTEXT, LoginContext, setup_login_context
from handlers.logins.routes import setup_login_routes
from handlers.logins.sessions import sessions_for
from quotio_gateway.appkeys import CONFIG_STORE, FLAG_STORE, RUNTIME
from quotio_gateway.config.store import ConfigStore
from quotio_gateway.flags.matcher import CompiledTable
from quotio_gateway.flags.schema import FlagTable
from quotio_gateway.management.auth import ManagementGuard, setup_management_guard
from quotio_gateway.native import NativeRegistry
from quotio_gateway.runtime import Runtime
from tests.handlers.logins.browser_env import BrowserEnv, browser_env

SECRET = "s3cret"
BEARER = {"Authorization": f"Bearer {SECRET}"}


@dataclass
class FlagHolder:
    current: CompiledTable


@dataclass
class Api:
    env: BrowserEnv
    client: TestClient
    app: web.Application

    async def call(self, method: str, path: str, *, headers: dict[str, str] | None = None,
                   **kwargs: Any) -> tuple[int, Any]:
        url = path if path.startswith("/") else f"/v0/management/{path}"
        async with self.client.request(method, url, headers=BEARER if headers is None else headers,
                                       **kwargs) as resp:
            raw = await resp.read()
            try:
                return resp.status, json.loads(raw)
            except ValueError:
                return resp.status, raw.decode()

    async def status_until_done(self, state: str) -> dict[str, Any]:
        for _ in range(1000):  # generous: a loaded machine must not fail the test
            status, body = await self.call("GET", "get-auth-status", params={"state": state})
            assert status == 200
            if body["status"] != "wait":
                return body
            await asyncio.sleep(0.02)
        raise AssertionError("login never finished")


@asynccontextmanager
async def api(tmp_path: Path, *, wait_seconds: float = 10, gateway: dict | None = None) -> AsyncIterator[Api]:
    async with browser_env(tmp_path) as env:
        secret_hash = bcrypt.hashpw(SECRET.encode(), bcrypt.gensalt(rounds=4, prefix=b"2a")).decode()
        config = {"port": 8317, "auth-dir": str(env.auth_dir),
                  "remote-management": {"allow-remote": False, "secret-key": secret_hash},
                  "gateway": env.gateway if gateway is None else gateway}
        path = tmp_path / "config.yaml"
        path.write_text(yaml.safe_dump(config))
        app = web.Application()
        app[CONFIG_STORE] = ConfigStore(path)
        app[RUNTIME] = Runtime(config_path=path, flags_path=None, state_dir=tmp_path, local_password=None)
        app[FLAG_STORE] = FlagHolder(CompiledTable.build(FlagTable(), 1))  # type: ignore[assignment]
        setup_management_guard(app, ManagementGuard(env_secret=""))
        ports = {p: 0 for p in ("claude", "codex", "gemini-cli", "antigravity", "iflow")}
        setup_login_context(app, LoginContext(store=env.store, http=env.http, callback_ports=ports,
                                              wait_seconds=wait_seconds))
        registry = NativeRegistry()
        setup_login_routes(registry)
        for route in registry.routes:
            app.router.add_route(route.method, route.path, route.handler)
        client = TestClient(TestServer(app))
        await client.start_server()
        try:
            yield Api(env, client, app)
        finally:
            await client.close()


ROUTES = [
    ("anthropic-auth-url", "claude-user@example.com.json"),
    ("codex-auth-url", "codex-user@example.com-Plus.json"),
    ("gemini-cli-auth-url", "gemini-user@example.com-proj-one.json"),
    ("antigravity-auth-url", "antigravity-user_example_com.json"),
    ("iflow-auth-url", "iflow-user@example.com.json"),
]


@pytest.mark.parametrize(("route", "file_name"), ROUTES)
async def test_webui_login_end_to_end(tmp_path: Path, route: str, file_name: str) -> None:
    async with api(tmp_path) as a:
        status, body = await a.call("GET", route, params={"is_webui": "true"})
        assert status == 200 and set(body) == {"status", "url", "state"} and body["status"] == "ok"
        assert (await a.call("GET", "get-auth-status", params={"state": body["state"]}))[1] == {"status": "wait"}
        visit = await a.env.consent(body["url"])
        assert visit.status in (200, 302)
        assert await a.status_until_done(body["state"]) == {"status": "ok"}
        data = json.loads((a.env.auth_dir / file_name).read_bytes())
        assert data["type"] in ("claude", "codex", "gemini", "antigravity", "iflow")


async def test_pasted_callback_url_finishes_the_login(tmp_path: Path) -> None:
    async with api(tmp_path) as a:
        _, body = await a.call("GET", "codex-auth-url")
        async with a.env.http.get(body["url"], allow_redirects=False) as resp:
            redirect = resp.headers["Location"]
        status, answer = await a.call("POST", "oauth-callback", json={"provider": "openai", "redirect_url": redirect})
        assert (status, answer) == (200, {"status": "ok"})
        assert await a.status_until_done(body["state"]) == {"status": "ok"}
        assert (a.env.auth_dir / "codex-user@example.com-Plus.json").exists()
        # The same paste again: the session is gone.
        status, answer = await a.call("POST", "oauth-callback", json={"provider": "codex", "redirect_url": redirect})
        assert (status, answer) == (404, {"status": "error", "error": "unknown or expired state"})


async def test_pasted_error_reports_consent_denied(tmp_path: Path) -> None:
    async with api(tmp_path) as a:
        _, body = await a.call("GET", "anthropic-auth-url")
        status, _ = await a.call("POST", "oauth-callback",
                                 json={"provider": "claude", "state": body["state"], "error": "access_denied"})
        assert status == 200
        assert await a.status_until_done(body["state"]) == {"status": "error", "error": "Bad request"}
        assert list(a.env.auth_dir.iterdir()) == []


async def test_oauth_callback_refusals(tmp_path: Path) -> None:
    async with api(tmp_path) as a:
        _, body = await a.call("GET", "anthropic-auth-url")
        state = body["state"]
        cases = [
            ({"data": b"{not json"}, 400, "invalid body"),
            ({"data": b"null"}, 400, "unsupported provider"),  # Gin binds null as {}
            ({"json": {"provider": 5}}, 400, "invalid body"),
            ({"json": {"provider": "kiro", "state": state, "code": "c"}}, 400, "unsupported provider"),
            ({"json": {"provider": "claude", "redirect_url": "http://x/c%zz?code=c"}}, 400, "invalid redirect_url"),
            ({"json": {"provider": "claude", "code": "c"}}, 400, "state is required"),
            ({"json": {"provider": "claude", "state": "a/b", "code": "c"}}, 400, "invalid state"),
            ({"json": {"provider": "claude", "state": state}}, 400, "code or error is required"),
            ({"json": {"provider": "claude", "state": "nope", "code": "c"}}, 404, "unknown or expired state"),
            ({"json": {"provider": "codex", "state": state, "code": "c"}}, 400, "provider does not match state"),
        ]
        for kwargs, status, message in cases:
            got = await a.call("POST", "oauth-callback", **kwargs)
            assert got == (status, {"status": "error", "error": message}), kwargs
        # Still pending after all of that; one good callback, then the replay is refused.
        sessions = sessions_for(a.app)
        assert sessions.is_pending(state)
        sessions.set_error(state, "State code error")
        got = await a.call("POST", "oauth-callback", json={"provider": "claude", "state": state, "code": "c"})
        assert got == (409, {"status": "error", "error": "oauth flow is not pending"})


async def test_get_auth_status_answers(tmp_path: Path) -> None:
    async with api(tmp_path) as a:
        assert await a.call("GET", "get-auth-status") == (200, {"status": "ok"})
        assert await a.call("GET", "get-auth-status", params={"state": "a..b"}) == \
            (400, {"status": "error", "error": "invalid state"})
        assert await a.call("GET", "get-auth-status", params={"state": "never-seen"}) == (200, {"status": "ok"})


async def test_routes_need_the_management_key(tmp_path: Path) -> None:
    async with api(tmp_path) as a:
        status, _ = await a.call("GET", "anthropic-auth-url", headers={})
        assert status == 401
        status, _ = await a.call("GET", "get-auth-status", headers={"Authorization": "Bearer wrong"})
        assert status == 401


async def test_state_mismatch_on_the_callback_port_keeps_waiting(tmp_path: Path) -> None:
    async with api(tmp_path) as a:
        _, body = await a.call("GET", "antigravity-auth-url", params={"is_webui": "1"})
        async with a.env.http.get(body["url"], allow_redirects=False) as resp:
            redirect = resp.headers["Location"]
        forged = redirect.replace(f"state={body['state']}", "state=forged")
        assert (await a.env.visit(forged)).status == 400
        assert await a.call("GET", "get-auth-status", params={"state": body["state"]}) == (200, {"status": "wait"})
        assert (await a.env.visit(redirect)).status == 200
        assert (await a.env.visit(redirect)).status in (400, 409)  # replay: pending (409) or done (400)
        assert await a.status_until_done(body["state"]) == {"status": "ok"}


async def test_timeout_is_reported(tmp_path: Path) -> None:
    async with api(tmp_path, wait_seconds=0.05) as a:
        _, body = await a.call("GET", "gemini-cli-auth-url")
        assert await a.status_until_done(body["state"]) == {"status": "error", "error": "OAuth flow timed out"}
        _, body = await a.call("GET", "iflow-auth-url")
        assert await a.status_until_done(body["state"]) == {"status": "error", "error": "Authentication failed"}


async def test_token_failure_keeps_the_existing_file(tmp_path: Path) -> None:
    async with api(tmp_path) as a:
        old = new_credential("claude-user@example.com.json", {"type": "claude", "access_token": "keep-me"})
        await a.env.store.save(old)
        before = (a.env.auth_dir / old.file_name).read_bytes()
        a.env.fake.token_fault["claude"] = "http500"
        _, body = await a.call("GET", "anthropic-auth-url", params={"is_webui": "true"})
        await a.env.consent(body["url"])
        assert await a.status_until_done(body["state"]) == \
            {"status": "error", "error": "token exchange failed with status 500"}
        assert (a.env.auth_dir / old.file_name).read_bytes() == before


async def test_busy_callback_port(tmp_path: Path) -> None:
    async with api(tmp_path) as a:
        ctx = a.app[LOGIN_CONTEXT]
        busy = int(a.env.fake.url.rsplit(":", 1)[1])
        ctx.callback_ports = {"claude": busy, "iflow": busy}
        assert await a.call("GET", "anthropic-auth-url", params={"is_webui": "true"}) == \
            (500, {"error": "failed to start callback server"})
        assert await a.call("GET", "iflow-auth-url", params={"is_webui": "true"}) == \
            (500, {"status": "error", "error": "failed to start callback server"})


async def test_iflow_cookie_route(tmp_path: Path) -> None:
    async with api(tmp_path) as a:
        assert await a.call("POST", "iflow-auth-url", data=b"{}") == \
            (400, {"status": "error", "error": "cookie is required"})
        assert await a.call("POST", "iflow-auth-url", json={"cookie": "a=1"}) == \
            (400, {"status": "error", "error": "cookie missing BXAuth field"})
        status, body = await a.call("POST", "iflow-auth-url", json={"cookie": "BXAuth=abc"})
        assert status == 200
        assert body["status"] == "ok" and body["type"] == "iflow" and body["email"] == "user@example.com"
        assert body["expired"] == "2030-01-01 00:00"
        saved = Path(body["saved_path"])
        assert saved.parent == a.env.auth_dir
        assert saved.name in {p.name for p in a.env.auth_dir.iterdir()}
        status, body = await a.call("POST", "iflow-auth-url", json={"cookie": "BXAuth=abc"})
        assert (status, body) == (409, {"status": "error", "error": "duplicate BXAuth found",
                                        "existing_file": saved.name})


async def test_main_server_callback_route(tmp_path: Path) -> None:
    async with api(tmp_path) as a:
        _, body = await a.call("GET", "codex-auth-url")
        async with a.env.http.get(body["url"], allow_redirects=False) as resp:
            query = parse_qs(urlsplit(resp.headers["Location"]).query)
        status, text = await a.call("GET", "/codex/callback", headers={},
                                    params={"code": query["code"][0], "state": query["state"][0]})
        assert status == 200 and "Authentication successful!" in text
        assert await a.status_until_done(body["state"]) == {"status": "ok"}
        # Unknown state: same page, nothing happens.
        status, text = await a.call("GET", "/codex/callback", headers={}, params={"code": "x", "state": "zz"})
        assert status == 200 and "Authentication successful!" in text
        # The legacy page closes itself after 5 s and says so (server.go:43).
        assert "<title>Authentication successful</title>" in text
        assert "setTimeout(function(){window.close();},5000);" in text
        assert "This window will close automatically in 5 seconds." in text


async def test_completed_login_drops_other_pending_ones(tmp_path: Path) -> None:
    async with api(tmp_path) as a:
        _, first = await a.call("GET", "anthropic-auth-url")
        _, second = await a.call("GET", "anthropic-auth-url", params={"is_webui": "true"})
        await a.env.consent(second["url"])
        assert await a.status_until_done(second["state"]) == {"status": "ok"}
        assert await a.call("GET", "get-auth-status", params={"state": first["state"]}) == (200, {"status": "ok"})


async def test_closed_app_stops_background_logins(tmp_path: Path) -> None:
    async with api(tmp_path) as a:
        _, body = await a.call("GET", "anthropic-auth-url", params={"is_webui": "true"})
        port = int(urlsplit(parse_qs(urlsplit(body["url"]).query)["redirect_uri"][0]).port or 0)
        await a.client.close()
        with pytest.raises(aiohttp.ClientConnectionError):
            await a.env.visit(f"http://127.0.0.1:{port}/callback?code=a&state={body['state']}")


async def test_bad_endpoint_config_is_a_500_not_a_login_at_the_real_provider(tmp_path: Path) -> None:
    bad = {"provider-endpoints": {"claude": {"token-url": "not a url"}, "iflow": {"bogus": "http://x"}}}
    async with api(tmp_path, gateway=bad) as a:
        assert await a.call("GET", "anthropic-auth-url") == (500, {"error": "failed to generate authorization url"})
        assert await a.call("GET", "iflow-auth-url") == \
            (500, {"status": "error", "error": "failed to generate authorization url"})
