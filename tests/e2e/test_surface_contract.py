"""The client inference surface as an HTTP client meets it: the whole gateway, every route
``native``, client keys configured, on both listeners (through the front door, and straight to
aiohttp's server, as with ``QUOTIO_GATEWAY_FRONTDOOR=off``). What a route does for the methods
and paths Gin does not register, the root greeting without a key, the ``/v1/models`` User-Agent
switch, and two handler details.
Reference: cliproxyapi-surface.md §1, §1a, §3, §5, §12; Go at 9b72ea9ef cited per test.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import aiohttp
import pytest

from tests.conftest import GatewayFactory
from tests.fakes.llm_upstream import ANSWER, FakeLLM, status
from tests.quotio_gateway.test_frontdoor import serving

CLIENT_KEY = "client-key"
GEMINI_MODEL = "gemini-2.5-flash"
COMPAT_ALIAS = "compat-alias"
CORS = {
    "Access-Control-Allow-Origin": "*",
    "Access-Control-Allow-Methods": "GET, POST, PUT, PATCH, DELETE, OPTIONS",
    "Access-Control-Allow-Headers": "*",
}
NOT_FOUND = b"404 page not found"
GEMINI_BODY = {"contents": [{"role": "user", "parts": [{"text": "hi"}]}]}

# The client routes and the one method Gin registers for each (server.go:310-426).
GET_ROUTES = ["/v1/models", "/v1beta/models", f"/v1beta/models/{GEMINI_MODEL}"]
POST_ROUTES = ["/v1/chat/completions", "/v1/completions", "/v1/responses", "/v1/messages",
               "/v1/messages/count_tokens", f"/v1beta/models/{GEMINI_MODEL}:generateContent",
               "/v1internal:generateContent"]


@dataclass
class Answer:
    status: int
    headers: dict[str, str]
    body: bytes


@dataclass
class Gateway:
    urls: tuple[str, str]  # front door, aiohttp's server
    fake: FakeLLM
    session: aiohttp.ClientSession

    async def call(self, method: str, path: str, *, headers: dict[str, str] | None = None,
                   body: Any = None) -> list[Answer]:
        """The answer from each listener."""
        answers = []
        for url in self.urls:
            async with self.session.request(method, url + path, headers=headers or {}, json=body,
                                            allow_redirects=False) as resp:
                answers.append(Answer(resp.status, dict(resp.headers), await resp.read()))
        return answers


@pytest.fixture
async def native(make_gateway: GatewayFactory) -> AsyncIterator[Gateway]:
    fake = FakeLLM()
    await fake.start()
    config = {"api-keys": [CLIENT_KEY],
              "gemini-api-key": [{"api-key": "sk-gemini", "base-url": fake.root}],
              "openai-compatibility": [{"name": "compat", "base-url": fake.root + "/v1",
                                        "api-key-entries": [{"api-key": "sk-compat"}],
                                        "models": [{"name": "upstream-model", "alias": COMPAT_ALIAS}]}]}
    try:
        async with serving(await make_gateway({"default": "native"}, config=config)) as pair, \
                aiohttp.ClientSession() as session:
            urls = (f"http://127.0.0.1:{pair.fast}", f"http://127.0.0.1:{pair.slow}")
            yield Gateway(urls, fake, session)
    finally:
        await fake.stop()


def _gin_404(answer: Answer, *, head: bool = False) -> None:
    # Gin's serveError behind the global middleware (CORS included): plain text without a charset.
    assert answer.status == 404
    assert answer.headers["Content-Type"] == "text/plain"
    # net/http sets the length of the buffered body for HEAD too, then drops the body.
    assert answer.headers["Content-Length"] == "18"
    assert answer.body == (b"" if head else NOT_FOUND)
    for name, value in CORS.items():
        assert answer.headers[name] == value


@pytest.mark.parametrize("path", GET_ROUTES + POST_ROUTES)
async def test_methods_no_route_registers_are_gins_404_before_auth(native: Gateway, path: str) -> None:
    """Gin has no HEAD auto-mapping and HandleMethodNotAllowed is off (surface §1): any method
    without a route of its own is the 404, even with no client key sent."""
    registered = "GET" if path in GET_ROUTES else "POST"
    unregistered = ["PUT", "DELETE", "PATCH"]
    if not path.startswith("/v1beta/models"):
        # GET and POST both have the catch-all /v1beta/models/*action (and a POST to
        # /v1beta/models is its trailing-slash redirect).
        unregistered.append("POST" if registered == "GET" else "GET")
    for method in unregistered:
        for answer in await native.call(method, path):
            _gin_404(answer)
    for answer in await native.call("HEAD", path):
        _gin_404(answer, head=True)
    assert native.fake.requests == []


@pytest.mark.parametrize("path", GET_ROUTES + POST_ROUTES + ["/v1/models/", "/nope"])
async def test_preflight_is_204_without_a_key(native: Gateway, path: str) -> None:
    """server.go:825-838: OPTIONS is answered before auth and routing."""
    headers = {"Origin": "https://app.example", "Access-Control-Request-Method": "POST"}
    for answer in await native.call("OPTIONS", path, headers=headers):
        assert (answer.status, answer.body) == (204, b"")
        assert "Content-Type" not in answer.headers
        for name, value in CORS.items():
            assert answer.headers[name] == value


@pytest.mark.parametrize(("method", "path", "status", "location"), [
    ("GET", "/v1/models/", 301, "/v1/models"),
    ("GET", "/v1beta/models/?key=wrong", None, None),  # the catch-all takes "/": a route, so auth runs
    ("POST", "/v1beta/models?key=wrong", 307, "/v1beta/models/?key=wrong"),
    ("POST", "/v1/chat/completions/", 307, "/v1/chat/completions"),
    ("POST", "/v1/completions/", 307, "/v1/completions"),
    ("POST", "/v1/responses/", 307, "/v1/responses"),
    ("POST", "/v1/messages/", 307, "/v1/messages"),
    ("POST", "/v1/messages/count_tokens/", 307, "/v1/messages/count_tokens"),
    ("POST", "/v1internal:generateContent/", 307, "/v1internal:generateContent"),
    ("GET", "/v1/messages/", 404, None),  # no GET route either way
    ("HEAD", "/v1/models/", 404, None),  # no HEAD tree at all, so no redirect
])
async def test_trailing_slash_redirects_come_before_auth_and_cors(native: Gateway, method: str, path: str,
                                                                 status: int | None, location: str | None) -> None:
    """Gin's RedirectTrailingSlash (router, before any middleware): 301 for GET with net/http's
    HTML note, 307 without a body otherwise; no CORS headers, no key asked for."""
    for answer in await native.call(method, path, body=None if method != "POST" else {}):
        if status is None:
            assert (answer.status, answer.body) == (401, b'{"error":"Invalid API key"}')
        elif status == 404:
            _gin_404(answer, head=method == "HEAD")
        else:
            assert (answer.status, answer.headers["Location"]) == (status, location)
            assert "Access-Control-Allow-Origin" not in answer.headers
            if status == 301:
                assert answer.headers["Content-Type"] == "text/html; charset=utf-8"
                assert answer.body == f'<a href="{location}">Moved Permanently</a>.\n\n'.encode()
            else:
                assert "Content-Type" not in answer.headers and answer.body == b""
    assert native.fake.requests == []


@pytest.mark.parametrize(("agent", "claude_shape"), [
    ("claude-cli/2.0.14 (external, cli)", True),
    ("claude-cli", True),
    ("Claude-CLI/2.0.14", False),  # strings.HasPrefix is case-sensitive (server.go:746-759)
    ("my claude-cli", False),
    ("", False),
])
async def test_v1_models_shape_follows_a_case_sensitive_user_agent_prefix(native: Gateway, agent: str,
                                                                          claude_shape: bool) -> None:
    headers = {"Authorization": f"Bearer {CLIENT_KEY}", "User-Agent": agent}
    for answer in await native.call("GET", "/v1/models", headers=headers):
        assert answer.status == 200
        assert answer.headers["Content-Type"] == "application/json; charset=utf-8"
        if claude_shape:
            assert answer.body.startswith(b'{"data":[{')
            assert b'"object":"list"' not in answer.body and b'"display_name":"' in answer.body
        else:
            assert answer.body.startswith(b'{"data":[{"created":') and answer.body.endswith(b'],"object":"list"}')
            assert b'"display_name"' not in answer.body and b'"type"' not in answer.body


async def test_an_empty_prompt_asks_to_complete_this(native: Gateway) -> None:
    """openai_handlers.go:184-195: an empty or missing ``prompt`` becomes the user message
    ``Complete this:``; the chat answer comes back as a ``text_completion``."""
    headers = {"X-Api-Key": CLIENT_KEY}
    for body in ({"model": COMPAT_ALIAS, "prompt": ""}, {"model": COMPAT_ALIAS}):
        native.fake.requests.clear()
        for answer in await native.call("POST", "/v1/completions", headers=headers, body=body):
            assert answer.status == 200
            assert answer.body.startswith(b'{"id":"chatcmpl-fake","object":"text_completion",')
        assert [r.body["messages"] for r in native.fake.requests] == [
            [{"role": "user", "content": "Complete this:"}]] * 2


async def test_a_2xx_upstream_status_other_than_200_answers_200(native: Gateway) -> None:
    """Executors take any 2xx as success and handlers write the body without a status (surface §5:
    successful responses are always 200)."""
    gemini = {"candidates": [{"content": {"role": "model", "parts": [{"text": ANSWER}]}, "finishReason": "STOP",
                              "index": 0}], "modelVersion": GEMINI_MODEL}
    native.fake.script("sk-gemini", status(201, gemini), status(201, gemini))
    path = f"/v1beta/models/{GEMINI_MODEL}:generateContent?key={CLIENT_KEY}"
    for answer in await native.call("POST", path, body=GEMINI_BODY):
        assert answer.status == 200
        assert answer.headers["Content-Type"] == "application/json"
        assert json.loads(answer.body)["candidates"][0]["content"]["parts"] == [{"text": ANSWER}]
    assert len(native.fake.requests) == 2


ROOT = (b'{"endpoints":["POST /v1/chat/completions","POST /v1/completions","GET /v1/models"],'
        b'"message":"CLI Proxy API Server"}')


async def test_the_root_greets_without_a_key_while_client_keys_are_set(native: Gateway) -> None:
    """server.go:340-349: ``GET /`` sits outside the authenticated groups, so it answers any
    caller with Gin's c.JSON (sorted keys, charset); a wrong key changes nothing."""
    for headers in ({}, {"Authorization": "Bearer wrong"}):
        for answer in await native.call("GET", "/", headers=headers):
            assert (answer.status, answer.body) == (200, ROOT)
            assert answer.headers["Content-Type"] == "application/json; charset=utf-8"
            for name, value in CORS.items():
                assert answer.headers[name] == value
    # Only GET is registered there; Gin maps no HEAD (surface §1).
    for method in ("HEAD", "POST", "PUT"):
        for answer in await native.call(method, "/"):
            _gin_404(answer, head=method == "HEAD")


@pytest.mark.parametrize("path", ["/health", "/v1/health", "/v1", "/v1beta", "/v1/embeddings"])
async def test_paths_the_legacy_never_registered_are_gins_404(native: Gateway, path: str) -> None:
    """No ``/health`` at 9b72ea9ef (surface §1a; the gateway's own ``/healthz`` is listed in
    docs/compatibility.md), and no OpenAI route beyond the five: Gin's 404, before auth."""
    for method in ("GET", "POST"):
        for answer in await native.call(method, path, body={} if method == "POST" else None):
            _gin_404(answer)
    assert native.fake.requests == []

