"""Claude, OpenAI chat and Gemini clients on Antigravity and Gemini CLI credentials, over HTTP.

The fake Cloud Code service answers each ``v1internal`` call with a scripted answer and records
the exact request (envelope included); the clients get byte-exact answers, compared with what
CLIProxyAPI's translators and executors write (files cited per test). Logins go through the
fake Google endpoints as in ``test_oauth_antigravity.py`` / ``test_oauth_gemini_cli.py``.
"""

from __future__ import annotations

import json
import re
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web

from tests.conftest import GatewayFactory
from tests.e2e.oauth_e2e import CLIENT_KEY
from tests.e2e.oauth_gateway import LONG_LIVED, OAuthGateway, oauth_gateway
from tests.e2e.test_oauth_gemini_cli import http_login
from tests.fakes.oauth_providers import FakeOAuthProviders

STREAM = "/google/assist/v1internal:streamGenerateContent"
GENERATE = "/google/assist/v1internal:generateContent"
SIGNATURE = "Q" * 64
HEADERS = {"Authorization": f"Bearer {CLIENT_KEY}", "x-goog-api-key": CLIENT_KEY}
# Tool-call ids are "<name>-<unix nanos>-<counter>", as the legacy makes them.
TOOL_ID = re.compile(rb'"(get)-\d+-\d+"')


@dataclass
class ScriptedCloudCode(FakeOAuthProviders):
    """The fake providers with ``v1internal`` answers set per test: ``chunks`` for a stream (each
    one ``data:`` line), ``whole`` for ``generateContent``."""

    chunks: list[Any] = field(default_factory=list)
    whole: Any = None

    async def _gemini_generate(self, request: web.Request) -> web.StreamResponse:
        return web.json_response(self.whole)

    async def _gemini_stream(self, request: web.Request) -> web.StreamResponse:
        resp = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
        await resp.prepare(request)
        for chunk in self.chunks:
            await resp.write(f"data: {json.dumps(chunk)}\n\n".encode())
        await resp.write_eof()
        return resp


@pytest.fixture
async def antigravity(make_gateway: GatewayFactory, tmp_path: Path) -> AsyncIterator[OAuthGateway]:
    fake = ScriptedCloudCode(expires_in=LONG_LIVED)
    fake.antigravity_models = {"gemini-2.5-flash": {}, "claude-sonnet-4-5-thinking": {}}
    async with oauth_gateway(make_gateway, tmp_path, fake=fake) as gw:
        await gw.cli_login("antigravity")
        await gw.until(lambda: bool(gw.serving("gemini-claude-sonnet-4-5-thinking")), "the Antigravity models")
        yield gw


@pytest.fixture
async def gemini_cli(make_gateway: GatewayFactory, tmp_path: Path) -> AsyncIterator[OAuthGateway]:
    async with oauth_gateway(make_gateway, tmp_path, fake=ScriptedCloudCode(expires_in=LONG_LIVED)) as gw:
        await http_login(gw)
        await gw.until(lambda: bool(gw.serving("gemini-2.5-pro")), "the Gemini CLI models")
        yield gw


async def post(gw: OAuthGateway, path: str, body: dict[str, Any]) -> tuple[int, bytes]:
    async with gw.http.post(gw.url + path, json=body, headers=HEADERS) as resp:
        return resp.status, await resp.read()


def scripted(gw: OAuthGateway) -> ScriptedCloudCode:
    assert isinstance(gw.fake, ScriptedCloudCode)
    return gw.fake


def chunk(*parts: dict[str, Any], **response: Any) -> dict[str, Any]:
    candidate: dict[str, Any] = {"content": {"role": "model", "parts": list(parts)}}
    if "finish" in response:
        candidate["finishReason"] = response.pop("finish")
    return {"response": {"candidates": [candidate], **response}}


def claude_frames(*frames: tuple[str, str]) -> bytes:
    return b"".join(f"event: {name}\ndata: {data}\n\n\n".encode() for name, data in frames)


# --- Antigravity ------------------------------------------------------------------------------


async def test_gemini_client_tool_config_of_another_type_is_overwritten(antigravity: OAuthGateway) -> None:
    """geminiToAntigravity writes ``request.toolConfig.functionCallingConfig.mode`` with sjson
    (antigravity_executor.go:1411-1412), which replaces a scalar on the way by an object and leaves
    an array alone; its Claude loop over ``request.tools`` skips what is not a list of
    declarations (:1414-1425). No value of the client's breaks the request."""
    fake = scripted(antigravity)
    fake.chunks = [chunk({"text": "ok"}, finish="STOP", usageMetadata={"promptTokenCount": 3})]
    contents = [{"role": "user", "parts": [{"text": "hi"}]}]
    cases = [
        ("gemini-2.5-flash", {"toolConfig": {"functionCallingConfig": "AUTO"}},
         {"toolConfig": {"functionCallingConfig": {"mode": "VALIDATED"}}}),
        ("gemini-2.5-flash", {"toolConfig": "AUTO"}, {"toolConfig": {"functionCallingConfig": {"mode": "VALIDATED"}}}),
        ("gemini-2.5-flash", {"toolConfig": {"functionCallingConfig": ["AUTO"]}},
         {"toolConfig": {"functionCallingConfig": ["AUTO"]}}),
        ("gemini-claude-sonnet-4-5-thinking", {"tools": 5}, {"tools": 5}),
        ("gemini-claude-sonnet-4-5-thinking", {"tools": [{"functionDeclarations": 5}]},
         {"tools": [{"functionDeclarations": 5}]}),
    ]
    for model, extra, expected in cases:
        status, raw = await post(antigravity, f"/v1beta/models/{model}:streamGenerateContent?alt=sse",
                                 {"contents": contents, **extra})
        assert (status, raw) == (200, b'data: {"candidates":[{"content":{"role":"model","parts":[{"text":"ok"}]},'
                                      b'"finishReason":"STOP"}],"usageMetadata":{"promptTokenCount":3}}\n\n'), extra
        sent = fake.seen(STREAM)[-1]["body"]["request"]
        assert {key: sent[key] for key in expected} == expected
        assert sent["contents"] == contents
        if "toolConfig" not in extra:
            assert sent["toolConfig"] == {"functionCallingConfig": {"mode": "VALIDATED"}}
