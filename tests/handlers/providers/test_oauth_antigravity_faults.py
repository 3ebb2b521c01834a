"""Antigravity base fallback under transport faults: which failures move to the next base.

The legacy moves on when a base cannot be reached or answers 429 (antigravity_executor.go:161-172,
:195-197). A whole-answer call (generateContent, countTokens) reads the body before it looks at
the status, so a body that breaks after the headers came ends the call on that base (:179-187,
:883-890); a stream call reads only an error body there, and falls back when that one breaks
(:297-318, :662-684).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
from aiohttp import web

from handlers.providers import UpstreamClient, UpstreamError, UpstreamRequest

from .conftest import FakeUpstream, Script
from .test_oauth_antigravity import BODY, LAST, Pinned, cred


def broken_body(status: int, *, stall: bool = False) -> Script:
    """Headers with ``status``, half a JSON body, then a reset (or silence)."""

    async def script(request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse(status=status, headers={"Content-Type": "application/json"})
        response.enable_chunked_encoding()
        await response.prepare(request)
        await response.write(b'{"response": {"candidates": [')
        if stall:
            await asyncio.sleep(3600)
        assert request.transport is not None
        request.transport.abort()
        return response

    return script


@pytest.fixture
async def second() -> AsyncIterator[FakeUpstream]:
    fake = FakeUpstream()
    await fake.start()
    yield fake
    await fake.stop()


@pytest.mark.parametrize("action", ["", "countTokens"])
@pytest.mark.parametrize("stall", [False, True])
async def test_a_whole_answer_broken_mid_body_does_not_move_to_the_next_base(
        upstream: FakeUpstream, second: FakeUpstream, client: UpstreamClient, action: str, stall: bool) -> None:
    upstream.script = broken_body(200, stall=stall)
    second.answer_json(200, LAST)
    with pytest.raises(UpstreamError) as err:
        await Pinned(client, (upstream.url, second.url)).execute(
            cred(), UpstreamRequest("gemini-2.5-flash", BODY, action=action))
    assert (err.value.status, err.value.mid_body) == (None, True)
    assert len(upstream.requests) == 1
    assert second.requests == []


async def test_an_error_body_broken_mid_body_ends_a_whole_answer_call_too(
        upstream: FakeUpstream, second: FakeUpstream, client: UpstreamClient) -> None:
    upstream.script = broken_body(429)
    second.answer_json(200, LAST)
    with pytest.raises(UpstreamError) as err:
        await Pinned(client, (upstream.url, second.url)).execute(cred(), UpstreamRequest("gemini-2.5-flash", BODY))
    assert err.value.status is None
    assert second.requests == []


async def test_a_stream_whose_error_body_breaks_moves_to_the_next_base(
        upstream: FakeUpstream, second: FakeUpstream, client: UpstreamClient) -> None:
    upstream.script = broken_body(503)
    second.answer_sse([second.frame(LAST)])
    async with await Pinned(client, (upstream.url, second.url)).stream(
            cred(), UpstreamRequest("gemini-2.5-flash", BODY, stream=True)) as stream:
        payloads = [event.payload async for event in stream]
    assert payloads == [LAST]
    assert len(upstream.requests) == 1 and len(second.requests) == 1


async def test_a_whole_answer_still_moves_on_from_an_unreachable_base(second: FakeUpstream,
                                                                    client: UpstreamClient) -> None:
    second.answer_json(200, LAST)
    dead = "http://127.0.0.1:9"  # discard port: nothing listens
    result = await Pinned(client, (dead, second.url)).execute(cred(), UpstreamRequest("gemini-2.5-flash", BODY))
    assert result.json() == LAST
