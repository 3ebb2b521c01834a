"""The Gemini-client pairs behind the pipeline seam: upstream items in, exact client bytes out."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import orjson
import pytest

from handlers.inference.count_tokens import count_pairs
from handlers.inference.pair_table import default_pairs, lookup_in
from handlers.inference.pairs_gemini_client import PAIRS
from handlers.inference.translate import TranslateInput, Translation, TranslationError
from handlers.providers.base import StreamEvent
from handlers.translation import IMPLEMENTED_PAIRS, REGISTERED_PAIRS, codex_instructions
from handlers.translation.model import Format
from handlers.translation.sse import encode_claude_event
from tests.fakes.llm_upstream import ANSWER, USAGE, FakeLLM
from tests.handlers.inference.test_golden_http import Upstream

GEMINI_BODY: dict[str, Any] = {
    "contents": [{"role": "user", "parts": [{"text": "hi"}]}],
    "generationConfig": {"temperature": 0.5},
}


def translation(client: Format, upstream: Format, *, body: dict[str, Any] | None = None, stream: bool = True,
                alt: str = "", headers: dict[str, str] | None = None) -> Translation:
    inp = TranslateInput(body=GEMINI_BODY if body is None else body, model="up-model", client_model="client-model",
                         stream=stream, alt=alt, headers=headers or {})
    return PAIRS[(client, upstream)](inp)


def event(payload: Any, name: str = "") -> StreamEvent:
    return StreamEvent(name, orjson.dumps(payload).decode(), payload)


def done() -> StreamEvent:
    return StreamEvent("", "[DONE]", None)


def run(tr: Translation, items: list[StreamEvent | bytes]) -> bytes:
    stream = tr.stream()
    out = [frame for item in items for frame in stream.feed(item)]
    return b"".join([*out, *stream.close()])


def frames(*chunks: dict[str, Any]) -> bytes:
    return b"".join(b"data: " + orjson.dumps(c) + b"\n\n" for c in chunks)


def test_every_pair_is_registered_and_implemented() -> None:
    # The two Gemini CLI passthroughs are pairs the legacy leaves untranslated (no Register call).
    passthrough = {(Format.GEMINI_CLI, Format.GEMINI_CLI), (Format.GEMINI_CLI, Format.ANTIGRAVITY)}
    assert set(PAIRS) - passthrough <= REGISTERED_PAIRS
    assert set(PAIRS) - passthrough <= IMPLEMENTED_PAIRS
    assert not passthrough & REGISTERED_PAIRS


# --- Gemini -> OpenAI-compatible ----------------------------------------------------------------


def test_openai_request_and_upstream_mode_follow_the_client() -> None:
    tr = translation(Format.GEMINI, Format.OPENAI, stream=False)
    assert tr.upstream_body == {"model": "up-model", "messages": [{"role": "user", "content": "hi"}],
                                "temperature": 0.5, "stream": False}
    assert tr.upstream_stream is False
    assert translation(Format.GEMINI, Format.OPENAI).upstream_stream is True


def test_openai_stream_to_sse_bytes() -> None:
    chunk = {"model": "gpt", "choices": [{"index": 0, "delta": {"content": "Hi"}}]}
    finish = {"model": "gpt", "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]}
    out = run(translation(Format.GEMINI, Format.OPENAI), [event(chunk), event(finish), done()])
    assert out == (
        b'data: {"candidates":[{"content":{"parts":[{"text":"Hi"}],"role":"model"},"index":0}],"model":"gpt"}\n\n'
        b'data: {"candidates":[{"content":{"parts":[],"role":"model"},"index":0,"finishReason":"STOP"}],'
        b'"model":"gpt"}\n\n'
    )


@pytest.mark.parametrize("alt", ["json", "proto"])
def test_openai_stream_with_non_sse_alt_is_unframed(alt: str) -> None:
    chunk = {"choices": [{"index": 0, "delta": {"content": "Hi"}}]}
    out = run(translation(Format.GEMINI, Format.OPENAI, alt=alt), [event(chunk)])
    assert out == b'{"candidates":[{"content":{"parts":[{"text":"Hi"}],"role":"model"},"index":0}]}'


def test_sse_alt_frames_like_no_alt() -> None:
    chunk = {"choices": [{"index": 0, "delta": {"content": "Hi"}}]}
    assert run(translation(Format.GEMINI, Format.OPENAI, alt="sse"), [event(chunk)]).startswith(b"data: {")


def test_openai_non_stream_answer_and_unreadable_body() -> None:
    tr = translation(Format.GEMINI, Format.OPENAI, stream=False)
    body = {"model": "gpt", "choices": [{"index": 0, "message": {"content": "Hi"}, "finish_reason": "length"}]}
    assert tr.response(orjson.dumps(body)) == (
        b'{"candidates":[{"content":{"parts":[{"text":"Hi"}],"role":"model"},"index":0,"finishReason":"MAX_TOKENS"}],'
        b'"model":"gpt"}'
    )
    assert tr.response(b"<html>") == b'{"candidates":[{"content":{"parts":[],"role":"model"},"index":0}]}'


def test_raw_bytes_from_an_sse_upstream_are_refused() -> None:
    stream = translation(Format.GEMINI, Format.OPENAI).stream()
    with pytest.raises(TranslationError, match="raw chunk from an SSE upstream"):
        stream.feed(b"{}")


# --- Gemini -> Codex ------------------------------------------------------------------------------


@pytest.fixture
def codex_rule() -> Iterator[None]:
    before = codex_instructions.current()
    yield
    codex_instructions.configure(before)


def test_codex_request_with_and_without_instructions(codex_rule: None) -> None:
    tr = translation(Format.GEMINI, Format.CODEX, stream=False)
    assert tr.upstream_body["instructions"] == ""
    assert tr.upstream_body["input"] == [
        {"type": "message", "role": "user", "content": [{"type": "input_text", "text": "hi"}]}
    ]
    assert tr.upstream_stream is False
    codex_instructions.configure(codex_instructions.CodexInstructions(
        enabled=True, prompts=(("gpt_5_codex_prompt.md-001", "CODEX"), ("prompt.md-001", "BASE"))))
    assert translation(Format.GEMINI, Format.CODEX).upstream_body["instructions"] == "BASE"
    codex_instructions.configure(codex_instructions.CodexInstructions(
        enabled=True, opencode="OPEN", prompts=(("prompt.md-001", "BASE"),)))
    opencode = translation(Format.GEMINI, Format.CODEX, headers={"User-Agent": "ai-sdk/openai/1.0"})
    assert opencode.upstream_body["instructions"] == "OPEN"


def test_codex_stream_to_sse_bytes() -> None:
    created = {"type": "response.created", "response": {"id": "r1", "model": "gpt-5", "created_at": 0}}
    delta = {"type": "response.output_text.delta", "delta": "Hi"}
    out = run(translation(Format.GEMINI, Format.CODEX), [event(created, "response.created"), event(delta)])
    assert out == (
        b'data: {"candidates":[{"content":{"role":"model","parts":[]}}],"usageMetadata":{"trafficType":'
        b'"PROVISIONED_THROUGHPUT"},"modelVersion":"gpt-5","createTime":"1970-01-01T00:00:00Z","responseId":"r1"}\n\n'
        b'data: {"candidates":[{"content":{"role":"model","parts":[{"text":"Hi"}]}}],"usageMetadata":{"trafficType":'
        b'"PROVISIONED_THROUGHPUT"},"modelVersion":"up-model","createTime":"2025-08-15T02:52:03.884209Z",'
        b'"responseId":"r1"}\n\n'
    )


def test_codex_non_stream_from_completed_event_or_sse_body() -> None:
    tools = {"tools": [{"functionDeclarations": [{"name": "mcp__srv__" + "x" * 60 + "__run"}]}], **GEMINI_BODY}
    tr = translation(Format.GEMINI, Format.CODEX, body=tools, stream=False)
    completed = {"type": "response.completed", "response": {
        "id": "r1", "output": [{"type": "function_call", "name": "mcp__run", "arguments": "{}"}]}}
    expected = (
        b'{"candidates":[{"content":{"role":"model","parts":[{"functionCall":{"args":{},"name":"mcp__srv__'
        + b"x" * 60
        + b'__run"}}]},"finishReason":"STOP"}],"usageMetadata":{"trafficType":"PROVISIONED_THROUGHPUT"},'
        b'"modelVersion":"up-model","createTime":"","responseId":"r1"}'
    )
    assert tr.response(orjson.dumps(completed)) == expected
    assert tr.response(b"event: response.completed\ndata: " + orjson.dumps(completed) + b"\n\n") == expected


def test_codex_non_stream_without_completion_is_a_translation_error() -> None:
    tr = translation(Format.GEMINI, Format.CODEX, stream=False)
    with pytest.raises(TranslationError, match=r"without a response\.completed event"):
        tr.response(b'data: {"type":"response.created"}\n\n')


# --- Gemini -> Claude (translators done earlier) ------------------------------------------------

CLAUDE_STREAM = (
    {"type": "message_start", "message": {"id": "msg_1", "model": "claude-x"}},
    {"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}},
    {"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": "Hi"}},
    {"type": "content_block_stop", "index": 0},
    {"type": "message_delta", "delta": {"stop_reason": "end_turn"}, "usage": {"input_tokens": 3, "output_tokens": 1}},
    {"type": "message_stop"},
)


def test_claude_request_is_always_streamed_upstream() -> None:
    tr = translation(Format.GEMINI, Format.CLAUDE, stream=False)
    assert tr.upstream_stream is True
    body = tr.upstream_body
    assert (body["model"], body["stream"], body["messages"]) == (
        "up-model", True, [{"role": "user", "content": [{"type": "text", "text": "hi"}]}])


def test_claude_stream_to_gemini_chunks() -> None:
    out = run(translation(Format.GEMINI, Format.CLAUDE), [event(p, p["type"]) for p in CLAUDE_STREAM])
    chunks = [orjson.loads(line[6:]) for line in out.split(b"\n\n") if line]
    assert [c["candidates"][0]["content"]["parts"] for c in chunks] == [[{"text": "Hi"}], []]
    assert chunks[1]["candidates"][0]["finishReason"] == "STOP"
    assert chunks[1]["usageMetadata"] == {"trafficType": "PROVISIONED_THROUGHPUT", "promptTokenCount": 3,
                                          "candidatesTokenCount": 1, "totalTokenCount": 4}
    assert {c["responseId"] for c in chunks} == {"msg_1"}
    assert {c["modelVersion"] for c in chunks} == {"claude-x"}


def test_claude_non_stream_folds_the_sse_body() -> None:
    tr = translation(Format.GEMINI, Format.CLAUDE, stream=False)
    answer = orjson.loads(tr.response(b"".join(encode_claude_event(p["type"], p) for p in CLAUDE_STREAM)))
    assert answer["candidates"] == [{"content": {"role": "model", "parts": [{"text": "Hi"}]}, "finishReason": "STOP"}]
    assert (answer["modelVersion"], answer["responseId"]) == ("up-model", "msg_1")


# --- Gemini -> Gemini ---------------------------------------------------------------------------


def test_gemini_request_fixups_and_passthrough_stream() -> None:
    body = {"contents": [{"parts": [{"text": "hi"}]}]}
    tr = translation(Format.GEMINI, Format.GEMINI, body=body)
    assert tr.upstream_body["contents"] == [{"parts": [{"text": "hi"}], "role": "user"}]
    assert "model" not in tr.upstream_body
    assert tr.upstream_stream is True
    raw = '{"candidates": [{"content": {"parts": [{"text": "Hi"}]}}],  "usageMetadata": {}}'
    item = StreamEvent("", "  " + raw, orjson.loads(raw))
    # The payload keeps its own spelling: only the SSE framing is ours.
    assert run(tr, [item, done()]) == b"data: " + raw.encode() + b"\n\n"


def test_gemini_alt_json_bytes_and_non_stream_pass_through() -> None:
    tr = translation(Format.GEMINI, Format.GEMINI, alt="json")
    assert run(tr, [b"[{\n", b"", b' "candidates": []}]']) == b'[{\n "candidates": []}]'
    body = b'{"candidates": [] }'
    assert translation(Format.GEMINI, Format.GEMINI, stream=False).response(body) == body


# --- Gemini -> Gemini CLI -------------------------------------------------------------------------


def test_gemini_cli_upstream_envelope_and_unwrapped_answers() -> None:
    tr = translation(Format.GEMINI, Format.GEMINI_CLI)
    assert tr.upstream_body["model"] == "up-model"
    assert tr.upstream_body["request"]["contents"] == GEMINI_BODY["contents"]
    inner = {"candidates": [{"content": {"parts": [{"text": "Hi"}]}}]}
    out = run(tr, [event({"response": inner, "traceId": "t"}), event({"traceId": "only"})])
    assert out == frames(inner)
    non_stream = translation(Format.GEMINI, Format.GEMINI_CLI, stream=False)
    assert non_stream.response(orjson.dumps({"response": inner})) == orjson.dumps(inner)
    assert non_stream.response(b'{"candidates":[]}') == b'{"candidates":[]}'


def test_gemini_cli_upstream_alt_json_array_is_unwrapped_at_the_end() -> None:
    tr = translation(Format.GEMINI, Format.GEMINI_CLI, alt="json")
    stream = tr.stream()
    assert stream.feed(b'[{"response": {"a": 1}},') == []
    assert stream.feed(b' {"response": {"b": 2}}]') == []
    assert stream.close() == [b'[{"a":1},{"b":2}]']
    assert translation(Format.GEMINI, Format.GEMINI_CLI, alt="json").stream().close() == []


# --- Gemini CLI client -> Gemini ---------------------------------------------------------------


CLI_BODY = {
    "model": "gemini-2.5-pro",
    "project": "p",
    "request": {"contents": [{"role": "user", "parts": [{"text": "hi"}]}]},
}


def test_cli_client_request_is_unwrapped() -> None:
    tr = translation(Format.GEMINI_CLI, Format.GEMINI, body=CLI_BODY)
    assert tr.upstream_body["contents"] == CLI_BODY["request"]["contents"]
    assert tr.upstream_body["model"] == "up-model"
    assert "request" not in tr.upstream_body


def test_cli_client_stream_chunks_are_wrapped() -> None:
    tr = translation(Format.GEMINI_CLI, Format.GEMINI, body=CLI_BODY)
    raw = '{"candidates":[{"content":{"parts":[{"text":"Hi"}]}}]}'
    assert run(tr, [StreamEvent("", raw + " ", orjson.loads(raw)), done()]) == (
        b'data: {"response": ' + raw.encode() + b"}\n\n"
    )


def test_cli_client_alt_json_and_non_stream() -> None:
    tr = translation(Format.GEMINI_CLI, Format.GEMINI, body=CLI_BODY, alt="json")
    assert run(tr, [b'[{"a":1}', b',{"b":2}]']) == b'[{"response": {"a":1}},{"response": {"b":2}}]'
    non_stream = translation(Format.GEMINI_CLI, Format.GEMINI, body=CLI_BODY, stream=False)
    assert non_stream.response(b'{"candidates":[]}\n') == b'{"response": {"candidates":[]}}'


# --- token counting through the shared count table ------------------------------------------------


def test_gemini_client_count_tokens_through_count_pairs() -> None:
    counting = count_pairs(lookup_in(PAIRS))
    factory = counting(Format.GEMINI, Format.GEMINI)
    assert factory is not None
    tr = factory(TranslateInput(body={**GEMINI_BODY, "tools": []}, model="up-model", client_model="c", stream=False))
    # The translated body as for generateContent; the executor drops what :countTokens does not
    # take, after the thinking step (tests/handlers/inference/test_count_thinking.py).
    assert tr.upstream_body["contents"] == GEMINI_BODY["contents"] and tr.upstream_body["model"] == "up-model"
    assert tr.response(b'{"totalTokens": 7}') == (
        b'{"totalTokens":7,"promptTokensDetails":[{"modality":"TEXT","tokenCount":7}]}'
    )
    claude_factory = counting(Format.GEMINI, Format.CLAUDE)
    assert claude_factory is not None
    claude_tr = claude_factory(TranslateInput(body=GEMINI_BODY, model="up-model", client_model="c", stream=False))
    assert claude_tr.response(b'{"input_tokens": 5}') == (
        b'{"totalTokens":5,"promptTokensDetails":[{"modality":"TEXT","tokenCount":5}]}'
    )


# --- through the real pipeline, over sockets, against the fake upstreams ----------------------------


def _compat_config(fake: FakeLLM) -> str:
    return (f"openai-compatibility:\n  - name: Local\n    base-url: {fake.root}/v1\n"
            "    models: [{name: up-llama, alias: llama}]\n")


async def test_e2e_openai_upstream_stream_and_non_stream(inference_client: Any, fake_llm: FakeLLM) -> None:
    client = await inference_client(_compat_config(fake_llm), lookup_in(PAIRS))
    resp = await client.post("/v1beta/models/llama:streamGenerateContent?alt=sse", json=GEMINI_BODY)
    assert resp.status == 200 and resp.headers["Content-Type"] == "text/event-stream"
    chunks = [orjson.loads(line[6:]) for line in (await resp.read()).split(b"\n\n") if line]
    candidates = [cand for c in chunks for cand in c.get("candidates", [])]
    assert "".join(p.get("text", "") for cand in candidates for p in cand["content"]["parts"]) == ANSWER
    # The role chunk's null finish_reason ends nothing (the legacy sent a leading STOP, row 19q):
    # the one STOP is the last candidate's.
    assert [cand.get("finishReason") for cand in candidates if "finishReason" in cand] == ["STOP"]
    assert candidates[-1]["finishReason"] == "STOP" and candidates[0]["content"]["parts"] != []
    sent = fake_llm.requests[0].body
    assert sent["messages"] == [{"role": "user", "content": "hi"}]
    assert sent["stream"] is True and sent["temperature"] == 0.5

    resp = await client.post("/v1beta/models/llama:generateContent", json=GEMINI_BODY)
    assert resp.status == 200
    answer = await resp.json()
    assert answer["candidates"][0]["content"]["parts"] == [{"text": ANSWER}]
    assert answer["usageMetadata"] == {"promptTokenCount": USAGE["input"], "candidatesTokenCount": USAGE["output"],
                                       "totalTokenCount": USAGE["input"] + USAGE["output"]}
    assert fake_llm.requests[1].body["stream"] is False


async def test_e2e_gemini_upstream_passthrough(inference_client: Any, fake_llm: FakeLLM) -> None:
    config = f"gemini-api-key:\n  - api-key: g1\n    base-url: {fake_llm.root}\n"
    client = await inference_client(config, lookup_in(PAIRS))
    resp = await client.post("/v1beta/models/gemini-2.5-pro:streamGenerateContent?alt=sse",
                             json={"contents": [{"parts": [{"text": "hi"}]}]})
    assert resp.status == 200
    raw = await resp.read()
    chunks = [orjson.loads(line[6:]) for line in raw.split(b"\n\n") if line]
    assert "".join(c["candidates"][0]["content"]["parts"][0]["text"] for c in chunks) == ANSWER
    sent = fake_llm.requests[0].body
    assert sent["contents"] == [{"parts": [{"text": "hi"}], "role": "user"}]
    assert len(sent["safetySettings"]) == 5

    resp = await client.post("/v1beta/models/gemini-2.5-pro:streamGenerateContent?alt=json",
                             json={"contents": [{"role": "user", "parts": [{"text": "hi"}]}]})
    assert resp.status == 200
    array = orjson.loads(await resp.read())
    assert "".join(c["candidates"][0]["content"]["parts"][0]["text"] for c in array) == ANSWER


async def test_e2e_gemini_body_upstream_in_the_legacys_order(inference_client: Any) -> None:
    """The translator's fixups, then the thinking step, then the executor, each editing the body
    where the legacy's sjson calls put things: roles and signatures in place, the safety defaults
    appended, a ``generationConfig`` the thinking suffix creates after them, ``model`` last,
    ``session_id`` gone (gemini_gemini_request.go:21-101, thinking/provider/gemini/apply.go:115-143,
    gemini_executor.go:123-144)."""
    up = Upstream()
    await up.start()
    try:
        up.answers.append(b'{"candidates":[]}')
        client = await inference_client(f"gemini-api-key:\n  - api-key: g1\n    base-url: {up.root}\n")
        body = {"session_id": "s1", "contents": [
            {"parts": [{"text": "hi"}]},
            {"role": "model", "parts": [{"functionCall": {"name": "f", "args": {}}}]},
            {"role": "function", "parts": [{"functionResponse": {"name": "f", "response": {}}}]}],
            "tools": [{"functionDeclarations": [{"name": "f", "parameters": {"type": "object"}}]}]}
        resp = await client.post("/v1beta/models/gemini-3-pro-preview(high):generateContent", json=body)
        assert resp.status == 200
        [(path, sent)] = up.requests
        assert path == "/v1beta/models/gemini-3-pro-preview:generateContent"
        assert list(sent) == ["contents", "tools", "safetySettings", "generationConfig", "model"]
        assert sent["contents"] == [
            {"parts": [{"text": "hi"}], "role": "user"},
            {"role": "model", "parts": [{"functionCall": {"name": "f", "args": {}},
                                         "thoughtSignature": "skip_thought_signature_validator"}]},
            {"role": "user", "parts": [{"functionResponse": {"name": "f", "response": {}}}]}]
        assert sent["tools"] == [{"function_declarations": [{"name": "f", "parametersJsonSchema": {"type": "object"}}]}]
        assert sent["generationConfig"] == {"thinkingConfig": {"thinkingLevel": "high", "includeThoughts": True}}
        assert list(sent["generationConfig"]["thinkingConfig"]) == ["thinkingLevel", "includeThoughts"]
        assert sent["model"] == "gemini-3-pro-preview"
    finally:
        assert up.runner is not None
        await up.runner.cleanup()


async def test_e2e_gemini_cli_client_on_gemini_upstream(inference_client: Any, fake_llm: FakeLLM) -> None:
    config = f"gemini-api-key:\n  - api-key: g1\n    base-url: {fake_llm.root}\n"
    client = await inference_client(config, lookup_in(PAIRS))
    body = {"model": "gemini-2.5-pro", "project": "p", "request": GEMINI_BODY}
    resp = await client.post("/v1internal:streamGenerateContent?alt=sse", json=body)
    assert resp.status == 200
    lines = [line for line in (await resp.read()).split(b"\n\n") if line]
    assert all(line.startswith(b'data: {"response": {') for line in lines)
    text = "".join(orjson.loads(line[6:])["response"]["candidates"][0]["content"]["parts"][0]["text"]
                   for line in lines)
    assert text == ANSWER
    resp = await client.post("/v1internal:generateContent", json=body)
    assert resp.status == 200
    assert (await resp.json())["response"]["candidates"][0]["content"]["parts"] == [{"text": ANSWER}]


async def test_e2e_codex_and_claude_upstreams(inference_client: Any, fake_llm: FakeLLM) -> None:
    config = (f"codex-api-key:\n  - api-key: c1\n    base-url: {fake_llm.root}/v1\n"
              f"claude-api-key:\n  - api-key: k1\n    base-url: {fake_llm.root}\n")
    client = await inference_client(config, lookup_in(PAIRS))
    for model in ("gpt-5", "claude-sonnet-4-5-20250929"):
        resp = await client.post(f"/v1beta/models/{model}:generateContent", json=GEMINI_BODY)
        assert resp.status == 200, await resp.text()
        answer = await resp.json()
        assert answer["candidates"][0]["content"]["parts"] == [{"text": ANSWER}]
        assert answer["candidates"][0]["finishReason"] == "STOP"
        resp = await client.post(f"/v1beta/models/{model}:streamGenerateContent?alt=sse", json=GEMINI_BODY)
        assert resp.status == 200
        chunks = [orjson.loads(line[6:]) for line in (await resp.read()).split(b"\n\n") if line]
        parts = [p for c in chunks for p in c["candidates"][0]["content"]["parts"]]
        assert "".join(p["text"] for p in parts) == ANSWER
        assert chunks[-1]["usageMetadata"]["promptTokenCount"] == USAGE["input"]
    paths = [r.path for r in fake_llm.requests]
    assert paths == ["/v1/responses", "/v1/responses", "/v1/messages", "/v1/messages"]
    assert all(r.body["stream"] is True for r in fake_llm.requests)  # both always streamed upstream


@pytest.mark.parametrize("upstream", [Format.GEMINI_CLI, Format.ANTIGRAVITY])
def test_gemini_cli_client_envelope_passes_through(upstream: Format) -> None:
    envelope = {"model": "gemini-2.5-pro", "project": "p-1",
                "request": {"contents": [{"role": "user", "parts": [{"text": "hi"}]}]}}
    translation = PAIRS[(Format.GEMINI_CLI, upstream)](
        TranslateInput(body=envelope, model="gemini-2.5-pro", client_model="gemini-2.5-pro", stream=True))
    assert translation.upstream_body == envelope and translation.upstream_body is not envelope
    assert translation.upstream_stream is True
    chunk = '{"response":{"candidates":[{"content":{"role":"model","parts":[{"text":"Hi"}]}}]}}'
    stream = translation.stream()
    assert stream.feed(StreamEvent("", chunk, orjson.loads(chunk))) == [b"data: " + chunk.encode() + b"\n\n"]
    assert stream.feed(StreamEvent("", "[DONE]", None)) == []
    assert stream.close() == []
    assert translation.response(chunk.encode()) == chunk.encode()
    raw = PAIRS[(Format.GEMINI_CLI, upstream)](TranslateInput(body=envelope, model="m", client_model="m",
                                                             stream=True, alt="json")).stream()
    assert raw.feed(b'[{"response":{}}') == [b'[{"response":{}}']


async def test_e2e_gemini_cli_client_non_stream_on_claude_upstream(inference_client: Any, fake_llm: FakeLLM) -> None:
    # The Claude stream is folded from the payloads the executor decoded, then wrapped in the envelope.
    config = f"claude-api-key:\n  - api-key: k1\n    base-url: {fake_llm.root}\n"
    client = await inference_client(config, default_pairs())
    body = {"model": "claude-sonnet-4-5-20250929", "project": "p", "request": GEMINI_BODY}
    resp = await client.post("/v1internal:generateContent", json=body)
    assert resp.status == 200, await resp.text()
    answer = (await resp.json())["response"]
    assert answer["candidates"][0]["content"]["parts"] == [{"text": ANSWER}]
    assert answer["candidates"][0]["finishReason"] == "STOP"
    assert fake_llm.requests[0].path == "/v1/messages" and fake_llm.requests[0].body["stream"] is True
