"""The native client surface through the whole gateway (flags, dispatch, middlewares), default
``native``: client keys from every source on every client route, the ``/v1internal`` loopback
rule, and the model lists after a credential is suspended. Reference: cliproxyapi-surface.md §2,
§3, §12; facts cited per test.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import aiohttp
import pytest
from aiohttp.test_utils import TestServer

from tests.conftest import GatewayFactory
from tests.fakes.llm_upstream import FakeLLM, status

CLIENT_KEY = "client-key"
CLAUDE_MODEL = "claude-sonnet-4-5-20250929"
GEMINI_MODEL = "gemini-2.5-flash"
GIN_JSON = "application/json; charset=utf-8"
MISSING = b'{"error":"Missing API key"}'
INVALID = b'{"error":"Invalid API key"}'


@dataclass
class Gateway:
    url: str
    fake: FakeLLM
    session: aiohttp.ClientSession

    async def call(self, method: str, path: str, *, headers: dict[str, str] | None = None,
                   body: Any = None) -> tuple[int, dict[str, str], bytes]:
        async with self.session.request(method, self.url + path, headers=headers or {}, json=body,
                                        allow_redirects=False) as resp:
            return resp.status, dict(resp.headers), await resp.read()


@pytest.fixture
async def native(make_gateway: GatewayFactory) -> AsyncIterator[Gateway]:
    fake = FakeLLM()
    await fake.start()
    config = {"api-keys": [CLIENT_KEY, "second key"],
              "claude-api-key": [{"api-key": "sk-claude", "base-url": fake.root}],
              "gemini-api-key": [{"api-key": "sk-gemini", "base-url": fake.root}]}
    app = await make_gateway({"default": "native"}, config=config)
    server = TestServer(app, host="127.0.0.1")
    await server.start_server()
    session = aiohttp.ClientSession()
    try:
        yield Gateway(str(server.make_url("")).rstrip("/"), fake, session)
    finally:
        await session.close()
        await server.close()
        await fake.stop()


CLAUDE_BODY = {"model": CLAUDE_MODEL, "max_tokens": 16, "messages": [{"role": "user", "content": "hi"}]}
GEMINI_BODY = {"contents": [{"role": "user", "parts": [{"text": "hi"}]}]}

# Every authenticated client route, with a body that the fake upstream answers with 200.
ROUTES: list[tuple[str, str, Any]] = [
    ("GET", "/v1/models", None),
    ("GET", "/v1beta/models", None),
    ("GET", f"/v1beta/models/{GEMINI_MODEL}", None),
    ("POST", "/v1/chat/completions", {"model": CLAUDE_MODEL, "messages": [{"role": "user", "content": "hi"}]}),
    ("POST", "/v1/completions", {"model": CLAUDE_MODEL, "prompt": "hi"}),
    ("POST", "/v1/responses", {"model": CLAUDE_MODEL, "input": "hi"}),
    ("POST", "/v1/messages", CLAUDE_BODY),
    ("POST", "/v1/messages/count_tokens", CLAUDE_BODY),
    ("POST", f"/v1beta/models/{GEMINI_MODEL}:generateContent", GEMINI_BODY),
    ("POST", f"/v1beta/models/{GEMINI_MODEL}:streamGenerateContent?alt=sse", GEMINI_BODY),
    ("POST", f"/v1beta/models/{GEMINI_MODEL}:countTokens", GEMINI_BODY),
]


def _with_query(path: str, query: str) -> str:
    return f"{path}{'&' if '?' in path else '?'}{query}"


# (headers, query) that carry a configured key: provider.go:49-112 order and shapes.
ACCEPTED = [
    ({"Authorization": f"Bearer {CLIENT_KEY}"}, ""),
    ({"Authorization": f"bEaReR   {CLIENT_KEY}  "}, ""),  # scheme case-insensitive, token trimmed
    ({"Authorization": CLIENT_KEY}, ""),  # no scheme: the whole value
    ({"Authorization": "second key"}, ""),  # two words, not bearer: still the whole value
    ({"X-Goog-Api-Key": CLIENT_KEY}, ""),
    ({"X-Api-Key": CLIENT_KEY}, ""),
    ({}, f"key={CLIENT_KEY}"),
    ({}, f"auth_token={CLIENT_KEY}"),
    ({"Authorization": "Bearer wrong", "X-Api-Key": CLIENT_KEY}, ""),  # any source may match
]
REFUSED = [
    ({}, "", MISSING),
    ({"Authorization": ""}, "key=", MISSING),  # empty values count as absent
    ({"Authorization": "Bearer wrong"}, "", INVALID),
    ({"Authorization": f"Basic {CLIENT_KEY}"}, "", INVALID),  # whole value "Basic client-key"
    ({"X-Goog-Api-Key": f"Bearer {CLIENT_KEY}"}, "", INVALID),  # only Authorization drops "Bearer"
    ({}, "key=wrong&auth_token=nope", INVALID),
]


async def test_every_client_route_takes_every_key_source(native: Gateway) -> None:
    for method, path, body in ROUTES:
        for headers, query in ACCEPTED:
            code, _, raw = await native.call(method, _with_query(path, query) if query else path,
                                             headers=headers, body=body)
            assert code == 200, (method, path, headers, query, raw)


async def test_every_client_route_refuses_with_the_plain_string_401(native: Gateway) -> None:
    for method, path, body in ROUTES:
        for headers, query, answer in REFUSED:
            code, got, raw = await native.call(method, _with_query(path, query) if query else path,
                                               headers=headers, body=body)
            assert (code, raw) == (401, answer), (method, path, headers, query)
            assert got["Content-Type"] == GIN_JSON
            assert got["Access-Control-Allow-Origin"] == "*"
            assert "WWW-Authenticate" not in got
    assert native.fake.requests == []


async def test_v1internal_needs_no_key_but_127_0_0_1(native: Gateway) -> None:
    body = {"model": GEMINI_MODEL, "project": "p", "request": GEMINI_BODY}
    code, _, raw = await native.call("POST", "/v1internal:generateContent", body=body)
    assert code == 200 and json.loads(raw)["response"]["candidates"]
    connector = aiohttp.TCPConnector(local_addr=("127.0.0.2", 0))
    async with aiohttp.ClientSession(connector=connector) as other, \
            other.post(native.url + "/v1internal:generateContent", json=body,
                       headers={"Authorization": f"Bearer {CLIENT_KEY}"}) as resp:
        assert resp.status == 403
        assert resp.headers["Content-Type"] == GIN_JSON
        assert await resp.read() == b'{"error":{"message":"CLI reply only allow local access","type":"forbidden"}}'
    assert len(native.fake.requests) == 1


async def _listed(native: Gateway) -> tuple[set[str], set[str], set[str]]:
    auth = {"Authorization": f"Bearer {CLIENT_KEY}"}
    _, _, openai = await native.call("GET", "/v1/models", headers=auth)
    _, _, claude = await native.call("GET", "/v1/models", headers={**auth, "User-Agent": "claude-cli/2.0.0"})
    _, _, gemini = await native.call("GET", "/v1beta/models", headers=auth)
    return ({m["id"] for m in json.loads(openai)["data"]}, {m["id"] for m in json.loads(claude)["data"]},
            {m["name"] for m in json.loads(gemini)["models"]})


async def test_a_model_whose_only_key_answered_401_leaves_the_lists(native: Gateway) -> None:
    """conductor.go:1336-1339 suspends the client for the model; model_registry.go:704-751 then
    leaves the model out of every list (and the Gemini get-model), while a 429 does not."""
    auth = {"Authorization": f"Bearer {CLIENT_KEY}"}
    before = await _listed(native)
    assert CLAUDE_MODEL in before[0] and CLAUDE_MODEL in before[1] and f"models/{CLAUDE_MODEL}" in before[2]
    native.fake.script("sk-gemini", status(429, {"error": {"code": 429, "message": "quota", "status":
                                                           "RESOURCE_EXHAUSTED"}}))
    code, _, _ = await native.call("POST", f"/v1beta/models/{GEMINI_MODEL}:generateContent", headers=auth,
                                   body=GEMINI_BODY)
    assert code == 429
    upstream_error = {"type": "error", "error": {"type": "authentication_error", "message": "invalid x-api-key"}}
    native.fake.script("sk-claude", status(401, upstream_error))
    code, _, raw = await native.call("POST", "/v1/messages", headers=auth, body=CLAUDE_BODY)
    assert (code, json.loads(raw)) == (401, upstream_error)
    after = await _listed(native)
    assert after[0] == before[0] - {CLAUDE_MODEL}
    assert after[1] == before[1] - {CLAUDE_MODEL}
    assert after[2] == before[2] - {f"models/{CLAUDE_MODEL}"}
    code, got, raw = await native.call("GET", f"/v1beta/models/{CLAUDE_MODEL}", headers=auth)
    assert (code, raw) == (404, b'{"error":{"message":"Not Found","type":"not_found"}}')
    assert got["Content-Type"] == GIN_JSON
