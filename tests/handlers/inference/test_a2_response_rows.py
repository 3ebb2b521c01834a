"""A2.2 / A2.4 / A2.6 / A2.12 response rows the translators' unit tests pin, checked here over
HTTP where the executors' stream framing and end-of-stream handling have also run.

Facts: cliproxyapi-translation-resilience.md A2.2, A2.4, A2.6, A2.12, checked against
CLIProxyAPI at 9b72ea9ef (internal/translator/claude/openai/chat-completions/claude_openai_response.go,
gemini/openai/chat-completions/gemini_openai_response.go, gemini/claude/gemini_claude_response.go,
openai/claude/openai_claude_response.go) and runtime/executor/claude_executor.go:321-337 for A3.3.
"""

from __future__ import annotations

from tests.handlers.inference.test_faults import CLAUDE_MODEL, COMPAT_MODEL, GEMINI_MODEL, MakeGateway
from tests.handlers.inference.test_golden_http import (
    GEMINI_META,
    Upstream,
    call,
    chat,
    claude_stream,
    data_of,
    events_of,
    gemini,
    gemini_stream,
    messages,
    openai_chunk,
    sse,
    up,
)

# The scripted upstream fixture, re-exported so pytest finds it here.
__all__ = ["up"]

USAGE = {"promptTokenCount": 3, "candidatesTokenCount": 1, "totalTokenCount": 4}


async def test_claude_thinking_streams_as_reasoning_content(gateway: MakeGateway, up: Upstream) -> None:
    # A2.2: thinking_delta -> delta.reasoning_content, text_delta -> delta.content, in block order.
    raw = await call(gateway, up, "/v1/chat/completions", chat(CLAUDE_MODEL, stream=True),
                     claude_stream(("thinking", "hm"), ("text", "Hi")))
    assert [(c["choices"][0]["delta"], c["choices"][0]["finish_reason"]) for c in data_of(raw)] == [
        ({"role": "assistant"}, None), ({"reasoning_content": "hm"}, None), ({"content": "Hi"}, None),
        ({}, "stop")]


async def test_gemini_images_stream_as_delta_images(gateway: MakeGateway, up: Upstream) -> None:
    # A2.4: inlineData -> delta.images (data URL, running index); a part carrying only a
    # thoughtSignature adds nothing, a signed text part still renders its text.
    answer = gemini_stream(gemini([{"inlineData": {"mimeType": "image/jpeg", "data": "QUJD"}},
                                   {"thoughtSignature": "sig"}, {"text": "a", "thoughtSignature": "s2"}],
                                  "STOP", USAGE, **GEMINI_META))
    [chunk] = data_of(await call(gateway, up, "/v1/chat/completions", chat(GEMINI_MODEL, stream=True), answer))
    assert chunk["choices"] == [{"index": 0, "delta": {
        "role": "assistant", "content": "a", "reasoning_content": None, "tool_calls": None,
        "images": [{"type": "image_url", "image_url": {"url": "data:image/jpeg;base64,QUJD"}, "index": 0}]},
        "finish_reason": "stop", "native_finish_reason": "stop"}]


async def test_gemini_finish_without_content_sends_no_message_stop(gateway: MakeGateway, up: Upstream) -> None:
    # A2.6: the closing events and message_stop come only once content was emitted.
    answer = gemini_stream(gemini([], "STOP", USAGE, modelVersion="gm", responseId="r1"))
    raw = await call(gateway, up, "/v1/messages", messages(GEMINI_MODEL, stream=True), answer)
    assert events_of(raw) == [("message_start", {"type": "message_start", "message": {
        "id": "r1", "type": "message", "role": "assistant", "content": [], "model": "gm", "stop_reason": None,
        "stop_sequence": None, "usage": {"input_tokens": 0, "output_tokens": 0}}})]


async def test_openai_reasoning_array_and_done_without_usage(gateway: MakeGateway, up: Upstream) -> None:
    # A2.12: reasoning_content given as an array of texts -> one thinking block; at [DONE] without
    # a usage chunk, message_delta carries no usage and is followed by one message_stop.
    answer = sse((None, openai_chunk({"role": "assistant", "reasoning_content": ["a", "b"]})),
                 (None, openai_chunk({"content": "Hi"})), (None, openai_chunk({}, "stop")), (None, b"[DONE]"))
    raw = await call(gateway, up, "/v1/messages", messages(COMPAT_MODEL, stream=True), answer)
    assert events_of(raw)[1:] == [
        ("content_block_start", {"type": "content_block_start", "index": 0,
                                 "content_block": {"type": "thinking", "thinking": ""}}),
        ("content_block_delta", {"type": "content_block_delta", "index": 0,
                                 "delta": {"type": "thinking_delta", "thinking": "a"}}),
        ("content_block_delta", {"type": "content_block_delta", "index": 0,
                                 "delta": {"type": "thinking_delta", "thinking": "b"}}),
        ("content_block_stop", {"type": "content_block_stop", "index": 0}),
        ("content_block_start", {"type": "content_block_start", "index": 1,
                                 "content_block": {"type": "text", "text": ""}}),
        ("content_block_delta", {"type": "content_block_delta", "index": 1,
                                 "delta": {"type": "text_delta", "text": "Hi"}}),
        ("content_block_stop", {"type": "content_block_stop", "index": 1}),
        ("message_delta", {"type": "message_delta", "delta": {"stop_reason": "end_turn", "stop_sequence": None}}),
        ("message_stop", {"type": "message_stop"}),
    ]


async def test_claude_client_on_claude_stream_gets_the_bytes_as_they_came(gateway: MakeGateway,
                                                                          up: Upstream) -> None:
    # A3.3: no translator for Claude -> Claude; every line, ping included, is forwarded unchanged.
    answer = claude_stream(("thinking", "hm"), ("text", "Hi"), ("tool", ("t1", "f", ['{"a":', "1}"])))
    assert b"event: ping" in answer
    assert await call(gateway, up, "/v1/messages", messages(CLAUDE_MODEL, stream=True), answer) == answer
