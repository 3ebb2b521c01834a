"""Gemini CLI / Antigravity upstream pairs and the Gemini CLI client pairs behind the pipeline
seam: upstream items in, exact client bytes out."""

from __future__ import annotations

from typing import Any

import orjson
import pytest

from handlers.inference.pair_table import default_pairs
from handlers.inference.pairs_cli_antigravity import PAIRS
from handlers.inference.translate import TranslateInput, Translation, TranslationError
from handlers.providers.base import StreamEvent
from handlers.translation import IMPLEMENTED_PAIRS, REGISTERED_PAIRS
from handlers.translation.antigravity_signatures import SIGNATURES, session_id
from handlers.translation.model import Format

SIG = "q" * 64


def translation(
    client: Format, upstream: Format, body: dict[str, Any], *, stream: bool = True, alt: str = ""
) -> Translation:
    inp = TranslateInput(body=body, model="up-model", client_model="client-model", stream=stream, alt=alt)
    return PAIRS[(client, upstream)](inp)


def event(payload: Any, name: str = "") -> StreamEvent:
    return StreamEvent(name, orjson.dumps(payload).decode(), payload)


def run(tr: Translation, items: list[StreamEvent | bytes]) -> bytes:
    stream = tr.stream()
    out = [frame for item in items for frame in stream.feed(item)]
    return b"".join([*out, *stream.close()])


def cli_chunk(*parts: dict[str, Any], **extra: Any) -> dict[str, Any]:
    candidate: dict[str, Any] = {"content": {"role": "model", "parts": list(parts)}}
    if "finish" in extra:
        candidate["finishReason"] = extra.pop("finish")
    return {"response": {"candidates": [candidate], **extra}}


OPENAI_BODY = {"model": "client-model", "messages": [{"role": "user", "content": "hi"}], "stream": True}
CLAUDE_BODY = {"model": "client-model", "max_tokens": 10, "messages": [{"role": "user", "content": "hi"}]}
RESPONSES_BODY = {"model": "client-model", "input": "hi", "instructions": "I"}
GEMINI_BODY = {"contents": [{"role": "user", "parts": [{"text": "hi"}]}]}
CLI_BODY = {"model": "gemini-2.5-pro", "project": "p", "request": GEMINI_BODY}


def test_every_pair_is_registered_and_implemented() -> None:
    assert set(PAIRS) <= REGISTERED_PAIRS
    assert set(PAIRS) <= IMPLEMENTED_PAIRS


# --- Gemini CLI upstream ------------------------------------------------------------------------


def test_openai_on_gemini_cli_stream_bytes() -> None:
    tr = translation(Format.OPENAI, Format.GEMINI_CLI, OPENAI_BODY)
    assert tr.upstream_stream is True
    assert tr.upstream_body["model"] == "up-model"
    assert tr.upstream_body["request"]["contents"] == [{"role": "user", "parts": [{"text": "hi"}]}]
    usage = {"promptTokenCount": 2, "candidatesTokenCount": 1, "totalTokenCount": 3}
    out = run(
        tr,
        [
            event(cli_chunk({"text": "Hi"}, responseId="r", modelVersion="g", createTime="1970-01-01T00:00:09Z")),
            event(cli_chunk(finish="STOP", usageMetadata=usage, responseId="r", modelVersion="g")),
        ],
    )
    assert out == (
        b'data: {"id":"r","object":"chat.completion.chunk","created":9,"model":"g","choices":[{"index":0,'
        b'"delta":{"role":"assistant","content":"Hi","reasoning_content":null,"tool_calls":null},'
        b'"finish_reason":null,"native_finish_reason":null}]}\n\n'
        b'data: {"id":"r","object":"chat.completion.chunk","created":9,"model":"g","choices":[{"index":0,'
        b'"delta":{"role":null,"content":null,"reasoning_content":null,"tool_calls":null},'
        b'"finish_reason":"stop","native_finish_reason":"stop"}],'
        b'"usage":{"completion_tokens":1,"total_tokens":3,"prompt_tokens":2}}\n\n'
        b"data: [DONE]\n\n"
    )


def test_openai_on_gemini_cli_non_stream() -> None:
    tr = translation(Format.OPENAI, Format.GEMINI_CLI, {**OPENAI_BODY, "stream": False}, stream=False)
    assert tr.upstream_stream is False
    answer = orjson.loads(tr.response(orjson.dumps(cli_chunk({"text": "Hi"}, finish="STOP", responseId="r"))))
    assert answer["choices"][0]["message"]["content"] == "Hi"
    assert answer["choices"][0]["finish_reason"] == "stop"
    # the legacy answers an envelope-less body with nothing
    assert tr.response(b'{"candidates":[]}') == b""


def test_claude_on_gemini_cli_stream_bytes() -> None:
    tr = translation(Format.CLAUDE, Format.GEMINI_CLI, CLAUDE_BODY)
    assert tr.upstream_body["request"]["contents"] == [{"role": "user", "parts": [{"text": "hi"}]}]
    usage = {"promptTokenCount": 2, "candidatesTokenCount": 1}
    out = run(
        tr,
        [
            event(cli_chunk({"text": "Hi"}, responseId="r", modelVersion="g")),
            event(cli_chunk(finish="STOP", usageMetadata=usage)),
        ],
    )
    assert out == (
        b'event: message_start\ndata: {"type":"message_start","message":{"id":"r","type":"message",'
        b'"role":"assistant","content":[],"model":"g","stop_reason":null,"stop_sequence":null,'
        b'"usage":{"input_tokens":0,"output_tokens":0}}}\n\n\n'
        b'event: content_block_start\ndata: {"type":"content_block_start","index":0,'
        b'"content_block":{"type":"text","text":""}}\n\n\n'
        b'event: content_block_delta\ndata: {"type":"content_block_delta","index":0,'
        b'"delta":{"type":"text_delta","text":"Hi"}}\n\n\n'
        b'event: content_block_stop\ndata: {"type":"content_block_stop","index":0}\n\n\n'
        b'event: message_delta\ndata: {"type":"message_delta","delta":{"stop_reason":"end_turn",'
        b'"stop_sequence":null},"usage":{"input_tokens":2,"output_tokens":1}}\n\n\n'
        b'event: message_stop\ndata: {"type":"message_stop"}\n\n\n'
    )


def test_claude_on_gemini_cli_non_stream() -> None:
    tr = translation(Format.CLAUDE, Format.GEMINI_CLI, CLAUDE_BODY, stream=False)
    answer = orjson.loads(tr.response(orjson.dumps(cli_chunk({"text": "Hi"}, finish="STOP", responseId="r"))))
    assert answer["content"] == [{"type": "text", "text": "Hi"}]
    assert answer["stop_reason"] == "end_turn"


def test_responses_on_gemini_cli_stream_and_non_stream() -> None:
    tr = translation(Format.OPENAI_RESPONSE, Format.GEMINI_CLI, RESPONSES_BODY)
    assert tr.upstream_body["request"]["systemInstruction"] == {"parts": [{"text": "I"}]}
    chunks = [
        event(cli_chunk({"text": "Hi"}, responseId="r", createTime="1970-01-01T00:00:09Z")),
        event(cli_chunk(finish="STOP", usageMetadata={"promptTokenCount": 1, "candidatesTokenCount": 1})),
    ]
    out = run(tr, chunks)
    names = [line[len(b"event: ") :] for line in out.split(b"\n") if line.startswith(b"event: ")]
    assert names == [
        b"response.created",
        b"response.in_progress",
        b"response.output_item.added",
        b"response.content_part.added",
        b"response.output_text.delta",
        b"response.output_text.done",
        b"response.content_part.done",
        b"response.output_item.done",
        b"response.completed",
    ]
    assert out.endswith(b"\n\n")
    completed = orjson.loads(out.rstrip(b"\n").rsplit(b"data: ", 1)[1])
    assert completed["response"]["instructions"] == "I"
    assert completed["response"]["usage"]["input_tokens"] == 1
    answer = orjson.loads(tr.response(orjson.dumps(chunks[0].payload)))
    assert answer["id"] == "resp_r" and answer["output"][0]["content"][0]["text"] == "Hi"


# --- Antigravity upstream -----------------------------------------------------------------------


def test_openai_on_antigravity_reports_cached_tokens() -> None:
    tr = translation(Format.OPENAI, Format.ANTIGRAVITY, OPENAI_BODY)
    assert tr.upstream_body == {
        "project": "",
        "request": tr.upstream_body["request"],
        "model": "up-model",
    }
    usage = {"promptTokenCount": 10, "cachedContentTokenCount": 4, "candidatesTokenCount": 1}
    out = run(tr, [event(cli_chunk(finish="STOP", usageMetadata=usage))])
    chunk = orjson.loads(out.split(b"\n\n")[0][len(b"data: ") :])
    assert chunk["usage"] == {"completion_tokens": 1, "prompt_tokens": 6, "prompt_tokens_details": {"cached_tokens": 4}}
    assert out.endswith(b"data: [DONE]\n\n")


def test_claude_on_antigravity_caches_signature_and_round_trips_it() -> None:
    body = {**CLAUDE_BODY, "metadata": {"user_id": "user_1_account_2_session_pair-test"}}
    tr = translation(Format.CLAUDE, Format.ANTIGRAVITY, body)
    assert tr.upstream_body["model"] == "up-model" and "project" not in tr.upstream_body
    out = run(
        tr,
        [
            event(cli_chunk({"text": "deep", "thought": True}, responseId="r")),
            event(cli_chunk({"text": "", "thought": True, "thoughtSignature": SIG})),
            event(cli_chunk({"text": "ok"}, finish="STOP", usageMetadata={"promptTokenCount": 1})),
        ],
    )
    assert b'"signature_delta","signature":"up-model#' + SIG.encode() + b'"' in out
    assert out.endswith(
        b'event: message_delta\ndata: {"type":"message_delta","delta":{"stop_reason":"end_turn",'
        b'"stop_sequence":null},"usage":{"input_tokens":1,"output_tokens":0}}\n\n\n'
        b'event: message_stop\ndata: {"type":"message_stop"}\n\n\n'
    )
    assert SIGNATURES.get("up-model", session_id(body), "deep") == SIG
    # The next turn sends the thinking block back without a usable signature: the cache fills it.
    follow_up = {
        **body,
        "messages": [
            *body["messages"],
            {
                "role": "assistant",
                "content": [{"type": "thinking", "thinking": "deep"}, {"type": "text", "text": "ok"}],
            },
        ],
    }
    request = translation(Format.CLAUDE, Format.ANTIGRAVITY, follow_up).upstream_body["request"]
    assert request["contents"][1]["parts"][0] == {"thought": True, "text": "deep", "thoughtSignature": SIG}
    SIGNATURES.clear("pair-test")


def test_claude_on_antigravity_non_stream() -> None:
    tr = translation(Format.CLAUDE, Format.ANTIGRAVITY, CLAUDE_BODY, stream=False)
    upstream = cli_chunk({"text": "Hi"}, finish="MAX_TOKENS", responseId="r", usageMetadata={"promptTokenCount": 2})
    assert orjson.loads(tr.response(orjson.dumps(upstream))) == {
        "id": "r",
        "type": "message",
        "role": "assistant",
        "model": "",
        "content": [{"type": "text", "text": "Hi"}],
        "stop_reason": "max_tokens",
        "stop_sequence": None,
        "usage": {"input_tokens": 2, "output_tokens": 0},
    }


def test_responses_on_antigravity() -> None:
    tr = translation(Format.OPENAI_RESPONSE, Format.ANTIGRAVITY, RESPONSES_BODY, stream=False)
    assert tr.upstream_body["request"]["contents"] == [{"role": "user", "parts": [{"text": "hi"}]}]
    answer = orjson.loads(tr.response(orjson.dumps(cli_chunk({"text": "Hi"}, finish="STOP", responseId="r"))))
    assert answer["status"] == "completed" and answer["output"][0]["content"][0]["text"] == "Hi"


@pytest.mark.parametrize(
    ("alt", "expected"),
    [("", b'data: {"candidates":[],"responseId":"r"}\n\n'), ("json", b'{"candidates":[],"responseId":"r"}')],
)
def test_gemini_on_antigravity_stream_unwraps(alt: str, expected: bytes) -> None:
    tr = translation(Format.GEMINI, Format.ANTIGRAVITY, GEMINI_BODY, alt=alt)
    assert tr.upstream_body["request"]["contents"] == GEMINI_BODY["contents"]
    assert run(tr, [event({"response": {"candidates": [], "responseId": "r"}}), event({"other": 1})]) == expected


def test_gemini_on_antigravity_non_stream() -> None:
    tr = translation(Format.GEMINI, Format.ANTIGRAVITY, GEMINI_BODY, stream=False)
    assert tr.response(b'{"response":{"responseId":"r"}}') == b'{"responseId":"r"}'
    assert tr.response(b'{"error":{"code":3}}') == b'{"error":{"code":3}}'
    assert tr.response(b"not json") == b"not json"


@pytest.mark.parametrize("body", [{"generationConfig": {}}, {"contents": 5}, {"contents": "x"}, {"contents": {}}])
def test_gemini_without_contents_is_a_translation_error(body: dict[str, object]) -> None:
    # Row 21: no contents array, no upstream call.
    with pytest.raises(TranslationError, match="contents not found in input"):
        translation(Format.GEMINI, Format.ANTIGRAVITY, body)


# --- Gemini CLI client --------------------------------------------------------------------------


def test_cli_client_on_claude_stream_and_non_stream() -> None:
    tr = translation(Format.GEMINI_CLI, Format.CLAUDE, CLI_BODY, stream=False)
    assert tr.upstream_stream is True
    assert tr.upstream_body["model"] == "up-model"
    assert tr.upstream_body["messages"] == [{"role": "user", "content": [{"type": "text", "text": "hi"}]}]
    start = {"type": "message_start", "message": {"id": "msg_1", "model": "claude-x", "usage": {"input_tokens": 3}}}
    delta = {"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": "Hi"}}
    out = run(tr, [event(start, "message_start"), event(delta, "content_block_delta")])
    assert out.startswith(b'data: {"response":{"candidates":[{"content":{"role":"model","parts":[{"text":"Hi"}]}}]')
    assert out.endswith(b"}}\n\n") and out.count(b"data: ") == 1
    sse_body = (
        b'event: message_start\ndata: {"type":"message_start","message":{"id":"msg_1"}}\n\n'
        b'event: content_block_delta\ndata: {"type":"content_block_delta","index":0,'
        b'"delta":{"type":"text_delta","text":"Hi"}}\n\n'
    )
    answer = orjson.loads(tr.response(sse_body))
    assert list(answer) == ["response"]
    assert answer["response"]["candidates"][0]["content"]["parts"] == [{"text": "Hi"}]
    assert answer["response"]["responseId"] == "msg_1"


def test_cli_client_on_openai_wraps_every_chunk() -> None:
    tr = translation(Format.GEMINI_CLI, Format.OPENAI, CLI_BODY)
    assert tr.upstream_body["messages"] == [{"role": "user", "content": "hi"}]
    chunk = {
        "id": "c",
        "object": "chat.completion.chunk",
        "created": 1,
        "model": "up-model",
        "choices": [{"index": 0, "delta": {"role": "assistant", "content": "Hi"}, "finish_reason": None}],
    }
    out = run(tr, [event(chunk), StreamEvent("", "[DONE]", None)])
    assert out == (
        b'data: {"response":{"candidates":[{"content":{"parts":[{"text":"Hi"}],"role":"model"},"index":0}],'
        b'"model":"up-model"}}\n\n'
    )


def test_cli_client_on_codex_request() -> None:
    tr = translation(Format.GEMINI_CLI, Format.CODEX, CLI_BODY)
    assert tr.upstream_stream is True
    assert tr.upstream_body["model"] == "up-model"
    assert tr.upstream_body["input"] == [
        {"type": "message", "role": "user", "content": [{"type": "input_text", "text": "hi"}]}
    ]


def test_model_rules_read_the_model_without_thinking_suffix() -> None:
    body = {
        **CLAUDE_BODY,
        "thinking": {"type": "enabled", "budget_tokens": 1024},
        "tools": [{"name": "f", "input_schema": {"type": "object", "properties": {"a": {"type": "string"}}}}],
    }
    inp = TranslateInput(body=body, model="claude-sonnet-4-5-thinking(8192)", client_model="c", stream=True)
    out = PAIRS[(Format.CLAUDE, Format.ANTIGRAVITY)](inp).upstream_body
    assert out["model"] == "claude-sonnet-4-5-thinking"
    assert out["request"]["systemInstruction"]["parts"][-1]["text"].startswith("Interleaved thinking is enabled.")
    cli = PAIRS[(Format.OPENAI, Format.GEMINI_CLI)](
        TranslateInput(body=OPENAI_BODY, model="gemini-2.5-pro(high)", client_model="c", stream=True)
    )
    assert cli.upstream_body["model"] == "gemini-2.5-pro"


def test_responses_on_gemini_echoes_the_clients_fields() -> None:
    """Compatibility row 30: the answer repeats the client's Responses fields, not the translated
    Gemini body's (the legacy echoes the upstream model and Gemini-shaped tools)."""
    body = {**RESPONSES_BODY, "temperature": 0.3, "store": False, "reasoning": {"effort": "low"},
            "tools": [{"type": "function", "name": "f", "parameters": {"type": "object"}}]}
    factory = default_pairs()(Format.OPENAI_RESPONSE, Format.GEMINI)
    assert factory is not None
    tr = factory(TranslateInput(body=body, model="up-model", client_model="client-model", stream=False))
    whole = {"candidates": [{"content": {"role": "model", "parts": [{"text": "Hi"}]}, "finishReason": "STOP"}],
             "responseId": "r", "modelVersion": "up-model"}
    answer = orjson.loads(tr.response(orjson.dumps(whole)))
    assert (answer["instructions"], answer["temperature"], answer["store"]) == ("I", 0.3, False)
    assert answer["reasoning"]["effort"] == "low"
    assert answer["tools"][0]["name"] == "f" and "functionDeclarations" not in answer["tools"][0]
