"""The request features of the OpenAI SDK (chat completions and Responses), through the gateway to
each API-key upstream kind: the exact upstream body.

Facts: the legacy request translators for an OpenAI client, internal/translator/claude/openai/,
codex/openai/, gemini/openai/ and openai/openai/ (chat-completions and responses), then the
executors' own edits: claude_executor.go (cloaking, ``disableThinkingIfToolChoiceForced``),
codex_executor.go (``stream`` forced, ``previous_response_id`` deleted, ``cacheHelper``'s
``prompt_cache_key``), gemini_executor.go (``model`` written last). Deviations pinned here are
docs/compatibility.md rows 16, 17, 18, 19b and 19k.
"""

from __future__ import annotations

import copy
import re
from dataclasses import dataclass
from typing import Any

import pytest

from tests.fakes.llm_upstream import FakeLLM, Recorded
from tests.handlers.inference.conftest import MakeClient
from tests.handlers.inference.test_agent_shapes import CLIENT_MODELS, CLOAK_LINE, MODELS, SAFETY, config

SCHEMA = {"type": "object", "properties": {"location": {"type": "string"}}, "required": ["location"],
          "additionalProperties": False}
GEMINI_SCHEMA = {**SCHEMA, "type": "OBJECT", "properties": {"location": {"type": "STRING"}}}
DATA_URL = "data:image/png;base64,iVBOR"
HTTP_URL = "https://example.com/a.png"
PDF_URL = "data:application/pdf;base64,JVBER"
ARGS = '{"location":"Paris"}'
SKIP_SIGNATURE = "skip_thought_signature_validator"

# Everything the chat API takes that an SDK user may set, on one conversation.
CHAT: dict[str, Any] = {
    "messages": [
        {"role": "developer", "content": "dev rules", "name": "dev"},
        {"role": "system", "content": [{"type": "text", "text": "sys rules"}], "name": "sysname"},
        {"role": "user", "name": "alice", "content": [
            {"type": "text", "text": "look"},
            {"type": "image_url", "image_url": {"url": DATA_URL, "detail": "high"}},
            {"type": "image_url", "image_url": {"url": HTTP_URL}},
            {"type": "input_audio", "input_audio": {"data": "UklGR", "format": "wav"}},
            {"type": "file", "file": {"file_data": PDF_URL, "filename": "a.pdf"}},
            {"type": "file", "file": {"file_id": "file-abc"}}]},
        {"role": "assistant", "content": None, "name": "bot", "tool_calls": [
            {"id": "call_1", "type": "function", "function": {"name": "get_weather", "arguments": ARGS}}]},
        {"role": "tool", "tool_call_id": "call_1", "content": "sunny"},
        {"role": "assistant", "content": "ok"},
        {"role": "user", "content": "thanks"}],
    "tools": [{"type": "function", "function": {"name": "get_weather", "description": "weather",
                                                "parameters": SCHEMA, "strict": True}}],
    "tool_choice": "required", "parallel_tool_calls": False,
    "response_format": {"type": "json_schema", "json_schema": {"name": "out", "strict": True, "schema": SCHEMA}},
    "max_completion_tokens": 100, "n": 1, "seed": 7, "logit_bias": {"50256": -100}, "logprobs": True,
    "top_logprobs": 2, "stop": ["END", "STOP"], "temperature": 0.5, "top_p": 0.9, "frequency_penalty": 0.1,
    "presence_penalty": 0.2, "user": "u1", "metadata": {"k": "v"}, "store": True, "service_tier": "auto",
    "reasoning_effort": "low",
}

RESPONSES: dict[str, Any] = {
    "instructions": "be nice",
    "input": [
        {"type": "message", "role": "developer", "content": "dev rules"},
        {"role": "system", "content": [{"type": "input_text", "text": "sys rules"}]},
        {"type": "message", "role": "user", "content": [
            {"type": "input_text", "text": "look"},
            {"type": "input_image", "image_url": DATA_URL, "detail": "high"},
            {"type": "input_image", "image_url": HTTP_URL},
            {"type": "input_file", "file_data": PDF_URL, "filename": "a.pdf"},
            {"type": "input_file", "file_id": "file-abc"}]},
        {"type": "function_call", "call_id": "call_1", "name": "get_weather", "arguments": ARGS},
        {"type": "function_call_output", "call_id": "call_1", "output": "sunny"},
        {"role": "assistant", "content": [{"type": "output_text", "text": "ok"}]},
        {"role": "user", "content": "thanks"}],
    "tools": [{"type": "function", "name": "get_weather", "description": "weather", "parameters": SCHEMA,
               "strict": True}],
    "tool_choice": "required", "parallel_tool_calls": False,
    "text": {"format": {"type": "json_schema", "name": "out", "strict": True, "schema": SCHEMA}},
    "max_output_tokens": 100, "temperature": 0.5, "top_p": 0.9, "user": "u1", "metadata": {"k": "v"},
    "store": True, "service_tier": "auto", "reasoning": {"effort": "low", "summary": "auto"},
    "previous_response_id": "resp_1", "truncation": "auto", "top_logprobs": 2,
}

CLAUDE_TOOLS = [{"name": "get_weather", "description": "weather", "input_schema": SCHEMA}]
CODEX_TOOLS = [{"type": "function", "name": "get_weather", "description": "weather", "parameters": SCHEMA,
                "strict": True}]
CODEX_TEXT = {"format": {"type": "json_schema", "name": "out", "strict": True, "schema": SCHEMA}}
CHAT_TOOLS_UP = [{"type": "function", "function": {"name": "get_weather", "description": "weather",
                                                    "parameters": SCHEMA}}]
TOOL_USE = {"type": "tool_use", "id": "call_1", "name": "get_weather", "input": {"location": "Paris"}}
TOOL_RESULT = {"type": "tool_result", "tool_use_id": "call_1", "content": "sunny"}
CLAUDE_IMAGE = {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": "iVBOR"}}


@dataclass
class Chain:
    client: Any
    fake: FakeLLM


async def send(chain: Chain, path: str, base: dict[str, Any], kind: str, stream: bool,
               **over: Any) -> Recorded:
    body = {**copy.deepcopy(base), "model": CLIENT_MODELS[kind], "stream": stream}
    for key, value in over.items():
        if value is None:
            body.pop(key, None)
        else:
            body[key] = value
    resp = await chain.client.post(path, json=body)
    await resp.read()
    assert resp.status == 200
    return chain.fake.requests[-1]


@pytest.fixture
async def chain(gateway: MakeClient, fake_llm: FakeLLM) -> Chain:
    return Chain(await gateway(config(fake_llm.root)), fake_llm)


def claude_body(seen: Recorded) -> dict[str, Any]:
    # Cloaking replaces the user id with a fresh fake one (compatibility.md, "Golden case 1").
    user_id = seen.body["metadata"].pop("user_id")
    assert re.fullmatch(r"user_[0-9a-f]{64}_account__session_[0-9a-f-]{36}", user_id)
    assert (seen.path, seen.query) == ("/v1/messages", {"beta": "true"})
    return seen.body  # type: ignore[no-any-return]


def assert_gemini_call(seen: Recorded, stream: bool) -> None:
    action = "streamGenerateContent" if stream else "generateContent"
    assert seen.path == f"/v1beta/models/{MODELS['gemini']}:{action}"
    assert seen.query == ({"alt": "sse"} if stream else {})


# --- chat completions ---------------------------------------------------------------------------


@pytest.mark.parametrize("stream", [False, True])
async def test_chat_features_to_claude(chain: Chain, stream: bool) -> None:
    # claude_openai_request.go: developer messages, http images, audio and file parts, n, seed,
    # logit_bias, logprobs, penalties, response_format, parallel_tool_calls, user, metadata, store,
    # service_tier and max_completion_tokens are not read (max_tokens stays 32000); each system
    # message is a user turn; strict is not copied; required -> any, which drops the thinking
    # reasoning_effort asked for (claude_executor.go:531-538); the upstream call always streams.
    seen = await send(chain, "/v1/chat/completions", CHAT, "claude", stream)
    body = claude_body(seen)
    assert body == {
        "model": MODELS["claude"], "max_tokens": 32000,
        "messages": [{"role": "user", "content": [{"type": "text", "text": "sys rules"}]},
                     {"role": "user", "content": [{"type": "text", "text": "look"}, CLAUDE_IMAGE]},
                     {"role": "assistant", "content": [TOOL_USE]},
                     {"role": "user", "content": [TOOL_RESULT]},
                     {"role": "assistant", "content": [{"type": "text", "text": "ok"}]},
                     {"role": "user", "content": [{"type": "text", "text": "thanks"}]}],
        "metadata": {}, "temperature": 0.5, "top_p": 0.9, "stop_sequences": ["END", "STOP"], "stream": True,
        "tools": CLAUDE_TOOLS, "tool_choice": {"type": "any"}, "system": [CLOAK_LINE]}
    assert list(body) == ["model", "max_tokens", "messages", "metadata", "temperature", "top_p", "stop_sequences",
                          "stream", "tools", "tool_choice", "system"]


@pytest.mark.parametrize("stream", [False, True])
async def test_chat_features_to_codex(chain: Chain, stream: bool) -> None:
    # codex_openai_request.go: system -> developer, developer kept; user images (data and http)
    # as input_image without detail, audio and file parts dropped; an assistant turn with only
    # tool calls leaves an empty message before its function_call items; json_schema -> text.format;
    # strict kept on the tool; parallel_tool_calls forced true, store false; no sampling, token
    # limit, stop, user or metadata field goes.
    seen = await send(chain, "/v1/chat/completions", CHAT, "codex", stream)
    assert seen.path == "/v1/responses"
    assert seen.body == {
        "instructions": "", "stream": True, "reasoning": {"effort": "low", "summary": "auto"},
        "parallel_tool_calls": True, "include": ["reasoning.encrypted_content"], "model": MODELS["codex"],
        "input": [
            {"type": "message", "role": "developer", "content": [{"type": "input_text", "text": "dev rules"}]},
            {"type": "message", "role": "developer", "content": [{"type": "input_text", "text": "sys rules"}]},
            {"type": "message", "role": "user", "content": [
                {"type": "input_text", "text": "look"}, {"type": "input_image", "image_url": DATA_URL},
                {"type": "input_image", "image_url": HTTP_URL}]},
            {"type": "message", "role": "assistant", "content": []},
            {"type": "function_call", "call_id": "call_1", "name": "get_weather", "arguments": ARGS},
            {"type": "function_call_output", "call_id": "call_1", "output": "sunny"},
            {"type": "message", "role": "assistant", "content": [{"type": "output_text", "text": "ok"}]},
            {"type": "message", "role": "user", "content": [{"type": "input_text", "text": "thanks"}]}],
        "text": CODEX_TEXT, "tools": CODEX_TOOLS, "tool_choice": "required", "store": False, "prompt_cache_key": ""}


@pytest.mark.parametrize("stream", [False, True])
async def test_chat_features_to_gemini(chain: Chain, stream: bool) -> None:
    # gemini_openai_request.go: system and developer texts -> system_instruction; a data-URL image
    # and a named file -> inlineData (the file keeps its whole data URL as data, mime from the
    # extension), the http image, the audio and the file without a name dropped; the tool answer's
    # raw JSON as result; strict deleted; effort low -> level -> 1024 on gemini-2.5-pro. No
    # tool_choice, token limit, stop, seed, penalty or response_format mapping exists.
    seen = await send(chain, "/v1/chat/completions", CHAT, "gemini", stream)
    assert_gemini_call(seen, stream)
    assert seen.body == {
        "contents": [
            {"role": "user", "parts": [
                {"text": "look"},
                {"inlineData": {"mime_type": "image/png", "data": "iVBOR"}, "thoughtSignature": SKIP_SIGNATURE},
                {"inlineData": {"mime_type": "application/pdf", "data": PDF_URL}}]},
            {"role": "model", "parts": [{"functionCall": {"name": "get_weather", "args": {"location": "Paris"}},
                                         "thoughtSignature": SKIP_SIGNATURE}]},
            {"role": "user", "parts": [{"functionResponse": {"name": "get_weather",
                                                             "response": {"result": '"sunny"'}}}]},
            {"role": "model", "parts": [{"text": "ok"}]},
            {"role": "user", "parts": [{"text": "thanks"}]}],
        "model": MODELS["gemini"],
        "generationConfig": {"thinkingConfig": {"includeThoughts": True, "thinkingBudget": 1024},
                             "temperature": 0.5, "topP": 0.9},
        "system_instruction": {"role": "user", "parts": [{"text": "dev rules"}, {"text": "sys rules"}]},
        "tools": [{"functionDeclarations": [{"name": "get_weather", "description": "weather",
                                             "parametersJsonSchema": SCHEMA}]}],
        "safetySettings": SAFETY}


@pytest.mark.parametrize("stream", [False, True])
async def test_chat_features_to_openai_compatible(chain: Chain, stream: bool) -> None:
    # openai_openai_request.go: the body goes as sent, only model replaced (stream_options with it).
    extra = {"stream_options": {"include_usage": True}} if stream else {}
    seen = await send(chain, "/v1/chat/completions", CHAT, "openai", stream, **extra)
    assert seen.path == "/v1/chat/completions"
    assert seen.body == {**CHAT, "model": "fake-chat-model", "stream": stream, **extra}


# Variants of CHAT, and the fields outside the conversation each upstream then receives.
CHAT_VARIANTS: dict[str, dict[str, Any]] = {
    "auto": {"tool_choice": "auto", "response_format": {"type": "json_object"}, "max_completion_tokens": None,
             "max_tokens": 50, "stop": "END", "n": 2, "reasoning_effort": None},
    "none": {"tool_choice": "none", "reasoning_effort": None},
    "named": {"tool_choice": {"type": "function", "function": {"name": "get_weather"}}, "reasoning_effort": None},
}
CONVERSATION = ("messages", "input", "contents", "system", "system_instruction", "safetySettings", "metadata",
                "tools", "model", "include", "prompt_cache_key", "instructions", "store")
CLAUDE_REST = {"temperature": 0.5, "top_p": 0.9, "stream": True}
CODEX_REST = {"stream": True, "reasoning": {"effort": "medium", "summary": "auto"}, "parallel_tool_calls": True}
GEMINI_SAMPLING = {"temperature": 0.5, "topP": 0.9}
CHAT_EXPECTED: dict[tuple[str, str], dict[str, Any]] = {
    ("claude", "auto"): {"max_tokens": 50, **CLAUDE_REST, "stop_sequences": ["END"], "tool_choice": {"type": "auto"}},
    ("claude", "none"): {"max_tokens": 32000, **CLAUDE_REST, "stop_sequences": ["END", "STOP"]},
    ("claude", "named"): {"max_tokens": 32000, **CLAUDE_REST, "stop_sequences": ["END", "STOP"],
                          "tool_choice": {"type": "tool", "name": "get_weather"}},
    # json_object has no Responses mapping, but any response_format creates the text object.
    ("codex", "auto"): {**CODEX_REST, "text": {}, "tool_choice": "auto"},
    ("codex", "none"): {**CODEX_REST, "text": CODEX_TEXT, "tool_choice": "none"},
    ("codex", "named"): {**CODEX_REST, "text": CODEX_TEXT, "tool_choice": {"type": "function", "name": "get_weather"}},
    # n > 1 is the one variant field Gemini reads; tool_choice "none" still declares the tools.
    ("gemini", "auto"): {"generationConfig": {**GEMINI_SAMPLING, "candidateCount": 2}},
    ("gemini", "none"): {"generationConfig": GEMINI_SAMPLING},
    ("gemini", "named"): {"generationConfig": GEMINI_SAMPLING},
}


@pytest.mark.parametrize("variant", list(CHAT_VARIANTS))
@pytest.mark.parametrize("kind", ["claude", "codex", "gemini"])
async def test_chat_variants(chain: Chain, kind: str, variant: str) -> None:
    seen = await send(chain, "/v1/chat/completions", CHAT, kind, False, **CHAT_VARIANTS[variant])
    rest = {key: value for key, value in seen.body.items() if key not in CONVERSATION}
    assert rest == CHAT_EXPECTED[(kind, variant)]
    assert "toolConfig" not in seen.body


# --- Responses ----------------------------------------------------------------------------------


@pytest.mark.parametrize("stream", [False, True])
async def test_responses_features_to_claude(chain: Chain, stream: bool) -> None:
    # claude_openai-responses_request.go: instructions lead as a user turn, so the system item is
    # an ordinary message; each item's role comes from its parts (input_text user, output_text
    # assistant, anything else user); a lone text part becomes a string content; a data image
    # -> base64, an http one -> url source; files dropped; max_output_tokens -> max_tokens; no
    # temperature, top_p, text.format, parallel_tool_calls or strict; required -> any, which
    # drops the thinking the effort asked for.
    seen = await send(chain, "/v1/responses", RESPONSES, "claude", stream)
    body = claude_body(seen)
    assert body == {
        "model": MODELS["claude"], "max_tokens": 100,
        "messages": [{"role": "user", "content": "be nice"},
                     {"role": "user", "content": "dev rules"},
                     {"role": "user", "content": "sys rules"},
                     {"role": "user", "content": [{"type": "text", "text": "look"}, CLAUDE_IMAGE,
                                                  {"type": "image", "source": {"type": "url", "url": HTTP_URL}}]},
                     {"role": "assistant", "content": [TOOL_USE]},
                     {"role": "user", "content": [TOOL_RESULT]},
                     {"role": "assistant", "content": "ok"},
                     {"role": "user", "content": "thanks"}],
        "metadata": {}, "stream": True, "tools": CLAUDE_TOOLS, "tool_choice": {"type": "any"}, "system": [CLOAK_LINE]}
    assert list(body) == ["model", "max_tokens", "messages", "metadata", "stream", "tools", "tool_choice", "system"]


@pytest.mark.parametrize("stream", [False, True])
async def test_responses_features_to_codex(chain: Chain, stream: bool) -> None:
    # codex_openai-responses_request.go: the body as sent, in its order, with stream, store and
    # parallel_tool_calls overwritten in place, include appended, token limits, temperature, top_p
    # and service_tier deleted; the executor deletes previous_response_id and appends an empty
    # prompt_cache_key (no client key). user, metadata, truncation, text and top_logprobs stay.
    seen = await send(chain, "/v1/responses", RESPONSES, "codex", stream)
    assert seen.path == "/v1/responses"
    dropped = ("max_output_tokens", "temperature", "top_p", "service_tier", "previous_response_id")
    expected = {key: value for key, value in RESPONSES.items() if key not in dropped}
    expected.update(parallel_tool_calls=True, store=False, model=MODELS["codex"], stream=True,
                    include=["reasoning.encrypted_content"], prompt_cache_key="")
    assert seen.body == expected
    assert list(seen.body) == list(expected)


@pytest.mark.parametrize("stream", [False, True])
async def test_responses_features_to_gemini(chain: Chain, stream: bool) -> None:
    # gemini_openai-responses_request.go: the data image as inline_data, the http one and the
    # files dropped; the call keeps its id and the skip signature, its output goes back as role
    # "function"; tool property types upper-cased, strict not copied; max_output_tokens,
    # temperature and top_p in generationConfig, then the effort (low -> 1024). The developer
    # and system items join instructions in system_instruction (row 19b).
    seen = await send(chain, "/v1/responses", RESPONSES, "gemini", stream)
    assert_gemini_call(seen, stream)
    assert seen.body == {
        "contents": [
            {"role": "user", "parts": [{"text": "look"},
                                       {"inline_data": {"mime_type": "image/png", "data": "iVBOR"}}]},
            {"role": "model", "parts": [{"functionCall": {"name": "get_weather", "args": {"location": "Paris"},
                                                          "id": "call_1"}, "thoughtSignature": SKIP_SIGNATURE}]},
            {"role": "function", "parts": [{"functionResponse": {"name": "get_weather",
                                                                 "response": {"result": "sunny"}, "id": "call_1"}}]},
            {"role": "model", "parts": [{"text": "ok"}]},
            {"role": "user", "parts": [{"text": "thanks"}]}],
        "system_instruction": {"parts": [{"text": "be nice"}, {"text": "dev rules"}, {"text": "sys rules"}]},
        "tools": [{"functionDeclarations": [{"name": "get_weather", "description": "weather",
                                             "parametersJsonSchema": GEMINI_SCHEMA}]}],
        "generationConfig": {"maxOutputTokens": 100, "temperature": 0.5, "topP": 0.9,
                             "thinkingConfig": {"includeThoughts": True, "thinkingBudget": 1024}},
        "safetySettings": SAFETY, "model": MODELS["gemini"]}


@pytest.mark.parametrize("stream", [False, True])
async def test_responses_features_to_openai_compatible(chain: Chain, stream: bool) -> None:
    # openai_openai-responses_request.go: instructions -> a system message, items keep their role,
    # only text parts are read (images and files dropped); max_output_tokens -> max_tokens,
    # parallel_tool_calls and the effort kept; no temperature, top_p, text.format, user, metadata,
    # store, service_tier, truncation or previous_response_id; strict not copied.
    seen = await send(chain, "/v1/responses", RESPONSES, "openai", stream)
    assert seen.path == "/v1/chat/completions"
    assert seen.body == {
        "model": "fake-chat-model",
        "messages": [{"role": "system", "content": "be nice"},
                     {"role": "developer", "content": "dev rules"},
                     {"role": "system", "content": "sys rules"},
                     {"role": "user", "content": "look"},
                     {"role": "assistant", "tool_calls": [{"id": "call_1", "type": "function", "function": {
                         "name": "get_weather", "arguments": ARGS}}]},
                     {"role": "tool", "tool_call_id": "call_1", "content": "sunny"},
                     {"role": "assistant", "content": "ok"},
                     {"role": "user", "content": "thanks"}],
        "stream": stream, "max_tokens": 100, "parallel_tool_calls": False, "tools": CHAT_TOOLS_UP,
        "reasoning_effort": "low", "tool_choice": "required"}


RESPONSES_VARIANTS: dict[str, dict[str, Any]] = {
    "string": {"input": "hello there", "tool_choice": "auto", "text": {"format": {"type": "json_object"}},
               "reasoning": None},
    "none": {"tool_choice": "none", "reasoning": None},
    "named": {"tool_choice": {"type": "function", "name": "get_weather"}, "reasoning": None},
}
RESPONSES_EXPECTED: dict[tuple[str, str], Any] = {
    # A string input is one user turn for every upstream (row 19k for Claude).
    ("claude", "string"): ([{"role": "user", "content": "be nice"}, {"role": "user", "content": "hello there"}],
                           {"type": "auto"}),
    ("codex", "string"): ([{"type": "message", "role": "user",
                            "content": [{"type": "input_text", "text": "hello there"}]}], "auto"),
    ("gemini", "string"): ([{"role": "user", "parts": [{"text": "hello there"}]}], None),
    ("openai", "string"): ([{"role": "system", "content": "be nice"}, {"role": "user", "content": "hello there"}],
                           "auto"),
    ("claude", "none"): None, ("codex", "none"): "none", ("gemini", "none"): None, ("openai", "none"): "none",
    # The Responses shape of a named function: rows 16 (Claude) and 18 (chat upstreams).
    ("claude", "named"): {"name": "get_weather", "type": "tool"},
    ("codex", "named"): {"type": "function", "name": "get_weather"},
    ("gemini", "named"): None,
    ("openai", "named"): {"type": "function", "function": {"name": "get_weather"}},
}


@pytest.mark.parametrize("variant", list(RESPONSES_VARIANTS))
@pytest.mark.parametrize("kind", ["claude", "codex", "gemini", "openai"])
async def test_responses_variants(chain: Chain, kind: str, variant: str) -> None:
    seen = await send(chain, "/v1/responses", RESPONSES, kind, False, **RESPONSES_VARIANTS[variant])
    expected = RESPONSES_EXPECTED[(kind, variant)]
    if variant == "string":
        conversation, expected = expected
        key = {"claude": "messages", "codex": "input", "gemini": "contents", "openai": "messages"}[kind]
        assert seen.body[key] == conversation
        if kind == "codex":
            # text passes through as sent on Codex; the other translators have no text.format mapping.
            assert seen.body["text"] == {"format": {"type": "json_object"}}
    assert seen.body.get("tool_choice") == expected
    assert "toolConfig" not in seen.body and "thinking" not in seen.body and "reasoning_effort" not in seen.body


TYPELESS_TOOL = {"name": "get_weather", "description": "weather", "parameters": SCHEMA}
TYPELESS_EXPECTED: dict[str, Any] = {
    # claude_openai-responses_request.go:290-313 reads every tool's name, description and parameters.
    "claude": (CLAUDE_TOOLS, {"type": "any"}),
    # The Codex translator passes tools through as sent.
    "codex": ([TYPELESS_TOOL], "required"),
    # gemini_openai-responses_request.go:315 declares only type "function".
    "gemini": (None, None),
    # openai_openai-responses_request.go:168-169 converts a tool without a type as a function.
    "openai": (CHAT_TOOLS_UP, "required"),
}


@pytest.mark.parametrize("kind", ["claude", "codex", "gemini", "openai"])
async def test_responses_tool_without_type(chain: Chain, kind: str) -> None:
    seen = await send(chain, "/v1/responses", RESPONSES, kind, False, tools=[TYPELESS_TOOL], reasoning=None)
    tools, choice = TYPELESS_EXPECTED[kind]
    assert seen.body.get("tools") == tools
    assert seen.body.get("tool_choice") == choice
    if kind == "gemini":
        assert "toolConfig" not in seen.body
