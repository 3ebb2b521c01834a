"""benchmarks/fake_claude.py: the Anthropic Messages answers the native benchmarks run against."""

from __future__ import annotations

import json
from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from benchmarks.fake_claude import (
    FULL_JSON,
    MESSAGE_ID,
    OUTPUT_TOKENS,
    TEXT,
    make_app,
    token_shape,
    wants_stream,
)
from handlers.translation.sse import SSEParser


def events(body: bytes) -> list[tuple[str, dict[str, Any]]]:
    return [(e.event, json.loads(e.data)) for e in SSEParser().feed(body)]


def test_token_shape_reads_count_and_delay_from_the_path() -> None:
    assert token_shape("/toks/20/50/v1/messages") == (20, 0.05)
    assert token_shape("/toks/3/0/v1/messages") == (3, 0.0)
    assert token_shape("/v1/messages") is None
    assert token_shape("/toks/v1/messages") is None


def test_wants_stream_reads_compact_and_spaced_json() -> None:
    assert wants_stream(b'{"stream":true}')
    assert wants_stream(b'{"model": "m", "stream": true}')
    assert not wants_stream(b'{"stream":false}')
    assert not wants_stream(b'{"model":"m"}')


async def test_non_stream_answer_is_one_message_with_the_full_text(aiohttp_client: Any) -> None:
    client: TestClient = await aiohttp_client(make_app())
    resp = await client.post("/v1/messages?beta=true", data=b'{"stream":false}')
    assert resp.status == 200
    assert resp.content_type == "application/json"
    body = await resp.read()
    assert body == FULL_JSON
    message = json.loads(body)
    assert message["content"] == [{"type": "text", "text": TEXT}]
    assert message["stop_reason"] == "end_turn"
    assert message["usage"] == {"input_tokens": 10, "output_tokens": OUTPUT_TOKENS}


async def test_full_stream_is_the_smallest_event_sequence_for_the_text(aiohttp_client: Any) -> None:
    client: TestClient = await aiohttp_client(make_app())
    resp = await client.post("/v1/messages", data=b'{"stream":true}')
    assert resp.status == 200
    assert resp.headers["Content-Type"] == "text/event-stream"
    got = events(await resp.read())
    assert [name for name, _ in got] == ["message_start", "content_block_start", "content_block_delta",
                                         "content_block_stop", "message_delta", "message_stop"]
    assert all(payload["type"] == name for name, payload in got)
    assert got[0][1]["message"]["id"] == MESSAGE_ID
    assert got[2][1]["delta"] == {"type": "text_delta", "text": TEXT}
    assert got[4][1]["usage"] == {"output_tokens": OUTPUT_TOKENS}


async def test_token_stream_sends_n_deltas_under_its_path_prefix(aiohttp_client: Any) -> None:
    client: TestClient = await aiohttp_client(make_app())
    resp = await client.post("/toks/3/0/v1/messages", data=b'{"model": "m", "stream": true}')
    got = events(await resp.read())
    deltas = [payload["delta"]["text"] for name, payload in got if name == "content_block_delta"]
    assert deltas == ["tok0 ", "tok1 ", "tok2 "]
    assert got[-1] == ("message_stop", {"type": "message_stop"})


async def test_token_prefix_without_stream_still_answers_the_full_message(aiohttp_client: Any) -> None:
    client: TestClient = await aiohttp_client(make_app())
    resp = await client.post("/toks/3/0/v1/messages", data=b"{}")
    assert await resp.read() == FULL_JSON


@pytest.mark.parametrize("path", ["/v1/complete", "/toks/3/0/v1/chat/completions"])
async def test_paths_not_ending_in_messages_are_404(aiohttp_client: Any, path: str) -> None:
    client: TestClient = await aiohttp_client(make_app())
    resp = await client.post(path, data=b'{"stream":true}')
    assert resp.status == 404
