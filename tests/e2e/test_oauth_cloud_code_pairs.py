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


async def test_claude_client_signature_round_trip_on_a_claude_model(antigravity: OAuthGateway) -> None:
    """antigravity_claude_response.go caches the signature of the streamed thinking text per
    session and sends it as ``claude#<signature>``; the next turn's thinking block, whose client
    signature names the group and not the model, is signed from that cache, and so is the
    ``tool_use`` that follows it (antigravity_claude_request.go:127-176, :202-212)."""
    fake = scripted(antigravity)
    fake.chunks = [
        chunk({"text": "let me", "thought": True}, responseId="r1", modelVersion="claude-sonnet-4-5-thinking"),
        chunk({"text": " look", "thought": True}),
        chunk({"text": "", "thought": True, "thoughtSignature": SIGNATURE}),
        chunk({"functionCall": {"name": "get", "args": {"q": "x"}}}, finish="STOP",
              usageMetadata={"promptTokenCount": 10, "cachedContentTokenCount": 4, "candidatesTokenCount": 5,
                             "thoughtsTokenCount": 2, "totalTokenCount": 17}),
    ]
    tools = [{"name": "get", "input_schema": {"type": "object", "properties": {"q": {"type": "string"}}}}]
    first = [{"role": "user", "content": [{"type": "text", "text": "find x"}]}]
    body = {"model": "gemini-claude-sonnet-4-5-thinking", "max_tokens": 4096, "stream": True,
            "thinking": {"type": "enabled", "budget_tokens": 2048}, "tools": tools, "messages": first}
    status, raw = await post(antigravity, "/v1/messages", body)
    assert status == 200
    assert TOOL_ID.sub(rb'"\1-ID"', raw) == claude_frames(
        ("message_start", '{"type":"message_start","message":{"id":"r1","type":"message","role":"assistant",'
                          '"content":[],"model":"claude-sonnet-4-5-thinking","stop_reason":null,"stop_sequence":null,'
                          '"usage":{"input_tokens":0,"output_tokens":0}}}'),
        ("content_block_start", '{"type":"content_block_start","index":0,"content_block":{"type":"thinking",'
                                '"thinking":""}}'),
        ("content_block_delta", '{"type":"content_block_delta","index":0,"delta":{"type":"thinking_delta",'
                                '"thinking":"let me"}}'),
        ("content_block_delta", '{"type":"content_block_delta","index":0,"delta":{"type":"thinking_delta",'
                                '"thinking":" look"}}'),
        ("content_block_delta", '{"type":"content_block_delta","index":0,"delta":{"type":"signature_delta",'
                                f'"signature":"claude#{SIGNATURE}"}}}}'),
        ("content_block_stop", '{"type":"content_block_stop","index":0}'),
        ("content_block_start", '{"type":"content_block_start","index":1,"content_block":{"type":"tool_use",'
                                '"id":"get-ID","name":"get","input":{}}}'),
        ("content_block_delta", '{"type":"content_block_delta","index":1,"delta":{"type":"input_json_delta",'
                                '"partial_json":"{\\"q\\":\\"x\\"}"}}'),
        ("content_block_stop", '{"type":"content_block_stop","index":1}'),
        ("message_delta", '{"type":"message_delta","delta":{"stop_reason":"tool_use","stop_sequence":null},'
                          '"usage":{"input_tokens":6,"output_tokens":7,"cache_read_input_tokens":4}}'),
        ("message_stop", '{"type":"message_stop"}'),
    )
    turn = fake.seen(STREAM)[-1]
    assert turn["query"] == {"alt": "sse"}
    envelope = turn["body"]
    assert [envelope[k] for k in ("model", "userAgent", "requestType", "project")] == [
        "claude-sonnet-4-5-thinking", "antigravity", "agent", "assist-project"]
    assert envelope["request"]["generationConfig"] == {
        "thinkingConfig": {"thinkingBudget": 2048, "includeThoughts": True}, "maxOutputTokens": 4096}
    assert envelope["request"]["tools"] == [{"functionDeclarations": [{"name": "get", "parameters": {
        "type": "object", "properties": {"q": {"type": "string"}, "_": {"type": "boolean"}}, "required": ["_"]}}]}]

    second = [*first,
              {"role": "assistant", "content": [
                  {"type": "thinking", "thinking": "let me look", "signature": f"claude#{SIGNATURE}"},
                  {"type": "tool_use", "id": "get-1-1", "name": "get", "input": {"q": "x"}}]},
              {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "get-1-1", "content": "42"}]}]
    status, _ = await post(antigravity, "/v1/messages", {**body, "messages": second})
    assert status == 200
    assert fake.seen(STREAM)[-1]["body"]["request"]["contents"] == [
        {"role": "user", "parts": [{"text": "find x"}]},
        {"role": "model", "parts": [
            {"thought": True, "text": "let me look", "thoughtSignature": SIGNATURE},
            {"thoughtSignature": SIGNATURE, "functionCall": {"id": "get-1-1", "name": "get", "args": {"q": "x"}}}]},
        {"role": "user", "parts": [
            {"functionResponse": {"id": "get-1-1", "name": "get", "response": {"result": "42"}}}]},
    ]


async def test_openai_non_stream_on_a_claude_model_is_folded_from_the_stream(antigravity: OAuthGateway) -> None:
    """A non-stream call for a Claude model goes up as a stream and is merged
    (antigravity_executor.go:235-414, convertStreamToNonStream :416-597); the merged answer is read
    by the Gemini non-stream translator, whose ``prompt_tokens`` adds the thoughts and keeps the
    cached count inside (gemini_openai_response.go:279-301), where the stream subtracts it."""
    fake = scripted(antigravity)
    fake.chunks = [
        chunk({"text": "th", "thought": True}, responseId="r1", createTime="2025-01-01T00:00:00Z"),
        chunk({"text": "ink", "thought": True}, {"text": "", "thought": True, "thoughtSignature": SIGNATURE}),
        chunk({"text": "Hel"}),
        chunk({"text": "lo"}, finish="STOP", modelVersion="claude-sonnet-4-5-thinking",
              usageMetadata={"promptTokenCount": 10, "cachedContentTokenCount": 4, "candidatesTokenCount": 5,
                             "thoughtsTokenCount": 2, "totalTokenCount": 17}),
    ]
    status, raw = await post(antigravity, "/v1/chat/completions", {
        "model": "gemini-claude-sonnet-4-5-thinking", "messages": [{"role": "user", "content": "hi"}]})
    assert status == 200
    # The merged template is the last chunk's response: its createTime is gone, so created is 0.
    assert json.loads(raw) == {
        "id": "r1", "object": "chat.completion", "created": 0, "model": "claude-sonnet-4-5-thinking",
        "choices": [{"index": 0, "message": {"role": "assistant", "content": "Hello", "reasoning_content": "think",
                                             "tool_calls": None},
                     "finish_reason": "stop", "native_finish_reason": "stop"}],
        "usage": {"completion_tokens": 5, "total_tokens": 17, "prompt_tokens": 12,
                  "completion_tokens_details": {"reasoning_tokens": 2}, "prompt_tokens_details": {"cached_tokens": 4}},
    }
    [sent] = fake.seen(STREAM)
    assert sent["query"] == {"alt": "sse"} and sent["headers"]["Accept"] == "text/event-stream"
    assert fake.seen(GENERATE) == []


# --- Gemini CLI -------------------------------------------------------------------------------


async def test_claude_client_on_gemini_cli_envelope_and_answer(gemini_cli: OAuthGateway) -> None:
    """gemini-cli_claude_request.go: no thinking blocks or call ids go up, the tool answer is named
    after the id without its last dash part and carries its raw JSON as a string, the tool keeps
    its other fields; the stream (gemini-cli_claude_response.go) closes at the finish with usage."""
    fake = scripted(gemini_cli)
    fake.chunks = [
        chunk({"text": "Hi"}, responseId="r", modelVersion="gemini-2.5-pro"),
        chunk({"text": " there"}, finish="STOP",
              usageMetadata={"promptTokenCount": 7, "candidatesTokenCount": 2, "thoughtsTokenCount": 3}),
    ]
    body = {"model": "gemini-2.5-pro", "max_tokens": 100, "stream": True, "system": "be brief",
            "thinking": {"type": "enabled", "budget_tokens": 2048}, "top_p": 0.5,
            "tools": [{"name": "get", "description": "d", "input_schema": {"type": "object"}, "strict": True,
                       "type": "custom", "cache_control": {"type": "ephemeral"}}],
            "messages": [
                {"role": "user", "content": "hi"},
                {"role": "assistant", "content": [
                    {"type": "thinking", "thinking": "t", "signature": "s"}, {"type": "text", "text": "a"},
                    {"type": "tool_use", "id": "get-1-2", "name": "get", "input": {"a": 1}}]},
                {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "get-1-2", "content": "res"}]}]}
    status, raw = await post(gemini_cli, "/v1/messages", body)
    assert status == 200
    assert raw == claude_frames(
        ("message_start", '{"type":"message_start","message":{"id":"r","type":"message","role":"assistant",'
                          '"content":[],"model":"gemini-2.5-pro","stop_reason":null,"stop_sequence":null,'
                          '"usage":{"input_tokens":0,"output_tokens":0}}}'),
        ("content_block_start", '{"type":"content_block_start","index":0,"content_block":{"type":"text","text":""}}'),
        ("content_block_delta", '{"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"Hi"}}'),
        ("content_block_delta", '{"type":"content_block_delta","index":0,"delta":{"type":"text_delta",'
                                '"text":" there"}}'),
        ("content_block_stop", '{"type":"content_block_stop","index":0}'),
        ("message_delta", '{"type":"message_delta","delta":{"stop_reason":"end_turn","stop_sequence":null},'
                          '"usage":{"input_tokens":7,"output_tokens":5}}'),
        ("message_stop", '{"type":"message_stop"}'),
    )
    [sent] = fake.seen(STREAM)
    assert sent["query"] == {"alt": "sse"}
    envelope = sent["body"]
    assert list(envelope) == ["model", "request", "project"]
    assert (envelope["model"], envelope["project"]) == ("gemini-2.5-pro", "proj-one")
    request = envelope["request"]
    assert request["contents"] == [
        {"role": "user", "parts": [{"text": "hi"}]},
        {"role": "model", "parts": [{"text": "a"}, {"thoughtSignature": "skip_thought_signature_validator",
                                                     "functionCall": {"name": "get", "args": {"a": 1}}}]},
        {"role": "user", "parts": [{"functionResponse": {"name": "get-1", "response": {"result": '"res"'}}}]},
    ]
    assert request["systemInstruction"] == {"parts": [{"text": "be brief"}]}
    assert request["tools"] == [{"functionDeclarations": [
        {"name": "get", "description": "d", "parametersJsonSchema": {"type": "object"}}]}]
    assert request["generationConfig"] == {"thinkingConfig": {"thinkingBudget": 2048, "includeThoughts": True},
                                           "topP": 0.5}
    assert len(request["safetySettings"]) == 5
