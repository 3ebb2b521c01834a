"""Antigravity upstream answers -> Claude (signature caching, deferred finish; A2.13, A3.5) and
Gemini clients."""

from __future__ import annotations

import itertools
from typing import Any

from handlers.translation.antigravity_response import (
    ClaudeStreamFromAntigravity,
    render_claude_response,
    unwrap_gemini_chunk,
    unwrap_gemini_response,
)
from handlers.translation.antigravity_signatures import SignatureCache

MODEL = "claude-sonnet-4-5-thinking"
SIG = "abc123validSignature1234567890123456789012345678901234567890"


def ids() -> Any:
    counter = itertools.count(1)
    return lambda name: f"{name}-id-{next(counter)}"


def chunk(*parts: dict[str, Any], **extra: Any) -> dict[str, Any]:
    candidate: dict[str, Any] = {"content": {"role": "model", "parts": list(parts)}}
    if "finish" in extra:
        candidate["finishReason"] = extra.pop("finish")
    return {"response": {"candidates": [candidate], **extra}}


def frame(kind: str, index: int, body: dict[str, Any] | None = None) -> tuple[str, dict[str, Any]]:
    payload: dict[str, Any] = {"type": kind, "index": index}
    if kind == "content_block_start":
        payload["content_block"] = body
    elif kind == "content_block_delta":
        payload["delta"] = body
    return kind, payload


def test_stream_golden_with_signature_caching() -> None:
    cache = SignatureCache(clock=lambda: 0.0)
    machine = ClaudeStreamFromAntigravity(MODEL, "sess", cache=cache, tool_id=ids())
    frames = machine.feed(
        chunk(
            {"text": "First part", "thought": True},
            responseId="r",
            modelVersion="claude-x",
            cpaUsageMetadata={"promptTokenCount": 9, "candidatesTokenCount": 1},
        )
    )
    frames += machine.feed(chunk({"text": " second", "thought": True}))
    frames += machine.feed(chunk({"text": "", "thought": True, "thoughtSignature": SIG}))
    frames += machine.feed(chunk({"text": "Answer"}))
    frames += machine.feed(chunk({"text": ""}, finish="STOP"))
    usage = {"promptTokenCount": 50, "cachedContentTokenCount": 20, "totalTokenCount": 70, "thoughtsTokenCount": 5}
    frames += machine.feed(chunk(usageMetadata=usage))
    frames += machine.done()
    message = {
        "id": "r",
        "type": "message",
        "role": "assistant",
        "content": [],
        "model": "claude-x",
        "stop_reason": None,
        "stop_sequence": None,
        "usage": {"input_tokens": 9, "output_tokens": 1},
    }
    assert frames == [
        ("message_start", {"type": "message_start", "message": message}),
        frame("content_block_start", 0, {"type": "thinking", "thinking": ""}),
        frame("content_block_delta", 0, {"type": "thinking_delta", "thinking": "First part"}),
        frame("content_block_delta", 0, {"type": "thinking_delta", "thinking": " second"}),
        frame("content_block_delta", 0, {"type": "signature_delta", "signature": f"claude#{SIG}"}),
        frame("content_block_stop", 0),
        frame("content_block_start", 1, {"type": "text", "text": ""}),
        frame("content_block_delta", 1, {"type": "text_delta", "text": "Answer"}),
        # the finish arrived without usage: held until the usage chunk
        frame("content_block_stop", 1),
        (
            "message_delta",
            {
                "type": "message_delta",
                "delta": {"stop_reason": "end_turn", "stop_sequence": None},
                # prompt 50-20; candidates derived from total: 70-30-5 = 35, plus 5 thoughts
                "usage": {"input_tokens": 30, "output_tokens": 40, "cache_read_input_tokens": 20},
            },
        ),
        ("message_stop", {"type": "message_stop"}),
    ]
    assert cache.get(MODEL, "sess", "First part second") == SIG


def test_stream_end_forces_final_events_and_tool_use() -> None:
    machine = ClaudeStreamFromAntigravity(MODEL, "", tool_id=ids(), cache=SignatureCache())
    frames = machine.feed(chunk({"functionCall": {"name": "f", "args": {"a": 1}}}, finish="MAX_TOKENS"))
    frames += machine.done()
    assert [name for name, _ in frames] == [
        "message_start",
        "content_block_start",
        "content_block_delta",
        "content_block_stop",
        "message_delta",
        "message_stop",
    ]
    assert frames[-2][1] == {
        "type": "message_delta",
        "delta": {"stop_reason": "tool_use", "stop_sequence": None},
        "usage": {"input_tokens": 0, "output_tokens": 0},
    }


def test_max_tokens_stop_reason_and_empty_stream() -> None:
    machine = ClaudeStreamFromAntigravity(MODEL, "", cache=SignatureCache())
    frames = machine.feed(chunk({"text": "a"}, finish="MAX_TOKENS", usageMetadata={"candidatesTokenCount": 2}))
    assert frames[-1][1]["delta"]["stop_reason"] == "max_tokens"
    assert machine.done() == [("message_stop", {"type": "message_stop"})]
    empty = ClaudeStreamFromAntigravity(MODEL, "", cache=SignatureCache())
    assert [name for name, _ in empty.feed(chunk(finish="STOP", usageMetadata={}))] == ["message_start"]
    assert empty.done() == []


def test_empty_text_before_finish_closes_block_without_opening_one() -> None:
    machine = ClaudeStreamFromAntigravity(MODEL, "", cache=SignatureCache())
    frames = machine.feed(chunk({"text": "think", "thought": True}))
    frames += machine.feed(chunk({"text": ""}))
    frames += machine.feed(chunk({"text": "more", "thought": True}))
    assert frames[3:] == [
        frame("content_block_stop", 0),
        # the block type is still "thinking", so the next thought continues at the new index
        frame("content_block_delta", 1, {"type": "thinking_delta", "thinking": "more"}),
    ]


def test_signature_not_cached_without_session() -> None:
    cache = SignatureCache()
    machine = ClaudeStreamFromAntigravity(MODEL, "", cache=cache)
    machine.feed(chunk({"text": "t", "thought": True}))
    machine.feed(chunk({"text": "", "thought": True, "thoughtSignature": SIG}))
    assert cache.get(MODEL, "", "t") == ""


def test_non_stream() -> None:
    body = chunk(
        {"text": "thought", "thought": True},
        {"text": "", "thought": True, "thoughtSignature": SIG},
        {"text": "Answer"},
        {"functionCall": {"name": "f", "args": {"k": 1}}},
        responseId="r",
        modelVersion="m",
        finish="STOP",
        usageMetadata={"promptTokenCount": 10, "totalTokenCount": 25, "cachedContentTokenCount": 4},
    )
    assert render_claude_response(body, MODEL) == {
        "id": "r",
        "type": "message",
        "role": "assistant",
        "model": "m",
        "content": [
            {"type": "thinking", "thinking": "thought", "signature": f"claude#{SIG}"},
            {"type": "text", "text": "Answer"},
            {"type": "tool_use", "id": "tool_1", "name": "f", "input": {"k": 1}},
        ],
        "stop_reason": "tool_use",
        "stop_sequence": None,
        "usage": {"input_tokens": 10, "output_tokens": 15, "cache_read_input_tokens": 4},
    }


def test_non_stream_empty_and_max_tokens() -> None:
    out = render_claude_response(chunk(finish="MAX_TOKENS"), MODEL)
    assert out == {
        "id": "",
        "type": "message",
        "role": "assistant",
        "model": "",
        "content": None,
        "stop_reason": "max_tokens",
        "stop_sequence": None,
    }


def test_gemini_client_unwrap() -> None:
    inner = {"candidates": [], "responseId": "r"}
    assert unwrap_gemini_chunk({"response": inner}) == inner
    assert unwrap_gemini_chunk({"candidates": []}) is None
    assert unwrap_gemini_response({"response": inner}) == inner
    assert unwrap_gemini_response({"error": {"code": 1}}) == {"error": {"code": 1}}


def test_each_thinking_block_caches_its_own_signature() -> None:
    cache = SignatureCache()
    machine = ClaudeStreamFromAntigravity(MODEL, "multi", cache=cache)
    sig1, sig2 = "1" * 60, "2" * 60
    machine.feed(chunk({"text": "First thinking block", "thought": True}))
    machine.feed(chunk({"text": "", "thought": True, "thoughtSignature": sig1}))
    machine.feed(chunk({"text": "Regular text output"}))
    frames = machine.feed(chunk({"text": "Second thinking block", "thought": True}))
    machine.feed(chunk({"text": "", "thought": True, "thoughtSignature": sig2}))
    assert cache.get(MODEL, "multi", "First thinking block") == sig1
    assert cache.get(MODEL, "multi", "Second thinking block") == sig2
    # the second thinking block opens after the text block closes
    assert frames == [
        frame("content_block_stop", 1),
        frame("content_block_start", 2, {"type": "thinking", "thinking": ""}),
        frame("content_block_delta", 2, {"type": "thinking_delta", "thinking": "Second thinking block"}),
    ]
