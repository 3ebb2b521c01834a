"""Same-protocol pairs: ``openai/openai`` (model rewrite, chunk passthrough) and the unregistered
Claude -> Claude passthrough (reference A1 registry semantics)."""

from __future__ import annotations

import json

from handlers.translation import openai_passthrough
from handlers.translation.sse import encode_gemini_chunk
from quotio_gateway.sse import SSEParser


def test_openai_request_rewrites_only_the_model() -> None:
    body = {"model": "alias", "messages": [{"role": "user", "content": "hi"}], "temperature": 0.1}
    out = openai_passthrough.openai_request(body, "real(8192)")
    assert out == {"model": "real(8192)", "messages": body["messages"], "temperature": 0.1}
    assert list(out) == ["model", "messages", "temperature"]
    assert body["model"] == "alias"
    assert list(openai_passthrough.openai_request({"messages": []}, "m")) == ["messages", "model"]


def test_openai_chunks_pass_through_without_done() -> None:
    assert openai_passthrough.openai_chunk(' {"id":"x", "choices":[]} ') == b'data: {"id":"x", "choices":[]}\n\n'
    assert openai_passthrough.openai_chunk("[DONE]") is None
    assert openai_passthrough.openai_chunk("  ") is None


def test_claude_request_keeps_the_body() -> None:
    body = {"model": "alias", "messages": [], "thinking": {"type": "enabled", "budget_tokens": 1024}}
    assert openai_passthrough.claude_request(body, "claude-real") == {**body, "model": "claude-real"}


def test_claude_frames_are_rewritten_as_the_upstream_framed_them() -> None:
    assert openai_passthrough.claude_frame("ping", '{"type": "ping"}') == b'event: ping\ndata: {"type": "ping"}\n\n'
    assert openai_passthrough.claude_frame("", "a\nb") == b"data: a\ndata: b\n\n"


def test_a_multi_line_data_event_is_relayed_on_as_many_data_lines() -> None:
    # Joined under one prefix, the continuation lines would reach the client's SSE reader as
    # lines of no field, and the JSON it sees would end at the first line break.
    frame = openai_passthrough.openai_chunk('{"id": "c",\n"choices": []}')
    assert frame == b'data: {"id": "c",\ndata: "choices": []}\n\n'
    [event] = SSEParser().feed(frame)
    assert json.loads(event.data) == {"id": "c", "choices": []}


def test_a_multi_line_gemini_chunk_is_relayed_on_as_many_data_lines() -> None:
    frame = encode_gemini_chunk(b'{"candidates":\n[]}')
    [event] = SSEParser().feed(frame)
    assert json.loads(event.data) == {"candidates": []}
    assert encode_gemini_chunk(b'{"candidates":\n[]}', "json") == b'{"candidates":\n[]}'
