"""Antigravity executor: agent envelope, base fallback, folded streams (providers §7.4/7.5)."""

from __future__ import annotations

import json
import re
from collections.abc import AsyncIterator

import pytest

from handlers.providers import StreamEvent, UpstreamClient, UpstreamError, UpstreamRequest
from handlers.providers.oauth_antigravity import (
    BASE_URLS,
    SYSTEM_INSTRUCTION,
    AntigravityExecutor,
    merge_stream,
    random_project_id,
    stable_session_id,
)
from handlers.providers.oauth_base import OAuthCredential, StaticToken
from handlers.translation.model import Format

from .conftest import FakeUpstream

BODY = {"model": "x", "request": {
    "contents": [{"role": "user", "parts": [{"text": "hello"}]}],
    "systemInstruction": {"parts": [{"text": "be brief"}]},
    "safetySettings": [{"category": "HARM_CATEGORY_HATE_SPEECH", "threshold": "OFF"}],
    "generationConfig": {"maxOutputTokens": 100, "temperature": 0.5},
    "tools": [{"functionDeclarations": [{"name": "f", "parametersJsonSchema": {
        "$schema": "http://json-schema.org/draft-07/schema#", "type": "object",
        "properties": {"a": {"type": "string"}}, "required": ["a"]}}]}],
}}
CHUNK = {"response": {"candidates": [{"content": {"role": "model", "parts": [{"text": "he"}]}}]}, "traceId": "tr1"}
LAST = {"response": {"candidates": [{"content": {"role": "model", "parts": [{"text": "llo"}]}, "finishReason": "STOP"}],
                     "usageMetadata": {"promptTokenCount": 1, "candidatesTokenCount": 2, "totalTokenCount": 3},
                     "modelVersion": "claude-sonnet-4-5", "responseId": "r1"}}


class Pinned(AntigravityExecutor):
    """The fallback list pointed at local fakes."""

    def __init__(self, client: UpstreamClient, bases: tuple[str, ...]) -> None:
        super().__init__(client, request_ids=lambda: "agent-fixed", project_ids=lambda: "calm-wave-abcde")
        self._bases = bases

    def base_urls(self, credential: OAuthCredential) -> tuple[str, ...]:
        return self._bases


def cred(project: str = "proj-9", **meta: object) -> OAuthCredential:
    return OAuthCredential("antigravity-a_b_com.json", "antigravity", StaticToken("ya29.ag"), project_id=project,
                           metadata=meta)


@pytest.fixture
async def second() -> AsyncIterator[FakeUpstream]:
    fake = FakeUpstream()
    await fake.start()
    yield fake
    await fake.stop()


async def test_gemini_body_edits_and_headers(upstream, client: UpstreamClient) -> None:
    upstream.answer_json(200, LAST)
    executor = Pinned(client, (upstream.url,))
    await executor.execute(cred(), UpstreamRequest("gemini-2.5-flash", BODY))
    seen = upstream.last
    assert (seen.method, seen.path_qs) == ("POST", "/v1internal:generateContent")
    sent = seen.json
    assert {k: sent[k] for k in ("model", "userAgent", "requestType", "project", "requestId")} == {
        "model": "gemini-2.5-flash", "userAgent": "antigravity", "requestType": "agent", "project": "proj-9",
        "requestId": "agent-fixed"}
    assert "safetySettings" not in sent["request"]
    assert sent["request"]["generationConfig"] == {"temperature": 0.5}
    assert sent["request"]["toolConfig"] == {"functionCallingConfig": {"mode": "VALIDATED"}}
    assert sent["request"]["sessionId"] == stable_session_id(BODY)
    assert sent["request"]["systemInstruction"] == {"parts": [{"text": "be brief"}]}
    assert seen.headers["Authorization"] == "Bearer ya29.ag"
    assert seen.headers["User-Agent"] == "antigravity/1.104.0 darwin/arm64"
    assert seen.headers["Accept"] == "application/json"
    assert AntigravityExecutor.upstream_format is Format.ANTIGRAVITY


async def test_claude_model_gets_instruction_parameters_and_folded_stream(upstream, client: UpstreamClient) -> None:
    upstream.answer_sse([upstream.frame(CHUNK), upstream.frame(LAST)])
    result = await Pinned(client, (upstream.url,)).execute(cred(project="", user_agent="ag/9"),
                                                           UpstreamRequest("claude-sonnet-4-5", BODY))
    seen = upstream.last
    assert seen.path_qs == "/v1internal:streamGenerateContent?alt=sse"
    assert seen.headers["User-Agent"] == "ag/9"
    sent = seen.json
    assert sent["project"] == "calm-wave-abcde"
    declaration = sent["request"]["tools"][0]["functionDeclarations"][0]
    assert "parametersJsonSchema" not in declaration
    assert declaration["parameters"]["properties"] == {"a": {"type": "string"}}
    assert "$schema" not in declaration["parameters"]
    assert sent["request"]["generationConfig"]["maxOutputTokens"] == 100
    assert sent["request"]["systemInstruction"]["role"] == "user"
    assert [p["text"] for p in sent["request"]["systemInstruction"]["parts"]] == [
        SYSTEM_INSTRUCTION, f"Please ignore following [ignore]{SYSTEM_INSTRUCTION}[/ignore]", "be brief"]
    assert result.json() == {"response": {
        "candidates": [{"content": {"role": "model", "parts": [{"text": "hello"}]}, "finishReason": "STOP"}],
        "usageMetadata": {"promptTokenCount": 1, "candidatesTokenCount": 2, "totalTokenCount": 3},
        "modelVersion": "claude-sonnet-4-5", "responseId": "r1"}, "traceId": "tr1"}


async def test_429_moves_to_the_next_base(upstream, second, client: UpstreamClient) -> None:
    upstream.answer_json(429, {"error": {"code": 429, "message": "busy"}})
    second.answer_json(200, LAST)
    result = await Pinned(client, (upstream.url, second.url)).execute(cred(), UpstreamRequest("gemini-2.5-flash", BODY))
    assert result.json() == LAST
    assert len(upstream.requests) == 1 and len(second.requests) == 1


async def test_unreachable_base_moves_to_the_next(second, client: UpstreamClient) -> None:
    second.answer_sse([second.frame(LAST)])
    dead = "http://127.0.0.1:9"  # discard port: nothing listens
    async with await Pinned(client, (dead, second.url)).stream(
            cred(), UpstreamRequest("gemini-2.5-flash", BODY, stream=True)) as stream:
        payloads = [event.payload async for event in stream]
    assert payloads == [LAST]


async def test_last_429_carries_the_hint_and_other_errors_do_not_fall_back(upstream, second,
                                                                             client: UpstreamClient) -> None:
    hint = {"error": {"code": 429, "details": [{"@type": "type.googleapis.com/google.rpc.RetryInfo",
                                                "retryDelay": "3s"}]}}
    upstream.answer_json(429, hint)
    second.answer_json(429, hint)
    with pytest.raises(UpstreamError) as err:
        await Pinned(client, (upstream.url, second.url)).execute(cred(), UpstreamRequest("gemini-2.5-flash", BODY))
    assert (err.value.scope, err.value.status, err.value.retry_after) == ("quota", 429, 3.0)
    upstream.answer_json(403, {"error": {"code": 403, "message": "denied"}})
    second.requests.clear()
    with pytest.raises(UpstreamError) as err:
        await Pinned(client, (upstream.url, second.url)).execute(cred(), UpstreamRequest("gemini-2.5-flash", BODY))
    assert (err.value.scope, err.value.status) == ("credential", 403)
    assert second.requests == []


def test_base_url_override_replaces_the_fallback_list() -> None:
    executor = AntigravityExecutor(client=None)  # type: ignore[arg-type]
    assert executor.base_urls(cred()) == BASE_URLS
    custom = OAuthCredential("a.json", "antigravity", StaticToken("t"), base_url="http://relay:1/")
    assert executor.base_urls(custom) == ("http://relay:1",)


def test_configured_fallbacks_follow_a_configured_base(tmp_path) -> None:
    # gateway.provider-endpoints.antigravity: inference-base-url plus inference-fallback-urls is
    # the list tried in order; a file's own base_url still stands alone.
    from handlers.auth.credential import new_credential
    from handlers.credentials.runtime import configured_base_urls, configured_fallback_urls
    from handlers.credentials.views import build_views

    gateway = {"provider-endpoints": {"antigravity": {"inference-base-url": "http://ag1",
                                                      "inference-fallback-urls": ["http://ag2", "http://ag3"]}}}
    executor = AntigravityExecutor(client=None)  # type: ignore[arg-type]

    def views(meta: dict) -> list[OAuthCredential]:
        credential = new_credential("antigravity-a.json", {"type": "antigravity", "access_token": "t", **meta})
        return build_views(credential, lambda _c: StaticToken("t"), base_url=configured_base_urls(gateway),
                           fallback_urls=configured_fallback_urls(gateway))

    [view] = views({})
    assert executor.base_urls(view) == ("http://ag1", "http://ag2", "http://ag3")
    [own] = views({"base_url": "http://mine"})
    assert executor.base_urls(own) == ("http://mine",)
    only_base = {"provider-endpoints": {"antigravity": {"inference-base-url": "http://ag1"}}}
    credential = new_credential("antigravity-a.json", {"type": "antigravity", "access_token": "t"})
    [alone] = build_views(credential, lambda _c: StaticToken("t"), base_url=configured_base_urls(only_base),
                          fallback_urls=configured_fallback_urls(only_base))
    assert executor.base_urls(alone) == ("http://ag1",)


def test_random_project_and_stable_session_shapes() -> None:
    assert re.fullmatch(r"(useful|bright|swift|calm|bold)-(fuze|wave|spark|flow|core)-[0-9a-f]{5}", random_project_id())
    first = stable_session_id(BODY)
    assert first == stable_session_id(BODY) and re.fullmatch(r"-\d+", first)
    assert re.fullmatch(r"-\d+", stable_session_id({"request": {"contents": []}}))


def test_count_tokens_drops_project_model_and_safety_settings() -> None:
    executor = AntigravityExecutor(client=None)  # type: ignore[arg-type]
    prepared = executor.prepare(cred().with_token("t"), UpstreamRequest(
        "gemini-2.5-flash", {"project": "p", "model": "m", "request": BODY["request"]}, action="countTokens"))
    assert prepared.url == f"{BASE_URLS[0]}/v1internal:countTokens"
    assert prepared.header("Accept") == "application/json"
    sent = json.loads(prepared.body)
    assert set(sent) == {"request"}
    assert "safetySettings" not in sent["request"]
    assert sent["request"]["contents"] == BODY["request"]["contents"]


def chunk(parts: list[dict], **extra: object) -> StreamEvent:
    payload = {"response": {"candidates": [{"content": {"role": "model", "parts": parts}, **extra}]}}
    return StreamEvent("", json.dumps(payload), payload)


def test_merge_joins_runs_and_keeps_calls_in_order() -> None:
    events = [
        chunk([{"thought": True, "text": "think "}]),
        chunk([{"thought": True, "text": "more", "thought_signature": "sig-1"}]),
        chunk([{"text": "  "}]),
        chunk([{"text": "Hello"}, {"text": " world"}]),
        chunk([{"functionCall": {"name": "f", "args": {}}, "thought_signature": "sig-2"}]),
        chunk([{"inline_data": {"mimeType": "image/png", "data": "AA"}}]),
        chunk([{"text": "  "}], finishReason="STOP"),
    ]
    merged = merge_stream(events)
    assert merged == {"response": {
        "candidates": [{"content": {"role": "model", "parts": [
            {"thought": True, "text": "think more", "thoughtSignature": "sig-1"},
            {"text": "  Hello world"},
            {"functionCall": {"name": "f", "args": {}}, "thoughtSignature": "sig-2"},
            {"inlineData": {"mimeType": "image/png", "data": "AA"}},
        ]}, "finishReason": "STOP"}],
        "usageMetadata": {"promptTokenCount": 0, "candidatesTokenCount": 0, "totalTokenCount": 0}}, "traceId": ""}


def test_merge_of_nothing_is_an_empty_answer() -> None:
    assert merge_stream([]) == {"response": {
        "candidates": [{"content": {"role": "model", "parts": []}}],
        "usageMetadata": {"promptTokenCount": 0, "candidatesTokenCount": 0, "totalTokenCount": 0}}, "traceId": ""}
