"""Kiro executor against a fake CodeWhisperer answering binary event streams (providers §8.4)."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime

import pytest
from aiohttp import web

from handlers.providers import StreamEvent, UpstreamClient, UpstreamError, UpstreamRequest
from handlers.providers.kiro_eventstream import encode_event
from handlers.providers.oauth_base import OAuthCredential, StaticToken
from handlers.providers.oauth_kiro import AMZ_USER_AGENT, USER_AGENT, KiroExecutor, endpoints_for
from handlers.translation.model import Format

FRAMES = [encode_event("assistantResponseEvent", {"content": "Hi "}),
          encode_event("assistantResponseEvent", {"content": "there"}),
          encode_event("meteringEvent", {"unit": "credit", "usage": 0.1})]
BODY = {"model": "kiro-claude-sonnet-4-5", "max_tokens": 100, "messages": [{"role": "user", "content": "hello"}]}


def binary(frames: list[bytes], *, status: int = 200, cut: int = 0):
    async def script(request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse(status=status, headers={"Content-Type": "application/vnd.amazon.eventstream"})
        await response.prepare(request)
        data = b"".join(frames)
        data = data[:-cut] if cut else data
        for at in range(0, len(data), 7):  # small writes: the decoder must reassemble frames
            await response.write(data[at:at + 7])
        await response.write_eof()
        return response
    return script


def cred(base: str, **meta: object) -> OAuthCredential:
    return OAuthCredential("kiro-google-a.json", "kiro", StaticToken("aoa-token"), base_url=base,
                           metadata={"profile_arn": "arn:aws:codewhisperer:us-east-1:1:profile/P", **meta})


def executor(client: UpstreamClient) -> KiroExecutor:
    return KiroExecutor(client, clock=lambda: datetime(2026, 1, 1, tzinfo=UTC), ids=lambda: "id-1")


async def test_stream_sends_the_aws_request_and_yields_claude_events(upstream, client: UpstreamClient) -> None:
    upstream.script = binary(FRAMES)
    async with await executor(client).stream(cred(upstream.url),
                                             UpstreamRequest("kiro-claude-sonnet-4-5", BODY, stream=True)) as stream:
        events = [event async for event in stream]
    assert all(isinstance(e, StreamEvent) for e in events)
    assert [e.event for e in events] == ["message_start", "content_block_start", "content_block_delta",
                                         "content_block_delta", "content_block_stop", "message_delta", "message_stop"]
    assert [e.payload["delta"]["text"] for e in events if e.event == "content_block_delta"] == ["Hi ", "there"]
    seen = upstream.last
    assert (seen.method, seen.path_qs) == ("POST", "/generateAssistantResponse")
    expected = {"Content-Type": "application/x-amz-json-1.0", "Authorization": "Bearer aoa-token", "Accept": "*/*",
                "X-Amz-Target": "AmazonCodeWhispererStreamingService.GenerateAssistantResponse",
                "User-Agent": USER_AGENT, "X-Amz-User-Agent": AMZ_USER_AGENT,
                "Amz-Sdk-Request": "attempt=1; max=3", "Amz-Sdk-Invocation-Id": "id-1"}
    for name, value in expected.items():
        assert seen.headers.getall(name) == [value], name
    sent = seen.json
    assert sent["profileArn"] == "arn:aws:codewhisperer:us-east-1:1:profile/P"
    assert sent["inferenceConfig"] == {"maxTokens": 100}
    assert sent["conversationState"]["currentMessage"]["userInputMessage"]["origin"] == "AI_EDITOR"
    assert sent["conversationState"]["currentMessage"]["userInputMessage"]["modelId"] == "claude-sonnet-4.5"
    assert KiroExecutor.upstream_format is Format.CLAUDE


async def test_non_stream_folds_into_a_claude_message(upstream, client: UpstreamClient) -> None:
    upstream.script = binary(FRAMES)
    result = await executor(client).execute(cred(upstream.url, auth_method="builder-id"),
                                            UpstreamRequest("kiro-claude-sonnet-4-5", BODY))
    message = result.json()
    assert (message["type"], message["role"], message["model"]) == ("message", "assistant", "kiro-claude-sonnet-4-5")
    assert message["content"] == [{"type": "text", "text": "Hi there"}]
    assert message["stop_reason"] == "end_turn"
    assert "profileArn" not in upstream.last.json  # Builder ID sends none


async def test_429_moves_to_amazon_q(upstream, client: UpstreamClient) -> None:
    calls: list[str] = []

    async def script(request: web.Request) -> web.StreamResponse:
        calls.append(request.path)
        if request.path == "/generateAssistantResponse":
            return web.json_response({"message": "throttled"}, status=429)
        return await binary(FRAMES)(request)

    upstream.script = script
    result = await executor(client).execute(cred(upstream.url), UpstreamRequest("kiro-auto", BODY))
    assert result.json()["content"] == [{"type": "text", "text": "Hi there"}]
    assert calls == ["/generateAssistantResponse", "/"]
    assert upstream.last.headers["X-Amz-Target"] == "AmazonQDeveloperStreamingService.SendMessage"
    assert upstream.last.json["conversationState"]["currentMessage"]["userInputMessage"]["origin"] == "CLI"


async def test_429_everywhere_is_quota_and_403_is_final(upstream, client: UpstreamClient) -> None:
    upstream.answer_json(429, {"message": "throttled"})
    with pytest.raises(UpstreamError) as err:
        await executor(client).execute(cred(upstream.url), UpstreamRequest("kiro-auto", BODY))
    assert (err.value.scope, err.value.status) == ("quota", 429)
    assert len(upstream.requests) == 2
    upstream.answer_json(403, {"message": "The bearer token included in the request is invalid."})
    with pytest.raises(UpstreamError) as err:
        await executor(client).execute(cred(upstream.url), UpstreamRequest("kiro-auto", BODY))
    assert (err.value.scope, err.value.status) == ("credential", 403)
    assert len(upstream.requests) == 3


async def test_5xx_is_tried_twice_more_on_the_same_endpoint_after_1_then_2_seconds(
        upstream, client: UpstreamClient) -> None:
    slept: list[float] = []

    async def sleep(seconds: float) -> None:
        slept.append(seconds)

    answers = iter([503, 500])

    async def script(request: web.Request) -> web.StreamResponse:
        status = next(answers, 200)
        if status != 200:
            return web.json_response({"message": "busy"}, status=status)
        return await binary(FRAMES)(request)

    upstream.script = script
    kiro = KiroExecutor(client, clock=lambda: datetime(2026, 1, 1, tzinfo=UTC), ids=lambda: "id-1", sleep=sleep)
    result = await kiro.execute(cred(upstream.url), UpstreamRequest("kiro-auto", BODY))
    assert result.json()["content"] == [{"type": "text", "text": "Hi there"}]
    assert slept == [1.0, 2.0]
    assert [r.path_qs for r in upstream.requests] == ["/generateAssistantResponse"] * 3

    slept.clear()
    upstream.answer_json(502, {"message": "bad gateway"})
    with pytest.raises(UpstreamError) as err:
        await kiro.execute(cred(upstream.url), UpstreamRequest("kiro-auto", BODY))
    assert (err.value.scope, err.value.status, err.value.body) == ("transient", 502, b'{"message":"bad gateway"}')
    assert slept == [1.0, 2.0]
    assert len(upstream.requests) == 6  # no move to Amazon Q: only a 429 changes endpoint


def test_preferred_endpoint_reorders() -> None:
    assert [e.name for e in endpoints_for(cred("", preferred_endpoint="Q"))] == ["amazonq", "codewhisperer"]
    assert [e.url for e in endpoints_for(cred(""))] == [
        "https://codewhisperer.us-east-1.amazonaws.com/generateAssistantResponse", "https://q.us-east-1.amazonaws.com/"]


def test_configured_amazon_q_url_is_the_second_endpoint() -> None:
    # gateway.provider-endpoints.kiro.amazonq-url reaches the view as its one fallback URL; it was
    # accepted by the config and then ignored (the Q call went to "<base>/" or the real host).
    relayed = replace(cred("http://relay/cw"), fallback_urls=("http://relay/q",))
    assert [(e.name, e.url, e.origin) for e in endpoints_for(relayed)] == [
        ("codewhisperer", "http://relay/cw/generateAssistantResponse", "AI_EDITOR"),
        ("amazonq", "http://relay/q", "CLI")]
    only_q = replace(cred(""), fallback_urls=("http://relay/q",))
    assert [e.url for e in endpoints_for(only_q)] == [
        "https://codewhisperer.us-east-1.amazonaws.com/generateAssistantResponse", "http://relay/q"]
    preferred = replace(cred("", preferred_endpoint="cli"), fallback_urls=("http://relay/q",))
    assert endpoints_for(preferred)[0].url == "http://relay/q"


async def test_in_band_error_ends_the_stream_with_a_transient_error(upstream, client: UpstreamClient) -> None:
    upstream.script = binary([FRAMES[0], encode_event("assistantResponseEvent", {"type": "error", "message": "boom"})])
    seen: list[str] = []
    with pytest.raises(UpstreamError) as err:
        async with await executor(client).stream(cred(upstream.url), UpstreamRequest("m", BODY, stream=True)) as stream:
            async for event in stream:
                seen.append(event.event)
    assert seen == ["message_start", "content_block_start", "content_block_delta"]
    assert (err.value.scope, err.value.status, err.value.body) == ("transient", None, b"kiro API error: boom")
    with pytest.raises(UpstreamError) as err:
        await executor(client).execute(cred(upstream.url), UpstreamRequest("m", BODY))
    assert err.value.scope == "transient"
    assert err.value.body == b"kiro API error: boom"


async def test_body_ending_inside_a_frame_is_a_transport_error(upstream, client: UpstreamClient) -> None:
    upstream.script = binary(FRAMES, cut=5)
    with pytest.raises(UpstreamError) as err:
        await executor(client).execute(cred(upstream.url), UpstreamRequest("m", BODY))
    assert (err.value.scope, err.value.status) == ("transient", None)
    assert err.value.body.startswith(b"malformed upstream event stream: stream ended inside a frame")


async def test_count_tokens_refused(upstream, client: UpstreamClient) -> None:
    with pytest.raises(UpstreamError) as err:
        await executor(client).execute(cred(upstream.url), UpstreamRequest("m", BODY, action="countTokens"))
    assert (err.value.status, err.value.body) == (501, b"count tokens not supported for kiro")
