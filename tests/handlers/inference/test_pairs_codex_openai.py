"""The pair adapters of ``pairs_codex_openai``: exact client bytes from given upstream events.

Each test builds the upstream ``StreamEvent`` items the executor would hand over and asserts the
bytes the client receives (stream) or the body it gets (non-stream), plus the upstream request.
The mapping rules themselves are pinned in tests/handlers/translation/; these tests pin the
composition (parser -> renderer -> encoder, terminators, forced upstream streaming).
"""

from __future__ import annotations

from typing import Any

import orjson
import pytest

from handlers.inference.pairs_codex_openai import COMPLETIONS, PAIRS, chat_body_from_responses, make_pairs
from handlers.inference.translate import TranslateInput, Translation
from handlers.providers.base import StreamEvent, UpstreamError
from handlers.translation import IMPLEMENTED_PAIRS, codex, codex_instructions
from handlers.translation.codex_instructions import CodexInstructions
from handlers.translation.model import Format

F = Format
NOW = 1700000000
PAIRS_FIXED = make_pairs(
    now=lambda: NOW,
    user_id=lambda: "user_x",
    tool_id=lambda name: f"{name}-1",
    call_id=lambda: "call_1",
    response_id=lambda: "resp_fixed",
)
DONE = StreamEvent("", "[DONE]", None)


def ev(payload: Any, event: str = "") -> StreamEvent:
    return StreamEvent(event, orjson.dumps(payload).decode(), payload)


def claude_ev(payload: dict[str, Any]) -> StreamEvent:
    return ev(payload, str(payload["type"]))


def codex_ev(payload: dict[str, Any]) -> StreamEvent:
    return ev(payload, str(payload["type"]))


def translation(key: tuple[Format, Format], body: dict[str, Any], *, stream: bool = True,
                headers: dict[str, str] | None = None) -> Translation:
    inp = TranslateInput(body=body, model="up-model", client_model="client-model", stream=stream, headers=headers or {})
    return PAIRS_FIXED[key](inp)


def streamed(t: Translation, items: list[StreamEvent | bytes]) -> bytes:
    s = t.stream()
    return b"".join(b for item in items for b in s.feed(item)) + b"".join(s.close())


def sse_body(items: list[StreamEvent]) -> bytes:
    """A whole SSE body as the pipeline re-frames a drained upstream stream."""
    return b"".join((f"event: {i.event}\n".encode() if i.event else b"") + b"data: " + i.data.encode() + b"\n\n"
                    for i in items)


def openai_frames(*chunks: dict[str, Any]) -> bytes:
    return b"".join(b"data: " + orjson.dumps(c) + b"\n\n" for c in chunks) + b"data: [DONE]\n\n"


def claude_frames(*frames: dict[str, Any], trailer: bytes = b"\n\n") -> bytes:
    return b"".join(b"event: " + f["type"].encode() + b"\ndata: " + orjson.dumps(f) + trailer for f in frames)


def test_pair_table_keys() -> None:
    assert set(PAIRS) == set(PAIRS_FIXED) == {
        (F.OPENAI, F.CLAUDE), (F.OPENAI, F.GEMINI), (F.OPENAI, F.CODEX), (F.OPENAI, F.OPENAI),
        (F.CLAUDE, F.OPENAI), (F.CLAUDE, F.GEMINI), (F.CLAUDE, F.CODEX), (F.CLAUDE, F.CLAUDE),
        (F.OPENAI_RESPONSE, F.CLAUDE), (F.OPENAI_RESPONSE, F.GEMINI), (F.OPENAI_RESPONSE, F.CODEX),
        (F.OPENAI_RESPONSE, F.OPENAI),
    }
    # Every translated pair here is in IMPLEMENTED_PAIRS; Claude -> Claude is an unregistered passthrough.
    assert set(PAIRS) - {(F.CLAUDE, F.CLAUDE)} <= IMPLEMENTED_PAIRS


# --- OpenAI chat client ----------------------------------------------------------------------

CHAT_BODY = {"model": "client-model", "messages": [{"role": "user", "content": "hi"}], "stream": True}
CLAUDE_STREAM = [
    claude_ev({"type": "message_start", "message": {"id": "msg_1", "model": "claude-x", "usage": {"input_tokens": 3}}}),
    claude_ev({"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}}),
    claude_ev({"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": "Hi"}}),
    claude_ev({"type": "content_block_stop", "index": 0}),
    claude_ev({"type": "message_delta", "delta": {"stop_reason": "end_turn"},
               "usage": {"input_tokens": 3, "output_tokens": 1}}),
    claude_ev({"type": "message_stop"}),
]


def chat_chunk(delta: dict[str, Any], finish: str | None = None, **extra: Any) -> dict[str, Any]:
    return {"id": "msg_1", "object": "chat.completion.chunk", "created": NOW, "model": "up-model",
            "choices": [{"index": 0, "delta": delta, "finish_reason": finish}], **extra}


def test_openai_to_claude() -> None:
    t = translation((F.OPENAI, F.CLAUDE), CHAT_BODY)
    assert t.upstream_stream is True
    assert t.upstream_body == {"model": "up-model", "max_tokens": 32000,
                               "messages": [{"role": "user", "content": [{"type": "text", "text": "hi"}]}],
                               "metadata": {"user_id": "user_x"}, "stream": True}
    assert streamed(t, CLAUDE_STREAM) == openai_frames(
        chat_chunk({"role": "assistant"}),
        chat_chunk({"content": "Hi"}),
        chat_chunk({}, "stop", usage={"prompt_tokens": 3, "completion_tokens": 1, "total_tokens": 4,
                                      "prompt_tokens_details": {"cached_tokens": 0}}),
    )
    nonstream = translation((F.OPENAI, F.CLAUDE), {**CHAT_BODY, "stream": False}, stream=False)
    assert nonstream.upstream_stream is True  # the legacy folds a Claude stream for non-Claude clients
    assert orjson.loads(nonstream.response(sse_body(CLAUDE_STREAM))) == {
        "id": "msg_1", "object": "chat.completion", "created": NOW, "model": "claude-x",
        "choices": [{"index": 0, "message": {"role": "assistant", "content": "Hi"}, "finish_reason": "stop"}],
        "usage": {"prompt_tokens": 3, "completion_tokens": 1, "total_tokens": 4,
                  "prompt_tokens_details": {"cached_tokens": 0}},
    }


GEMINI_CHUNKS = [
    {"candidates": [{"content": {"role": "model", "parts": [{"text": "Hi"}]}, "index": 0}],
     "responseId": "g1", "modelVersion": "gemini-x"},
    {"candidates": [{"content": {"role": "model", "parts": [{"text": "!"}]}, "finishReason": "STOP", "index": 0}],
     "usageMetadata": {"promptTokenCount": 4, "candidatesTokenCount": 2, "totalTokenCount": 6},
     "responseId": "g1", "modelVersion": "gemini-x"},
]
GEMINI_WHOLE = {
    "candidates": [{"content": {"role": "model", "parts": [{"text": "Hi!"}]}, "finishReason": "STOP", "index": 0}],
    "usageMetadata": {"promptTokenCount": 4, "candidatesTokenCount": 2, "totalTokenCount": 6},
    "responseId": "g1", "modelVersion": "gemini-x",
}


def test_openai_to_gemini() -> None:
    t = translation((F.OPENAI, F.GEMINI), CHAT_BODY)
    assert t.upstream_stream is True
    assert t.upstream_body["contents"] == [{"role": "user", "parts": [{"text": "hi"}]}]
    empty = {"role": None, "content": None, "reasoning_content": None, "tool_calls": None}

    def chunk(delta: dict[str, Any], finish: str | None = None, **extra: Any) -> dict[str, Any]:
        choice = {"index": 0, "delta": {**empty, **delta}, "finish_reason": finish, "native_finish_reason": finish}
        return {"id": "g1", "object": "chat.completion.chunk", "created": 0, "model": "gemini-x",
                "choices": [choice], **extra}

    assert streamed(t, [ev(c) for c in GEMINI_CHUNKS]) == openai_frames(
        chunk({"role": "assistant", "content": "Hi"}),
        chunk({"role": "assistant", "content": "!"}, "stop",
              usage={"completion_tokens": 2, "total_tokens": 6, "prompt_tokens": 4}),
    )
    nonstream = translation((F.OPENAI, F.GEMINI), CHAT_BODY, stream=False)
    assert nonstream.upstream_stream is False
    answer = orjson.loads(nonstream.response(orjson.dumps(GEMINI_WHOLE)))
    assert answer["choices"][0]["message"]["content"] == "Hi!"
    assert answer["choices"][0]["finish_reason"] == "stop"


CODEX_STREAM = [
    codex_ev({"type": "response.created", "response": {"id": "resp_1", "created_at": 11, "model": "gpt-5"}}),
    codex_ev({"type": "response.output_text.delta", "delta": "Hi"}),
    codex_ev({"type": "response.output_item.added", "output_index": 1,
              "item": {"type": "function_call", "call_id": "c1", "name": "f"}}),
    codex_ev({"type": "response.function_call_arguments.delta", "output_index": 1, "delta": "{}"}),
    codex_ev({"type": "response.output_item.done", "output_index": 1,
              "item": {"type": "function_call", "call_id": "c1", "name": "f", "arguments": "{}"}}),
    codex_ev({"type": "response.completed", "response": {
        "id": "resp_1", "created_at": 11, "model": "gpt-5", "status": "completed", "instructions": "",
        "output": [{"type": "message", "content": [{"type": "output_text", "text": "Hi"}]},
                   {"type": "function_call", "call_id": "c1", "name": "f", "arguments": "{}"}],
        "usage": {"input_tokens": 5, "output_tokens": 2, "total_tokens": 7}}}),
]


def test_openai_to_codex() -> None:
    t = translation((F.OPENAI, F.CODEX), {**CHAT_BODY, "tools": [{"type": "function", "function": {"name": "f"}}]})
    assert t.upstream_stream is True
    assert t.upstream_body["instructions"] == "" and t.upstream_body["stream"] is True
    empty = {"role": None, "content": None, "reasoning_content": None, "tool_calls": None}

    def chunk(delta: dict[str, Any], finish: str | None = None, **extra: Any) -> dict[str, Any]:
        choice = {"index": 0, "delta": {**empty, **delta}, "finish_reason": finish, "native_finish_reason": finish}
        return {"id": "resp_1", "object": "chat.completion.chunk", "created": 11, "model": "gpt-5",
                "choices": [choice], **extra}

    call = {"index": 0, "id": "c1", "type": "function", "function": {"name": "f", "arguments": "{}"}}
    assert streamed(t, CODEX_STREAM) == openai_frames(
        chunk({"role": "assistant", "content": "Hi"}),
        chunk({"role": "assistant", "tool_calls": [call]}),
        # Only the counters the upstream sent (codex_openai_response.go:83-95).
        chunk({}, "tool_calls", usage={"completion_tokens": 2, "total_tokens": 7, "prompt_tokens": 5}),
    )
    nonstream = translation((F.OPENAI, F.CODEX), CHAT_BODY, stream=False)
    # The mapping rules are codex.py's (pinned in its tests); here: the completed event is found.
    completed = CODEX_STREAM[-1].payload["response"]
    expected = codex.render_openai_response(codex.parse_completed(completed), {}, now=lambda: NOW)
    assert expected["choices"][0]["message"]["content"] == "Hi" and expected["id"] == "resp_1"
    # The executor hands over the completed event alone; a drained SSE body works too.
    assert orjson.loads(nonstream.response(CODEX_STREAM[-1].data.encode())) == expected
    assert orjson.loads(nonstream.response(sse_body(CODEX_STREAM))) == expected


def test_openai_to_codex_uses_the_configured_instructions() -> None:
    before = codex_instructions.current()
    try:
        codex_instructions.configure(CodexInstructions(enabled=True, prompts=(("prompt.md-001-a", "BASE"),)))
        t = translation((F.OPENAI, F.CODEX), CHAT_BODY)
        assert t.upstream_body["instructions"] == "BASE"
    finally:
        codex_instructions.configure(before)


def test_openai_to_openai() -> None:
    t = translation((F.OPENAI, F.OPENAI), CHAT_BODY)
    assert t.upstream_body == {**CHAT_BODY, "model": "up-model"}
    assert t.upstream_stream is True
    raw = '{"id":"x","object":"chat.completion.chunk","choices":[{"index":0,"delta":{"content":"Hi"}}]}'
    assert streamed(t, [StreamEvent("", raw, orjson.loads(raw)), DONE]) == (
        b"data: " + raw.encode() + b"\n\ndata: [DONE]\n\n"
    )
    nonstream = translation((F.OPENAI, F.OPENAI), CHAT_BODY, stream=False)
    assert nonstream.upstream_stream is False
    assert nonstream.response(b'{"id": "verbatim"}') == b'{"id": "verbatim"}'


# --- Claude client ---------------------------------------------------------------------------

CLAUDE_BODY = {"model": "client-model", "max_tokens": 10, "messages": [{"role": "user", "content": "hi"}],
               "stream": True}
OPENAI_STREAM = [
    ev({"id": "chatcmpl-1", "created": 3, "model": "gpt-x",
        "choices": [{"index": 0, "delta": {"role": "assistant", "content": "Hi"}}]}),
    ev({"id": "chatcmpl-1", "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]}),
    ev({"id": "chatcmpl-1", "choices": [], "usage": {"prompt_tokens": 4, "completion_tokens": 1}}),
    DONE,
]


def test_claude_to_openai() -> None:
    t = translation((F.CLAUDE, F.OPENAI), CLAUDE_BODY)
    assert t.upstream_stream is True
    assert t.upstream_body["messages"][0] == {"role": "system", "content": []}
    expected = claude_frames(
        {"type": "message_start", "message": {"id": "chatcmpl-1", "type": "message", "role": "assistant",
                                              "model": "gpt-x", "content": [], "stop_reason": None,
                                              "stop_sequence": None, "usage": {"input_tokens": 0, "output_tokens": 0}}},
        {"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}},
        {"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": "Hi"}},
        {"type": "content_block_stop", "index": 0},
        {"type": "message_delta", "delta": {"stop_reason": "end_turn", "stop_sequence": None},
         "usage": {"input_tokens": 4, "output_tokens": 1}},
        {"type": "message_stop"},
    )
    assert streamed(t, OPENAI_STREAM) == expected
    # Without [DONE] the close still ends the message (only once).
    assert streamed(translation((F.CLAUDE, F.OPENAI), CLAUDE_BODY), OPENAI_STREAM[:-1]) == expected
    nonstream = translation((F.CLAUDE, F.OPENAI), CLAUDE_BODY, stream=False)
    assert nonstream.upstream_stream is False
    completion = {"id": "chatcmpl-1", "model": "gpt-x", "choices": [
        {"index": 0, "message": {"role": "assistant", "content": "Hi"}, "finish_reason": "length"}],
        "usage": {"prompt_tokens": 4, "completion_tokens": 1}}
    assert orjson.loads(nonstream.response(orjson.dumps(completion))) == {
        "id": "chatcmpl-1", "type": "message", "role": "assistant", "model": "gpt-x",
        "content": [{"type": "text", "text": "Hi"}], "stop_reason": "max_tokens", "stop_sequence": None,
        "usage": {"input_tokens": 4, "output_tokens": 1},
    }


def test_claude_to_gemini() -> None:
    t = translation((F.CLAUDE, F.GEMINI), CLAUDE_BODY)
    assert t.upstream_stream is True
    assert t.upstream_body["contents"] == [{"role": "user", "parts": [{"text": "hi"}]}]
    assert streamed(t, [ev(c) for c in GEMINI_CHUNKS]) == claude_frames(
        {"type": "message_start", "message": {"id": "g1", "type": "message", "role": "assistant", "content": [],
                                              "model": "gemini-x", "stop_reason": None, "stop_sequence": None,
                                              "usage": {"input_tokens": 0, "output_tokens": 0}}},
        {"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}},
        {"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": "Hi"}},
        {"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": "!"}},
        {"type": "content_block_stop", "index": 0},
        {"type": "message_delta", "delta": {"stop_reason": "end_turn", "stop_sequence": None},
         "usage": {"input_tokens": 4, "output_tokens": 2}},
        {"type": "message_stop"},
        trailer=b"\n\n\n",
    )
    nonstream = translation((F.CLAUDE, F.GEMINI), CLAUDE_BODY, stream=False)
    answer = orjson.loads(nonstream.response(orjson.dumps(GEMINI_WHOLE)))
    assert answer["content"] == [{"type": "text", "text": "Hi!"}]
    assert answer["stop_reason"] == "end_turn"


CODEX_CLAUDE_STREAM = [
    codex_ev({"type": "response.created", "response": {"id": "resp_1", "model": "gpt-5"}}),
    codex_ev({"type": "response.content_part.added"}),
    codex_ev({"type": "response.output_text.delta", "delta": "Hi"}),
    codex_ev({"type": "response.content_part.done"}),
    codex_ev({"type": "response.completed", "response": {
        "id": "resp_1", "model": "gpt-5", "output": [{"type": "message", "content": [{"type": "output_text",
                                                                                      "text": "Hi"}]}],
        "usage": {"input_tokens": 5, "output_tokens": 2}}}),
]


def test_claude_to_codex() -> None:
    t = translation((F.CLAUDE, F.CODEX), CLAUDE_BODY, headers={"user-agent": "claude-cli"})
    assert t.upstream_stream is True
    assert t.upstream_body["input"] == [{"type": "message", "role": "user",
                                         "content": [{"type": "input_text", "text": "hi"}]}]
    assert streamed(t, CODEX_CLAUDE_STREAM) == claude_frames(
        {"type": "message_start", "message": {"id": "resp_1", "type": "message", "role": "assistant",
                                              "model": "gpt-5", "stop_sequence": None,
                                              "usage": {"input_tokens": 0, "output_tokens": 0}, "content": [],
                                              "stop_reason": None}},
        {"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}},
        {"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": "Hi"}},
        {"type": "content_block_stop", "index": 0},
        {"type": "message_delta", "delta": {"stop_reason": "end_turn", "stop_sequence": None},
         "usage": {"input_tokens": 5, "output_tokens": 2}},
        {"type": "message_stop"},
    )
    nonstream = translation((F.CLAUDE, F.CODEX), CLAUDE_BODY, stream=False)
    assert nonstream.upstream_stream is True
    expected = {"id": "resp_1", "type": "message", "role": "assistant", "model": "gpt-5",
                "content": [{"type": "text", "text": "Hi"}], "stop_reason": "end_turn", "stop_sequence": None,
                "usage": {"input_tokens": 5, "output_tokens": 2}}
    assert orjson.loads(nonstream.response(CODEX_CLAUDE_STREAM[-1].data.encode())) == expected
    assert orjson.loads(nonstream.response(sse_body(CODEX_CLAUDE_STREAM))) == expected
    # No response.completed at all: the legacy answers an empty body.
    assert nonstream.response(sse_body(CODEX_CLAUDE_STREAM[:-1])) == b""


def test_claude_to_claude_passthrough() -> None:
    t = translation((F.CLAUDE, F.CLAUDE), CLAUDE_BODY)
    assert t.upstream_body == {**CLAUDE_BODY, "model": "up-model"}
    assert t.upstream_stream is True
    items = [ev({"type": "ping"}, "ping"), StreamEvent("message_stop", '{"type": "message_stop"}', None)]
    assert streamed(t, items) == (
        b'event: ping\ndata: {"type":"ping"}\n\nevent: message_stop\ndata: {"type": "message_stop"}\n\n'
    )
    nonstream = translation((F.CLAUDE, F.CLAUDE), CLAUDE_BODY, stream=False)
    assert nonstream.upstream_stream is False
    assert nonstream.response(b'{"id": "msg"}') == b'{"id": "msg"}'


# --- Responses client ------------------------------------------------------------------------

RESPONSES_BODY = {"model": "client-model", "instructions": "I", "input": "hi", "stream": True}


def responses_frames(frames: list[tuple[str, dict[str, Any]]]) -> bytes:
    return b"".join(b"\nevent: " + n.encode() + b"\ndata: " + orjson.dumps(p) + b"\n" for n, p in frames) + b"\n"


def text_only_frames(rid: str, created: int, usage: dict[str, Any],
                     openai_items: bool = False) -> list[tuple[str, dict[str, Any]]]:
    """The A3.2 sequence for one text delta "Hi" answered as response ``rid``. ``openai_items``:
    the OpenAI-chat pair's finished message carries the whole text part (with annotations and
    logprobs), as openai_openai-responses_response.go:291 writes it."""
    head = {"id": rid, "object": "response", "created_at": created, "status": "in_progress"}
    msg = f"msg_{rid}_0"
    where = {"item_id": msg, "output_index": 0, "content_index": 0}
    part = {"type": "output_text", "annotations": [], "logprobs": [], "text": ""}
    done_part = {**part, "text": "Hi"}
    frames: list[tuple[str, dict[str, Any]]] = [
        ("response.created", {"response": {**head, "background": False, "error": None, "output": []}}),
        ("response.in_progress", {"response": head}),
        ("response.output_item.added", {"output_index": 0, "item": {
            "id": msg, "type": "message", "status": "in_progress", "content": [], "role": "assistant"}}),
        ("response.content_part.added", {**where, "part": part}),
        ("response.output_text.delta", {**where, "delta": "Hi", "logprobs": []}),
        ("response.output_text.done", {**where, "text": "Hi", "logprobs": []}),
        ("response.content_part.done", {**where, "part": done_part}),
        ("response.output_item.done", {"output_index": 0, "item": {
            "id": msg, "type": "message", "status": "completed",
            "content": [done_part if openai_items else {"type": "output_text", "text": "Hi"}], "role": "assistant"}}),
        ("response.completed", {"response": {
            "id": rid, "object": "response", "created_at": created, "status": "completed", "background": False,
            "error": None, "instructions": "I", "model": "client-model",
            "output": [{"id": msg, "type": "message", "status": "completed", "content": [done_part],
                        "role": "assistant"}],
            "usage": usage}}),
    ]
    return [(name, {"type": name, "sequence_number": n, **body}) for n, (name, body) in enumerate(frames, 1)]


def test_responses_to_claude() -> None:
    t = translation((F.OPENAI_RESPONSE, F.CLAUDE), RESPONSES_BODY)
    assert t.upstream_stream is True
    assert t.upstream_body["metadata"] == {"user_id": "user_x"}
    usage = {"input_tokens": 3, "input_tokens_details": {"cached_tokens": 0}, "output_tokens": 1,
             "output_tokens_details": {"reasoning_tokens": 0}, "total_tokens": 4}
    assert streamed(t, CLAUDE_STREAM) == responses_frames(text_only_frames("msg_1", NOW, usage))
    nonstream = translation((F.OPENAI_RESPONSE, F.CLAUDE), RESPONSES_BODY, stream=False)
    answer = orjson.loads(nonstream.response(sse_body(CLAUDE_STREAM)))
    assert answer["id"] == "msg_1" and answer["created_at"] == NOW and answer["usage"] == usage
    assert answer["output"][0]["content"][0]["text"] == "Hi"


def test_responses_to_claude_completes_at_message_stop_with_the_last_usage() -> None:
    """claude_openai-responses_response.go:274-285: ``message_delta`` only notes usage (a later
    one's counters win); ``response.completed`` is written at ``message_stop``."""
    t = translation((F.OPENAI_RESPONSE, F.CLAUDE), RESPONSES_BODY)
    s = t.stream()
    second = claude_ev({"type": "message_delta", "delta": {"stop_reason": "end_turn"},
                        "usage": {"output_tokens": 9}})
    before_stop = b"".join(b for item in [*CLAUDE_STREAM[:-1], second] for b in s.feed(item))
    assert b"response.completed" not in before_stop and b"response.output_text.done" not in before_stop
    at_stop = b"".join(s.feed(CLAUDE_STREAM[-1]))
    completed = [orjson.loads(line[6:]) for line in at_stop.split(b"\n") if line.startswith(b"data: ")][-1]
    assert completed["type"] == "response.completed"
    assert completed["response"]["usage"]["output_tokens"] == 9
    assert completed["response"]["usage"]["input_tokens"] == 3
    assert b"".join(s.close()) == b"\n"  # only the stream's own end: the response is complete


def test_responses_to_gemini() -> None:
    t = translation((F.OPENAI_RESPONSE, F.GEMINI), RESPONSES_BODY)
    assert t.upstream_stream is True
    usage = {"input_tokens": 4, "input_tokens_details": {"cached_tokens": 0}, "output_tokens": 2,
             "output_tokens_details": {"reasoning_tokens": 0}, "total_tokens": 6}
    one_chunk = [ev({**GEMINI_CHUNKS[1], "candidates": [{**GEMINI_CHUNKS[1]["candidates"][0],
                                                         "content": {"parts": [{"text": "Hi"}]}}]})]
    assert streamed(t, one_chunk) == responses_frames(text_only_frames("g1", NOW, usage))
    nonstream = translation((F.OPENAI_RESPONSE, F.GEMINI), RESPONSES_BODY, stream=False)
    assert nonstream.upstream_stream is False
    answer = orjson.loads(nonstream.response(orjson.dumps(GEMINI_WHOLE)))
    assert answer["output"][0]["content"][0]["text"] == "Hi!" and answer["usage"] == usage


def test_responses_to_codex() -> None:
    t = translation((F.OPENAI_RESPONSE, F.CODEX), RESPONSES_BODY)
    assert t.upstream_stream is True
    assert t.upstream_body == {
        "model": "client-model", "instructions": "I",
        "input": [{"type": "message", "role": "user", "content": [{"type": "input_text", "text": "hi"}]}],
        "stream": True, "store": False, "parallel_tool_calls": True, "include": ["reasoning.encrypted_content"],
    }
    created = codex_ev({"type": "response.created", "response": {"id": "r", "instructions": "SERVER"}})
    delta_raw = '{"type":"response.output_text.delta", "delta":"Hi"}'
    delta = StreamEvent("response.output_text.delta", delta_raw, orjson.loads(delta_raw))
    assert streamed(t, [created, delta]) == (
        b'\nevent: response.created\ndata: {"type":"response.created","response":{"id":"r","instructions":"I"}}\n'
        b"\nevent: response.output_text.delta\ndata: " + delta_raw.encode() + b"\n"
        b"\n"
    )
    nonstream = translation((F.OPENAI_RESPONSE, F.CODEX), RESPONSES_BODY, stream=False)
    completed = {"type": "response.completed", "response": {"id": "r", "instructions": "SERVER", "output": []}}
    assert orjson.loads(nonstream.response(orjson.dumps(completed))) == {"id": "r", "instructions": "I", "output": []}
    assert nonstream.response(b'{"type":"response.created"}') == b""


def test_responses_to_openai() -> None:
    t = translation((F.OPENAI_RESPONSE, F.OPENAI), RESPONSES_BODY)
    assert t.upstream_stream is True
    assert t.upstream_body == {"model": "up-model", "messages": [{"role": "system", "content": "I"},
                                                                 {"role": "user", "content": "hi"}],
                               "stream": True}
    usage = {"input_tokens": 4, "input_tokens_details": {"cached_tokens": 0}, "output_tokens": 1,
             "output_tokens_details": {"reasoning_tokens": 0}, "total_tokens": 5}
    assert streamed(t, OPENAI_STREAM) == responses_frames(text_only_frames("chatcmpl-1", 3, usage, openai_items=True))
    nonstream = translation((F.OPENAI_RESPONSE, F.OPENAI), RESPONSES_BODY, stream=False)
    assert nonstream.upstream_stream is False
    answer = orjson.loads(nonstream.response(orjson.dumps({"choices": [{"message": {"content": "Hi"}}]})))
    assert answer["id"] == "resp_fixed" and answer["created_at"] == NOW
    assert answer["output"][0]["id"] == "msg_resp_fixed_0"


# --- faults ----------------------------------------------------------------------------------


@pytest.mark.parametrize("key", sorted(PAIRS_FIXED, key=str))
def test_in_band_error_events_produce_no_frames(key: tuple[Format, Format]) -> None:
    # The pipeline raises these and writes the protocol's error frame itself.
    body = {"model": "m", "messages": [{"role": "user", "content": "hi"}], "input": "hi"}
    s = PAIRS_FIXED[key](TranslateInput(body=body, model="m", client_model="m", stream=True)).stream()
    failed = StreamEvent("error", '{"type":"error","error":{"message":"boom"}}',
                         {"type": "error", "error": {"message": "boom"}},
                         error=UpstreamError("transient", None, b"boom"))
    assert s.feed(failed) == []


@pytest.mark.parametrize(
    "key", [(F.OPENAI, F.CLAUDE), (F.OPENAI, F.GEMINI), (F.OPENAI, F.CODEX), (F.CLAUDE, F.CODEX),
            (F.OPENAI_RESPONSE, F.CLAUDE), (F.OPENAI_RESPONSE, F.GEMINI)],
)
def test_non_json_stream_data_is_skipped(key: tuple[Format, Format]) -> None:
    s = translation(key, CHAT_BODY).stream()
    assert s.feed(StreamEvent("", "not json", None)) == []


def test_non_json_non_stream_answers_do_not_crash() -> None:
    assert orjson.loads(translation((F.OPENAI_RESPONSE, F.OPENAI), RESPONSES_BODY, stream=False).response(b"oops"))[
        "id"] == "resp_fixed"
    assert orjson.loads(translation((F.CLAUDE, F.OPENAI), CLAUDE_BODY, stream=False).response(b"[]"))["content"] == []


# --- /v1/completions -------------------------------------------------------------------------


def test_completions_wrap_over_a_chat_pair() -> None:
    chat_body = COMPLETIONS.request({"model": "client-model", "prompt": "Say", "stream": True})
    assert chat_body == {"model": "client-model", "messages": [{"role": "user", "content": "Say"}], "stream": True}
    inp = TranslateInput(body=chat_body, model="up-model", client_model="client-model", stream=True)
    t = COMPLETIONS.wrap(PAIRS_FIXED[(F.OPENAI, F.CLAUDE)](inp))
    assert t.upstream_stream is True and t.upstream_body["messages"][0]["content"][0]["text"] == "Say"
    head = {"id": "msg_1", "object": "text_completion", "created": NOW, "model": "up-model"}
    assert streamed(t, CLAUDE_STREAM) == (
        b"data: " + orjson.dumps({**head, "choices": [{"finish_reason": "", "index": 0, "text": "Hi"}]}) + b"\n\n"
        b"data: " + orjson.dumps({**head, "choices": [{"finish_reason": "stop", "index": 0, "text": ""}]}) + b"\n\n"
        b"data: [DONE]\n\n"
    )
    nonstream = COMPLETIONS.wrap(PAIRS_FIXED[(F.OPENAI, F.OPENAI)](inp))
    chat = {"id": "c", "created": 1, "model": "m", "choices": [{"index": 0, "message": {"content": "Hello"},
                                                                 "finish_reason": "stop"}]}
    assert orjson.loads(nonstream.response(orjson.dumps(chat))) == {
        "id": "c", "object": "text_completion", "created": 1, "model": "m",
        "choices": [{"finish_reason": "stop", "index": 0, "text": "Hello"}],
    }


def test_completions_frame_helpers() -> None:
    assert COMPLETIONS.chunk_frame(b"data: [DONE]\n\n") is None
    assert COMPLETIONS.chunk_frame(b"event: x\n\n") is None
    error = b'data: {"error":{"message":"boom"}}\n\n'
    assert COMPLETIONS.chunk_frame(error) == error
    empty = b'{"id":"","object":"text_completion","created":0,"model":"","choices":[]}'
    assert COMPLETIONS.response_body(b"{}") == empty


def test_chat_body_from_responses() -> None:
    assert chat_body_from_responses({"messages": [], "input": "x"}) is None
    assert chat_body_from_responses({"model": "m", "input": "x", "stream": True}) == {
        "model": "m", "messages": [{"role": "user", "content": "x"}], "stream": True,
    }


# --- end to end through the pipeline (real sockets, scripted fake upstream) ------------------


def e2e_config(fake: Any) -> str:
    return (f"codex-api-key:\n  - api-key: ck\n    base-url: {fake.root}/v1\n"
            f"openai-compatibility:\n  - name: compat\n    base-url: {fake.root}/v1\n"
            "    api-key-entries:\n      - api-key: ok\n"
            "    models:\n      - name: up-chat\n        alias: chat-model\n")


async def test_e2e_responses_client_on_openai_compatible_upstream(inference_client: Any, fake_llm: Any) -> None:
    from handlers.inference.pair_table import lookup_in
    from tests.fakes.llm_upstream import ANSWER

    client = await inference_client(e2e_config(fake_llm), lookup_in(PAIRS))
    resp = await client.post("/v1/responses", json={"model": "chat-model", "instructions": "I", "input": "hi"})
    assert resp.status == 200
    answer = await resp.json()
    assert answer["output"][0]["content"][0]["text"] == ANSWER
    assert answer["model"] == "chat-model" and answer["instructions"] == "I"
    stream = await client.post("/v1/responses", json={"model": "chat-model", "input": "hi", "stream": True})
    text = (await stream.read()).decode()
    assert text.startswith("\nevent: response.created\n") and text.endswith("\n\n")
    assert '"usage":{"input_tokens":11,' in text  # the usage of the finish chunk reached response.completed
    first, second = fake_llm.requests
    assert first.path == "/v1/chat/completions"
    assert first.body == {"model": "up-chat", "messages": [{"role": "system", "content": "I"},
                                                           {"role": "user", "content": "hi"}], "stream": False}
    assert second.body["stream"] is True


async def test_e2e_claude_and_responses_clients_on_codex(inference_client: Any, fake_llm: Any) -> None:
    from handlers.inference.pair_table import lookup_in
    from tests.fakes.llm_upstream import ANSWER

    client = await inference_client(e2e_config(fake_llm), lookup_in(PAIRS))
    claude_body = {"model": "gpt-5", "max_tokens": 5, "messages": [{"role": "user", "content": "hi"}]}
    resp = await client.post("/v1/messages", json=claude_body)
    assert resp.status == 200
    assert (await resp.json())["content"] == [{"type": "text", "text": ANSWER}]
    stream = await client.post("/v1/messages", json={**claude_body, "stream": True})
    text = (await stream.read()).decode()
    assert text.startswith("event: message_start\n") and text.endswith('data: {"type":"message_stop"}\n\n')
    resp = await client.post("/v1/responses", json={"model": "gpt-5", "instructions": "mine", "input": "hi"})
    assert resp.status == 200
    assert (await resp.json())["output"][0]["content"][0]["text"] == ANSWER
    claude_call, _, responses_call = fake_llm.requests
    assert claude_call.path == responses_call.path == "/v1/responses"
    assert claude_call.body["reasoning"] == {"effort": "medium", "summary": "auto"}
    assert responses_call.body["instructions"] == "mine" and responses_call.body["store"] is False
