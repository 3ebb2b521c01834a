"""A whole gateway wired to the fake OAuth providers, for the per-provider end-to-end tests.

    async with oauth_gateway(make_gateway, tmp_path) as gw:
        status, body = await gw.management("GET", "anthropic-auth-url")
        ...
        answer = await gw.anthropic().messages.create(...)
        seen = gw.fake.seen("/claude/v1/messages")

The gateway runs in process (``make_gateway`` with every route native) on a real 127.0.0.1
socket. Its config.yaml has the auth-dir ``<tmp>/auths``, one client API key and
``gateway.provider-endpoints`` pointing every endpoint of every provider at the fake, so logins,
refreshes, inference and model lists all reach the fake and nothing else. Helpers read and
rewrite credential files the way the Quotio app does (outside the gateway, atomically) and wait,
by polling a bounded number of times, for the gateway to notice.
"""

from __future__ import annotations

import asyncio
import json
import os
import stat
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar

import aiohttp
import anthropic
import openai
from aiohttp import web
from aiohttp.test_utils import TestServer
from google import genai
from google.genai import types as genai_types

from handlers.auth.credential import Credential
from handlers.credentials.runtime import CredentialRuntime
from handlers.credentials.wiring import CREDENTIALS
from handlers.logins.device_poll import LoginIO
from handlers.logins.login_cli import LoginRequest, run_login
from handlers.logins.refresh import RefreshManager
from handlers.models.registry import registry_for
from quotio_gateway.appkeys import CONFIG_STORE
from tests.conftest import SECRET, GatewayFactory
from tests.e2e.oauth_e2e import CLIENT_KEY, anthropic_client, openai_client
from tests.fakes.oauth_providers import FakeOAuthProviders

# Polls of 20 ms: generous on a loaded machine, and still a clear failure when nothing happens.
POLLS = 500
C = TypeVar("C")
LONG_LIVED = 30 * 24 * 3600
STORE_LOCK = ".quotio-gateway-auth.lock"


def past(seconds: int = 3600) -> str:
    """An RFC 3339 moment ``seconds`` ago (an expired token); a negative value is in the future."""
    return (datetime.now(UTC) - timedelta(seconds=seconds)).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass
class OAuthGateway:
    fake: FakeOAuthProviders
    url: str
    auth_dir: Path
    app: web.Application
    http: aiohttp.ClientSession
    config_path: Path
    clients: list[Any] = field(default_factory=list)

    # --- clients ----------------------------------------------------------------------------

    def openai(self) -> openai.AsyncOpenAI:
        return self._keep(openai_client(self.url))

    def anthropic(self) -> anthropic.AsyncAnthropic:
        return self._keep(anthropic_client(self.url))

    def genai(self) -> genai.client.AsyncClient:
        client = genai.Client(api_key=CLIENT_KEY, http_options=genai_types.HttpOptions(
            base_url=self.url, api_version="v1beta", timeout=20_000))
        return self._keep(client.aio)

    def _keep(self, client: C) -> C:
        # Closed with the gateway: an SDK client left open closes its pool after the loop is gone.
        self.clients.append(client)
        return client

    async def close_clients(self) -> None:
        for client in self.clients:
            await client.close() if hasattr(client, "close") else await client.aclose()

    async def management(self, method: str, path: str, **kwargs: Any) -> tuple[int, Any]:
        headers = {"Authorization": f"Bearer {SECRET}"}
        async with self.http.request(method, f"{self.url}/v0/management/{path}", headers=headers,
                                     **kwargs) as resp:
            raw = await resp.read()
            return resp.status, json.loads(raw) if raw else None

    async def chat(self, model: str, text: str = "say hello") -> Any:
        """One OpenAI chat completion; raises the SDK's error for a non-2xx answer."""
        return await self.openai().chat.completions.create(model=model, messages=[{"role": "user", "content": text}])

    async def chat_status(self, model: str) -> tuple[int, Any]:
        """The same call over plain HTTP, for answers that are errors."""
        body = {"model": model, "messages": [{"role": "user", "content": "say hello"}]}
        async with self.http.post(f"{self.url}/v1/chat/completions", json=body,
                                  headers={"Authorization": f"Bearer {CLIENT_KEY}"}) as resp:
            raw = await resp.read()
            try:
                return resp.status, json.loads(raw)
            except ValueError:
                return resp.status, raw.decode()

    async def genai_status(self, model: str) -> tuple[int, Any]:
        """A Gemini generateContent over plain HTTP, for answers that are errors."""
        body = {"contents": [{"role": "user", "parts": [{"text": "say hello"}]}]}
        async with self.http.post(f"{self.url}/v1beta/models/{model}:generateContent", json=body,
                                  headers={"x-goog-api-key": CLIENT_KEY}) as resp:
            raw = await resp.read()
            try:
                return resp.status, json.loads(raw)
            except ValueError:
                return resp.status, raw.decode()

    # --- the browser -------------------------------------------------------------------------

    async def consent(self, authorize_url: str) -> str:
        """Open the authorize URL as a browser would; return where the provider sends it back."""
        async with self.http.get(authorize_url, allow_redirects=False) as resp:
            location = resp.headers.get("Location", "")
        assert resp.status == 302 and location, f"authorize answered {resp.status}"
        return location

    async def cli_login(self, login: str, **options: Any) -> Credential:
        """``quotio-gateway login <login>`` as a function, with this gateway's config.yaml, its
        own store over the auth-dir (as the separate CLI process has) and a browser that
        consents at once and follows the redirect to the local callback server."""
        tasks: list[asyncio.Task[Any]] = []

        async def browse(url: str) -> None:
            callback = (await self.consent(url)).replace("//localhost:", "//127.0.0.1:")
            async with self.http.get(callback, allow_redirects=False) as resp:
                assert resp.status in (200, 302), await resp.text()

        def open_browser(url: str) -> bool:
            tasks.append(asyncio.get_running_loop().create_task(browse(url)))
            return True

        request = LoginRequest(login=login, config_path=self.config_path, callback_port=0, wait_seconds=20,
                               **options)
        try:
            return await run_login(request, LoginIO(say=lambda _line: None, open_browser=open_browser))
        finally:
            for task in tasks:
                await task

    async def auth_status_until_done(self, state: str) -> dict[str, Any]:
        for _ in range(POLLS):
            status, body = await self.management("GET", "get-auth-status", params={"state": state})
            assert status == 200, body
            if body["status"] != "wait":
                return body
            await asyncio.sleep(0.02)
        raise AssertionError("the login never finished")

    # --- the gateway's credential services --------------------------------------------------

    @property
    def runtime(self) -> CredentialRuntime:
        return self.app[CREDENTIALS].runtime

    @property
    def manager(self) -> RefreshManager:
        return self.app[CREDENTIALS].manager

    async def until(self, condition: Callable[[], bool | Awaitable[bool]], what: str) -> None:
        for _ in range(POLLS):
            outcome = condition()
            if not isinstance(outcome, bool):
                outcome = await outcome
            if outcome:
                return
            await asyncio.sleep(0.02)
        raise AssertionError(f"gave up waiting: {what}")

    def serving(self, model: str) -> list[str]:
        """Ids of the credentials that would be candidates for ``model`` right now."""
        registry = registry_for(self.app[CONFIG_STORE]).current
        return [c.id for c in self.runtime.candidates(registry.providers(model), model)]

    async def until_served(self, model: str, credential: str) -> None:
        """Wait until the watcher and the model registry have taken in a new credential."""
        await self.until(lambda: credential in self.serving(model), f"{credential} serving {model}")

    async def until_not_served(self, model: str, credential: str) -> None:
        """Wait until the credential is neither a candidate nor registered with the model registry
        (that rebuild is debounced after a burst of auth-dir changes)."""
        registry = registry_for(self.app[CONFIG_STORE])
        await self.until(lambda: credential not in self.serving(model) and registry.current.credential(credential)
                         is None, f"{credential} gone from {model}")

    # --- the auth-dir, as the Quotio app sees it ---------------------------------------------

    def path(self, name: str) -> Path:
        return self.auth_dir / name

    def read(self, name: str) -> dict[str, Any]:
        return json.loads(self.path(name).read_bytes())

    def listing(self) -> list[str]:
        """The auth-dir's files, without the store's own lock file."""
        return sorted(p.name for p in self.auth_dir.iterdir() if p.name != STORE_LOCK)

    def mode(self, name: str) -> int:
        return stat.S_IMODE(self.path(name).stat().st_mode)

    def write(self, name: str, data: dict[str, Any] | bytes) -> None:
        """Replace a file from outside (temp + rename, as the Quotio app saves)."""
        raw = data if isinstance(data, bytes) else json.dumps(data, indent=2).encode()
        temp = self.auth_dir / f".{name}.outside"
        temp.write_bytes(raw)
        os.chmod(temp, 0o600)
        os.replace(temp, self.path(name))

    def edit(self, name: str, **changes: Any) -> dict[str, Any]:
        data = {**self.read(name), **changes}
        self.write(name, data)
        return data

    async def until_runtime_sees(self, name: str, key: str, value: Any) -> None:
        """Wait until the runtime's copy of a file holds ``key: value`` (an outside edit arrived)."""
        def seen() -> bool:
            current = self.runtime.file_credential(name)
            return current is not None and current.metadata.get(key) == value

        await self.until(seen, f"the gateway to read {key} of {name}")

    def refresh_calls(self, token_path: str) -> list[dict[str, Any]]:
        """Refresh-token grants the fake token endpoint received."""
        return [r for r in self.fake.seen(token_path)
                if isinstance(r["body"], dict) and r["body"].get("grant_type") == "refresh_token"]

    async def unauthorized_refreshes(self) -> float:
        """Successful refreshes after an upstream 401, as GET /metrics shows them (handlers/logins/README.md)."""
        async with self.http.get(self.url + "/metrics") as resp:
            assert resp.status == 200
            text = await resp.text()
        return sum(float(line.rpartition(" ")[2]) for line in text.splitlines()
                   if line.startswith("quotio_gateway_credential_refreshes_total{")
                   and 'reason="unauthorized"' in line and 'result="success"' in line)

    async def revoke_and_expect_retry(self, revoked: str, ask: Callable[[], Awaitable[str]], answer: str, *,
                                      upstream: str, token_path: str, renewed: Callable[[], str]) -> str:
        """The provider revokes the access token ``revoked`` early: ``ask`` must still get ``answer``
        because the gateway took the upstream's 401, refreshed exactly once and sent the same call
        again with the new token. Returns that token (``renewed`` reads it from the file)."""
        refreshes = len(self.refresh_calls(token_path))
        counted = await self.unauthorized_refreshes()
        self.fake.issued_tokens.discard(revoked)
        before = len(self.fake.seen(upstream))
        assert await ask() == answer
        new = renewed()
        assert len(self.refresh_calls(token_path)) == refreshes + 1
        assert await self.unauthorized_refreshes() == counted + 1
        assert [r["headers"]["Authorization"] for r in self.fake.seen(upstream)[before:]] == [
            f"Bearer {revoked}", f"Bearer {new}"]
        return new


@asynccontextmanager
async def oauth_gateway(make_gateway: GatewayFactory, tmp_path: Path, *,
                        fake: FakeOAuthProviders | None = None,
                        before_start: Callable[[Path, FakeOAuthProviders], None] | None = None,
                        ) -> AsyncIterator[OAuthGateway]:
    """The gateway over a fresh auth-dir; ``before_start`` may put files there first."""
    # Tokens live 30 days unless a test says otherwise: longer than every provider's refresh
    # lead, so the background loop (every 5 s) never refreshes behind a test's back.
    fake = fake or FakeOAuthProviders(expires_in=LONG_LIVED)
    await fake.start()
    auth_dir = tmp_path / "auths"
    auth_dir.mkdir(mode=0o700, exist_ok=True)
    if before_start is not None:
        before_start(auth_dir, fake)
    config = {"api-keys": [CLIENT_KEY], "gateway": {"provider-endpoints": fake.overrides()}}
    app = await make_gateway({"default": "native"}, config=config)
    server = TestServer(app, host="127.0.0.1")
    await server.start_server()
    http = aiohttp.ClientSession()
    gw = OAuthGateway(fake, str(server.make_url("")).rstrip("/"), auth_dir, app, http, tmp_path / "config.yaml")
    try:
        yield gw
    finally:
        await gw.close_clients()
        await http.close()
        await server.close()
        await fake.stop()
