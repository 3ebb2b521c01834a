"""Fields of the wrong JSON kind, in client bodies and upstream answers, across the pair table.

The legacy translators read everything through gjson: a loop runs only over a real array
(``IsArray()`` guards, e.g. ``codex/claude/codex_claude_request.go:68,176``,
``claude/gemini/claude_gemini_request.go:180,200,297,301``), a number is read with ``Int()`` (0 for
anything unreadable, ``codex/openai/chat-completions/codex_openai_response.go:85-94``) and a mode
with ``String()`` (``claude/gemini/claude_gemini_request.go:341``,
``openai/gemini/openai_gemini_request.go:298``). So ``"tools": 1`` or ``"parts": 1`` is ignored and
the request goes on; these tests pin that answer (these bodies used to raise inside the pair and
end as a 500). Numeric strings read as numbers for the same reason. At the end: OpenAI ``file``
parts against the legacy's whole extension table (``internal/misc/mime-type.go``).
"""

from __future__ import annotations

from typing import Any

import orjson
import pytest

from handlers.inference.pair_table import all_pairs, lookup_in
from handlers.inference.pairs_codex_openai import make_pairs
from handlers.inference.translate import TranslateInput, Translation
from handlers.providers.base import StreamEvent
from handlers.translation import claude
from handlers.translation.gemini_request import safety_settings
from handlers.translation.model import Format
from tests.fakes.llm_upstream import ANSWER, FakeLLM

F = Format
PAIRS = all_pairs()
FIXED = make_pairs(now=lambda: 1700000000, user_id=lambda: "user_x")


def upstream_body(key: tuple[Format, Format], body: dict[str, Any]) -> dict[str, Any]:
    inp = TranslateInput(body=body, model="up-model", client_model="c", stream=True)
    return PAIRS[key](inp).upstream_body


def ev(payload: Any, name: str = "") -> StreamEvent:
    return StreamEvent(name, orjson.dumps(payload).decode(), payload)


def streamed(t: Translation, items: list[StreamEvent]) -> bytes:
    s = t.stream()
    return b"".join(b for item in items for b in s.feed(item)) + b"".join(s.close())


# --- client bodies --------------------------------------------------------------------------


def test_claude_client_tools_not_an_array_on_gemini_and_openai() -> None:
    body = {"model": "m", "max_tokens": 5, "messages": [{"role": "user", "content": "hi"}], "tools": 1}
    assert upstream_body((F.CLAUDE, F.GEMINI), body) == {
        "contents": [{"role": "user", "parts": [{"text": "hi"}]}], "model": "up-model",
        "safetySettings": safety_settings(),
    }
    assert upstream_body((F.CLAUDE, F.OPENAI), body) == {
        "model": "up-model", "messages": [{"role": "system", "content": []}, {"role": "user", "content": "hi"}],
        "max_tokens": 5, "stream": True,
    }


def test_gemini_client_wrong_kinds_on_claude() -> None:
    # A model turn whose parts are not an array has no content and is dropped; so are the tools
    # and a mode that is not a string.
    body = {"contents": [{"role": "user", "parts": [{"text": "hi"}]}, {"role": "model", "parts": 1}],
            "tools": [{"functionDeclarations": 1}], "tool_config": {"function_calling_config": {"mode": ["AUTO"]}}}
    expected = {"model": "up-model", "max_tokens": 32000,
                "messages": [{"role": "user", "content": [{"type": "text", "text": "hi"}]}],
                "metadata": {"user_id": claude.fake_user_id()}, "stream": True}
    assert upstream_body((F.GEMINI, F.CLAUDE), body) == expected
    assert upstream_body((F.GEMINI, F.CLAUDE), {"contents": 1, "tools": 1}) == {**expected, "messages": []}


def test_gemini_client_mode_not_a_string_on_openai() -> None:
    body = {"contents": [{"role": "user", "parts": [{"text": "hi"}]}],
            "toolConfig": {"functionCallingConfig": {"mode": ["ANY"]}}}
    assert upstream_body((F.GEMINI, F.OPENAI), body) == {
        "model": "up-model", "messages": [{"role": "user", "content": "hi"}], "stream": True,
    }


@pytest.mark.parametrize("upstream", [F.GEMINI, F.GEMINI_CLI])
def test_gemini_client_model_parts_not_an_array_pass_through(upstream: Format) -> None:
    # The signature fixup walks only real part arrays; the odd value goes upstream as sent.
    contents = [{"role": "user", "parts": [{"text": "hi"}]}, {"role": "model", "parts": 1}]
    body = upstream_body((F.GEMINI, upstream), {"contents": contents})
    request = body["request"] if upstream is F.GEMINI_CLI else body
    assert request["contents"] == contents


def test_gemini_client_tools_not_an_array_on_antigravity() -> None:
    body = upstream_body((F.GEMINI, F.ANTIGRAVITY), {"contents": [{"role": "user", "parts": [{"text": "hi"}]}],
                                                    "tools": 1})
    assert body == {"project": "", "request": {"contents": [{"role": "user", "parts": [{"text": "hi"}]}], "tools": 1,
                                               "safetySettings": safety_settings()}, "model": "up-model"}


def test_openai_client_image_url_and_function_not_objects_on_antigravity() -> None:
    # image_url.url and function.name read as "" (antigravity_openai_request.go:118,185,258):
    # the image is dropped, the call goes out nameless with its empty arguments under "params".
    body = {"model": "m", "messages": [
        {"role": "user", "content": [{"type": "text", "text": "hi"},
                                     {"type": "image_url", "image_url": "data:image/png;base64,AAA"}]},
        {"role": "assistant", "content": None, "tool_calls": [{"id": "c1", "type": "function", "function": 1}]},
        {"role": "tool", "tool_call_id": "c1", "content": "ok"}]}
    assert upstream_body((F.OPENAI, F.ANTIGRAVITY), body)["request"]["contents"] == [
        {"role": "user", "parts": [{"text": "hi"}]},
        {"role": "model", "parts": [{"functionCall": {"id": "c1", "name": "", "args": {"params": ""}},
                                     "thoughtSignature": "skip_thought_signature_validator"}]},
    ]


# --- upstream answers -----------------------------------------------------------------------

CODEX_COMPLETED = {"type": "response.completed", "response": {
    "id": "resp_1", "model": "cx", "created_at": 1, "status": "completed", "output": 1,
    "usage": {"input_tokens": "x", "output_tokens": [1], "total_tokens": 3,
              "output_tokens_details": {"reasoning_tokens": {}}}}}
# Key order as the legacy writes it (codex_openai_response.go:83-95).
CODEX_USAGE = {"completion_tokens": 0, "total_tokens": 3, "prompt_tokens": 0,
               "completion_tokens_details": {"reasoning_tokens": 0}}


def test_codex_counts_and_output_of_the_wrong_kind_for_an_openai_client() -> None:
    body = {"model": "m", "messages": [{"role": "user", "content": "hi"}]}
    created = {"type": "response.created", "response": {"id": "resp_1", "model": "cx", "created_at": 1}}
    stream = FIXED[(F.OPENAI, F.CODEX)](TranslateInput(body=body, model="up-model", client_model="c", stream=True))
    chunk = {"id": "resp_1", "object": "chat.completion.chunk", "created": 1, "model": "cx",
             "choices": [{"index": 0, "delta": {"role": None, "content": None, "reasoning_content": None,
                                                "tool_calls": None},
                          "finish_reason": "stop", "native_finish_reason": "stop"}], "usage": CODEX_USAGE}
    items = [ev(created, "response.created"), ev(CODEX_COMPLETED, "response.completed")]
    assert streamed(stream, items) == b"data: " + orjson.dumps(chunk) + b"\n\ndata: [DONE]\n\n"

    whole = FIXED[(F.OPENAI, F.CODEX)](TranslateInput(body=body, model="up-model", client_model="c", stream=False))
    sse = b"event: response.completed\ndata: " + orjson.dumps(CODEX_COMPLETED) + b"\n\n"
    assert orjson.loads(whole.response(sse)) == {
        "id": "resp_1", "object": "chat.completion", "created": 1, "model": "cx",
        "choices": [{"index": 0, "message": {"role": "assistant", "content": None, "reasoning_content": None,
                                             "tool_calls": None},
                     "finish_reason": "stop", "native_finish_reason": "stop"}],
        "usage": CODEX_USAGE,
    }


def test_codex_event_type_of_the_wrong_kind_for_a_responses_client() -> None:
    body = {"model": "m", "input": "hi", "instructions": "mine"}
    odd = {"type": [], "response": {"instructions": "theirs"}}
    t = FIXED[(F.OPENAI_RESPONSE, F.CODEX)](TranslateInput(body=body, model="up-model", client_model="c", stream=True))
    # Not one of the events whose instructions are restored: it passes on as it came.
    assert streamed(t, [ev(odd)]) == b"data: " + orjson.dumps(odd) + b"\n\n"


def test_openai_tool_calls_not_an_array_for_a_claude_client() -> None:
    body = {"model": "m", "max_tokens": 5, "stream": True, "messages": [{"role": "user", "content": "hi"}]}
    t = FIXED[(F.CLAUDE, F.OPENAI)](TranslateInput(body=body, model="up-model", client_model="c", stream=True))
    chunks = [{"id": "c1", "model": "om", "created": 1,
               "choices": [{"index": 0, "delta": {"content": "Hi", "tool_calls": 1}, "finish_reason": None}]},
              {"id": "c1", "model": "om", "created": 1,
               "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]}]
    frames = [
        {"type": "message_start", "message": {"id": "c1", "type": "message", "role": "assistant", "model": "om",
                                              "content": [], "stop_reason": None, "stop_sequence": None,
                                              "usage": {"input_tokens": 0, "output_tokens": 0}}},
        {"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}},
        {"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": "Hi"}},
        {"type": "content_block_stop", "index": 0},
        {"type": "message_delta", "delta": {"stop_reason": "end_turn", "stop_sequence": None}},
        {"type": "message_stop"},
    ]
    expected = b"".join(b"event: " + f["type"].encode() + b"\ndata: " + orjson.dumps(f) + b"\n\n" for f in frames)
    assert streamed(t, [*map(ev, chunks), StreamEvent("", "[DONE]", None)]) == expected


def test_gemini_parts_not_an_array_for_an_openai_client() -> None:
    body = {"model": "m", "messages": [{"role": "user", "content": "hi"}]}
    t = FIXED[(F.OPENAI, F.GEMINI)](TranslateInput(body=body, model="up-model", client_model="c", stream=True))
    chunk = {"candidates": [{"content": {"role": "model", "parts": 1}, "finishReason": "STOP", "index": 0}],
             "modelVersion": "gm", "responseId": "r1", "createTime": "2025-01-01T00:00:00Z"}
    expected = {"id": "r1", "object": "chat.completion.chunk", "created": 1735689600, "model": "gm",
                "choices": [{"index": 0, "delta": {"role": None, "content": None, "reasoning_content": None,
                                                   "tool_calls": None},
                             "finish_reason": "stop", "native_finish_reason": "stop"}]}
    assert streamed(t, [ev(chunk)]) == b"data: " + orjson.dumps(expected) + b"\n\ndata: [DONE]\n\n"


# --- through the gateway --------------------------------------------------------------------


async def test_e2e_claude_client_tools_not_an_array(inference_client: Any, fake_llm: FakeLLM) -> None:
    config = f"gemini-api-key:\n  - api-key: g1\n    base-url: {fake_llm.root}\n"
    client = await inference_client(config, lookup_in(PAIRS))
    resp = await client.post("/v1/messages", json={"model": "gemini-2.5-pro", "max_tokens": 5, "tools": 1,
                                                   "messages": [{"role": "user", "content": "hi"}]})
    assert resp.status == 200, await resp.text()
    answer = await resp.json()
    assert answer["content"] == [{"type": "text", "text": ANSWER}]
    assert answer["stop_reason"] == "end_turn"
    sent = fake_llm.requests[0].body
    assert "tools" not in sent
    assert sent["contents"] == [{"role": "user", "parts": [{"text": "hi"}]}]


# --- OpenAI file parts on Gemini-family upstreams: the whole legacy extension table ---------


@pytest.mark.parametrize("upstream", [F.GEMINI, F.GEMINI_CLI, F.ANTIGRAVITY])
def test_openai_file_parts_use_the_whole_legacy_mime_table(upstream: Format) -> None:
    # misc.MimeTypes (internal/misc/mime-type.go) has 732 extensions; svg, xlsx, m4a and tsv are
    # among them and go up as inline data. jpeg and md are not in it: skipped, as by the legacy.
    files = [("logo.svg", "PHN2"), ("sheet.xlsx", "UEsD"), ("voice.m4a", "AAAA"), ("t.tsv", "YQli"),
             ("photo.jpeg", "/9j/"), ("README.md", "IyBS"), ("doc.pdf", "JVBE")]
    body = {"model": "m", "messages": [{"role": "user", "content": [
        {"type": "text", "text": "see"},
        *({"type": "file", "file": {"filename": name, "file_data": data}} for name, data in files)]}]}
    out = upstream_body((F.OPENAI, upstream), body)
    request = out if upstream is F.GEMINI else out["request"]
    assert request["contents"][0]["parts"] == [
        {"text": "see"},
        {"inlineData": {"mime_type": "image/svg+xml", "data": "PHN2"}},
        {"inlineData": {"mime_type": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
                        "data": "UEsD"}},
        {"inlineData": {"mime_type": "audio/mp4", "data": "AAAA"}},
        {"inlineData": {"mime_type": "text/tab-separated-values", "data": "YQli"}},
        {"inlineData": {"mime_type": "application/pdf", "data": "JVBE"}},
    ]


def test_codex_counts_as_numeric_strings_for_a_claude_client() -> None:
    # extractResponsesUsage (codex/claude/codex_claude_response.go:322-340) reads with gjson Int(),
    # which parses numeric strings; cached tokens leave input_tokens.
    completed = {"type": "response.completed", "response": {
        "id": "resp_1", "model": "cx",
        "output": [{"type": "message", "content": [{"type": "output_text", "text": "ok"}]}],
        "usage": {"input_tokens": "12", "output_tokens": "3", "input_tokens_details": {"cached_tokens": "2"}}}}
    body = {"model": "m", "max_tokens": 5, "messages": [{"role": "user", "content": "hi"}]}
    t = FIXED[(F.CLAUDE, F.CODEX)](TranslateInput(body=body, model="up-model", client_model="c", stream=False))
    sse = b"event: response.completed\ndata: " + orjson.dumps(completed) + b"\n\n"
    assert orjson.loads(t.response(sse)) == {
        "id": "resp_1", "type": "message", "role": "assistant", "model": "cx",
        "content": [{"type": "text", "text": "ok"}], "stop_reason": "end_turn", "stop_sequence": None,
        "usage": {"input_tokens": 10, "output_tokens": 3, "cache_read_input_tokens": 2},
    }
