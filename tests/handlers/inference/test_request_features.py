"""The request features an anthropic-SDK or google-genai client may send, through the gateway to
every API-key upstream kind, stream and not: the exact upstream request.

One feature-rich body per client protocol, checked against the legacy translators at 9b72ea9ef
(``gemini/claude``, ``codex/claude``, ``openai/claude``, the Claude executor; ``claude/gemini``,
``codex/gemini``, ``openai/gemini``, ``gemini/gemini``). Where the expected body follows a
documented deviation, the row of docs/compatibility.md is named beside it.
"""

from __future__ import annotations

import copy
import json
import re
from typing import Any

import pytest

from tests.fakes.llm_upstream import FakeLLM, Recorded
from tests.handlers.inference.conftest import MakeClient
from tests.handlers.inference.test_agent_shapes import CLIENT_MODELS, CLOAK_LINE, MODELS, SAFETY, config

FAKE_USER_ID = re.compile(r"^user_[0-9a-f]{64}_account__session_[0-9a-f]{8}(-[0-9a-f]{4}){3}-[0-9a-f]{12}$")
SIP = "skip_thought_signature_validator"
# Both clients' two system texts, as an OpenAI-compatible upstream gets them.
CHAT_SYSTEM = {"role": "system",
               "content": [{"type": "text", "text": "Be brief."}, {"type": "text", "text": "Use tools."}]}


def compact(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"))


def gemini_path(model: str, stream: bool) -> tuple[str, dict[str, str]]:
    if stream:
        return f"/v1beta/models/{model}:streamGenerateContent", {"alt": "sse"}
    return f"/v1beta/models/{model}:generateContent", {}


def minted(seen: Recorded, pattern: str, *paths: tuple[Any, ...]) -> None:
    """Replace the ids the translator mints at ``paths`` by ``"<id>"``, after checking they are one
    id of the expected form: a call and the result paired with it must carry the same one."""
    found = set()
    for path in paths:
        node = seen.body
        for key in path[:-1]:
            node = node[key]
        found.add(node[path[-1]])
        node[path[-1]] = "<id>"
    assert len(found) == 1
    assert re.fullmatch(pattern, found.pop())


# --- anthropic SDK ------------------------------------------------------------------------------

WEATHER_SCHEMA = {"type": "object", "properties": {"city": {"type": "string", "description": "City name"}},
                  "required": ["city"]}
RESULT_BLOCKS = [{"type": "text", "text": "timeout"}]
CLAUDE_BODY: dict[str, Any] = {
    "max_tokens": 4096,
    "system": [{"type": "text", "text": "Be brief.", "cache_control": {"type": "ephemeral"}},
               {"type": "text", "text": "Use tools."}],
    "stop_sequences": ["END", "STOP"], "temperature": 0.5, "top_p": 0.9, "top_k": 40,
    "metadata": {"user_id": "user-1"},
    "tool_choice": {"type": "auto", "disable_parallel_tool_use": True},
    "tools": [{"name": "get_weather", "description": "Weather for a city", "input_schema": WEATHER_SCHEMA,
               "cache_control": {"type": "ephemeral"}},
              {"type": "web_search_20250305", "name": "web_search", "max_uses": 3}],
    "thinking": {"type": "enabled", "budget_tokens": 2048},
    "messages": [
        {"role": "user", "content": [
            {"type": "text", "text": "Compare these"}, {"type": "text", "text": ""},
            {"type": "document", "source": {"type": "base64", "media_type": "application/pdf", "data": "JVBERi0x"}},
            {"type": "document", "source": {"type": "text", "media_type": "text/plain", "data": "notes"},
             "title": "Notes"},
            {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": "iVBOR"}},
            {"type": "image", "source": {"type": "url", "url": "https://example.com/cat.png"}}]},
        {"role": "user", "content": "And this too"},
        {"role": "assistant", "content": [
            {"type": "thinking", "thinking": "Let me look.", "signature": "sig-1"},
            {"type": "redacted_thinking", "data": "opaque"},
            {"type": "text", "text": "Checking."},
            {"type": "tool_use", "id": "toolu_01", "name": "get_weather", "input": {"city": "Paris"}}]},
        {"role": "user", "content": [
            {"type": "tool_result", "tool_use_id": "toolu_01", "is_error": True, "content": RESULT_BLOCKS},
            {"type": "text", "text": "Try again"}]}],
}
# The anthropic SDK's own User-Agent: not Claude Code, so a Claude upstream cloaks (claude_executor.go:936).
ANTHROPIC_HEADERS = {"x-api-key": "client-key", "anthropic-version": "2023-06-01",
                     "User-Agent": "Anthropic/Python 0.75.0"}


def claude_expected(kind: str, stream: bool) -> tuple[str, dict[str, str], dict[str, Any]]:
    if kind == "claude":
        # Same protocol: sent as written (documents, cache_control, redacted thinking, the server
        # tool), cloaked: the Claude Code line leads the system blocks and the user id is replaced.
        body = {**copy.deepcopy(CLAUDE_BODY), "model": MODELS["claude"], "stream": stream,
                "system": [CLOAK_LINE, *CLAUDE_BODY["system"]], "metadata": {"user_id": "<id>"}}
        return "/v1/messages", {"beta": "true"}, body
    if kind == "gemini":
        # gemini_claude_request.go: text, tool use and results only (thinking, documents, the URL
        # image dropped; the base64 image as inlineData, row 19t), the result named after its id
        # and holding the raw JSON of its content; tool_choice, stop_sequences, max_tokens and
        # metadata have no mapping; the server tool has no input_schema and is left out.
        path, query = gemini_path(MODELS["gemini"], stream)
        return path, query, {
            "contents": [
                {"role": "user", "parts": [{"text": "Compare these"}, {"text": ""},
                                           {"inlineData": {"mime_type": "image/png", "data": "iVBOR"}}]},
                {"role": "user", "parts": [{"text": "And this too"}]},
                {"role": "model", "parts": [{"text": "Checking."},
                                            {"thoughtSignature": SIP, "functionCall": {"name": "get_weather",
                                                                                       "args": {"city": "Paris"}}}]},
                {"role": "user", "parts": [{"functionResponse": {"name": "toolu_01",
                                                                 "response": {"result": compact(RESULT_BLOCKS)}}},
                                           {"text": "Try again"}]}],
            "model": MODELS["gemini"],
            "system_instruction": {"role": "user", "parts": [{"text": "Be brief."}, {"text": "Use tools."}]},
            "tools": [{"functionDeclarations": [{"name": "get_weather", "description": "Weather for a city",
                                                 "parametersJsonSchema": WEATHER_SCHEMA}]}],
            "generationConfig": {"thinkingConfig": {"thinkingBudget": 2048, "includeThoughts": True},
                                 "temperature": 0.5, "topP": 0.9, "topK": 40},
            "safetySettings": SAFETY}
    if kind == "codex":
        # codex_claude_request.go: the tool keeps its other keys (cache_control), the server tool
        # becomes web_search, tool_choice is always "auto", sampling fields have no mapping, the
        # image by URL has no data and is dropped; budget 2048 is "medium".
        return "/v1/responses", {}, {
            "model": MODELS["codex"], "instructions": "",
            "input": [
                {"type": "message", "role": "developer", "content": [{"type": "input_text", "text": "Be brief."},
                                                                     {"type": "input_text", "text": "Use tools."}]},
                {"type": "message", "role": "user", "content": [
                    {"type": "input_text", "text": "Compare these"}, {"type": "input_text", "text": ""},
                    {"type": "input_image", "image_url": "data:image/png;base64,iVBOR"}]},
                {"type": "message", "role": "user", "content": [{"type": "input_text", "text": "And this too"}]},
                {"type": "message", "role": "assistant", "content": [{"type": "output_text", "text": "Checking."}]},
                {"type": "function_call", "call_id": "toolu_01", "name": "get_weather",
                 "arguments": compact({"city": "Paris"})},
                {"type": "function_call_output", "call_id": "toolu_01", "output": compact(RESULT_BLOCKS)},
                {"type": "message", "role": "user", "content": [{"type": "input_text", "text": "Try again"}]}],
            "tools": [{"name": "get_weather", "description": "Weather for a city",
                       "cache_control": {"type": "ephemeral"}, "type": "function", "parameters": WEATHER_SCHEMA,
                       "strict": False},
                      {"type": "web_search"}],
            "tool_choice": "auto", "parallel_tool_calls": True, "reasoning": {"effort": "medium", "summary": "auto"},
            "stream": True, "store": False, "include": ["reasoning.encrypted_content"], "prompt_cache_key": "<id>"}
    # openai_claude_request.go: temperature wins over top_p, top_k and metadata have no mapping,
    # blank text and documents are dropped, both images become image_url parts, the thinking block
    # becomes reasoning_content (redacted thinking never does), the tool result goes first with
    # its texts, and the server tool is a function without a description.
    return "/v1/chat/completions", {}, {
        "model": "fake-chat-model",
        "messages": [
            CHAT_SYSTEM,
            {"role": "user", "content": [{"type": "text", "text": "Compare these"},
                                         {"type": "image_url", "image_url": {"url": "data:image/png;base64,iVBOR"}},
                                         {"type": "image_url", "image_url": {"url": "https://example.com/cat.png"}}]},
            {"role": "user", "content": "And this too"},
            {"role": "assistant", "content": [{"type": "text", "text": "Checking."}],
             "reasoning_content": "Let me look.", "tool_calls": [{"id": "toolu_01", "type": "function",
                             "function": {"name": "get_weather", "arguments": compact({"city": "Paris"})}}]},
            {"role": "tool", "tool_call_id": "toolu_01", "content": "timeout"},
            {"role": "user", "content": [{"type": "text", "text": "Try again"}]}],
        "max_tokens": 4096, "temperature": 0.5, "stop": ["END", "STOP"], "stream": stream,
        "reasoning_effort": "medium",
        "tools": [{"type": "function", "function": {"name": "get_weather", "description": "Weather for a city",
                                                    "parameters": WEATHER_SCHEMA}},
                  {"type": "function", "function": {"name": "web_search", "description": ""}}],
        "tool_choice": "auto"}


@pytest.mark.parametrize("stream", [False, True], ids=["non-stream", "stream"])
@pytest.mark.parametrize("kind", ["claude", "gemini", "codex", "openai"])
async def test_anthropic_request_features(gateway: MakeClient, fake_llm: FakeLLM, kind: str, stream: bool) -> None:
    client = await gateway(config(fake_llm.root))
    body = {**copy.deepcopy(CLAUDE_BODY), "model": CLIENT_MODELS[kind], "stream": stream}
    resp = await client.post("/v1/messages", json=body, headers=ANTHROPIC_HEADERS, skip_auto_headers=("User-Agent",))
    assert resp.status == 200
    await resp.read()
    seen = fake_llm.requests[-1]
    if kind == "claude":
        minted(seen, FAKE_USER_ID.pattern, ("metadata", "user_id"))
    elif kind == "codex":
        # One cache id per model and metadata.user_id (codex_executor.go:509-531).
        minted(seen, r"[0-9a-f]{8}(-[0-9a-f]{4}){3}-[0-9a-f]{12}", ("prompt_cache_key",))
    path, query, expected = claude_expected(kind, stream)
    assert (seen.path, seen.query) == (path, query)
    assert seen.body == expected


# --- google-genai -------------------------------------------------------------------------------

GENAI_SCHEMA = {"type": "OBJECT", "properties": {"city": {"type": "STRING"}}, "required": ["city"]}
GENAI_BODY: dict[str, Any] = {
    "contents": [
        {"role": "user", "parts": [{"text": "Compare these"},
                                   {"inlineData": {"mimeType": "image/png", "data": "iVBOR"}},
                                   {"fileData": {"mimeType": "application/pdf", "fileUri": "gs://bucket/report.pdf"}}]},
        {"role": "model", "parts": [{"text": "Let me look.", "thought": True}, {"text": "Checking."},
                                    {"functionCall": {"name": "get_weather", "args": {"city": "Paris"}},
                                     "thoughtSignature": "c2ln"}]},
        {"role": "user",
         "parts": [{"functionResponse": {"name": "get_weather", "response": {"result": {"temp": 20}}}}]},
        {"role": "user", "parts": [{"text": "Try again"}]}],
    "systemInstruction": {"role": "user", "parts": [{"text": "Be brief."}, {"text": "Use tools."}]},
    "generationConfig": {"temperature": 0.5, "topP": 0.9, "topK": 40.0, "maxOutputTokens": 4096,
                         "stopSequences": ["END"], "candidateCount": 1, "responseMimeType": "application/json",
                         "responseSchema": {"type": "OBJECT", "properties": {"answer": {"type": "STRING"}}},
                         "thinkingConfig": {"includeThoughts": True, "thinkingBudget": 2048}},
    "safetySettings": [{"category": "HARM_CATEGORY_HARASSMENT", "threshold": "BLOCK_ONLY_HIGH"}],
    "tools": [{"functionDeclarations": [{"name": "get_weather", "description": "Weather for a city",
                                         "parameters": GENAI_SCHEMA}]},
              {"googleSearch": {}}, {"codeExecution": {}}],
    "toolConfig": {"functionCallingConfig": {"mode": "ANY", "allowedFunctionNames": ["get_weather"]}},
    "cachedContent": "cachedContents/abc",
    "labels": {"team": "qa"},
}


def genai_expected(kind: str, stream: bool) -> tuple[str, dict[str, str], dict[str, Any]]:
    if kind == "gemini":
        # gemini_gemini_request.go: the body as sent but for the renamed declarations and schema
        # keys and the call's signature; the client's own safety settings stay.
        path, query = gemini_path(MODELS["gemini"], stream)
        body = copy.deepcopy(GENAI_BODY)
        body["contents"][1]["parts"][2]["thoughtSignature"] = SIP
        config_ = body["generationConfig"]
        config_["responseJsonSchema"] = config_.pop("responseSchema")
        body["tools"][0] = {"function_declarations": [{"name": "get_weather", "description": "Weather for a city",
                                                       "parametersJsonSchema": GENAI_SCHEMA}]}
        return path, query, {**body, "model": MODELS["gemini"]}
    if kind == "claude":
        # claude_gemini_request.go, read with both key spellings (rows 19a, 19f): the system text
        # as a leading user turn, the thought as plain text, the file as a text line, the result
        # as the JSON text of response.result; topK, candidateCount and the response schema have no
        # mapping. ANY forces a tool, so the executor drops thinking (claude_executor.go:531-538);
        # the request is cloaked and always streamed upstream.
        return "/v1/messages", {"beta": "true"}, {
            "model": MODELS["claude"], "max_tokens": 4096,
            "messages": [
                {"role": "user", "content": [{"type": "text", "text": "Be brief.\nUse tools."}]},
                {"role": "user", "content": [
                    {"type": "text", "text": "Compare these"},
                    {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": "iVBOR"}},
                    {"type": "text", "text": "File: gs://bucket/report.pdf (Type: application/pdf)"}]},
                {"role": "assistant", "content": [
                    {"type": "text", "text": "Let me look."}, {"type": "text", "text": "Checking."},
                    {"type": "tool_use", "id": "<id>", "name": "get_weather", "input": {"city": "Paris"}}]},
                {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "<id>",
                                              "content": compact({"temp": 20})}]},
                {"role": "user", "content": [{"type": "text", "text": "Try again"}]}],
            "metadata": {"user_id": "<id>"}, "temperature": 0.5, "top_p": 0.9, "stop_sequences": ["END"],
            "tools": [{"name": "get_weather", "description": "Weather for a city",
                       "input_schema": {"type": "object", "properties": {"city": {"type": "string"}},
                                        "required": ["city"], "additionalProperties": False,
                                        "$schema": "http://json-schema.org/draft-07/schema#"}}],
            "tool_choice": {"type": "any"}, "stream": True, "system": [CLOAK_LINE]}
    if kind == "codex":
        # codex_gemini_request.go: one message per text part (the thought included), images and
        # files dropped, the call paired with its answer by a minted id, tool config ignored.
        return "/v1/responses", {}, {
            "model": MODELS["codex"], "instructions": "",
            "input": [
                {"type": "message", "role": "developer", "content": [{"type": "input_text", "text": "Be brief."},
                                                                     {"type": "input_text", "text": "Use tools."}]},
                {"type": "message", "role": "user", "content": [{"type": "input_text", "text": "Compare these"}]},
                {"type": "message", "role": "assistant", "content": [{"type": "output_text", "text": "Let me look."}]},
                {"type": "message", "role": "assistant", "content": [{"type": "output_text", "text": "Checking."}]},
                {"type": "function_call", "name": "get_weather", "arguments": compact({"city": "Paris"}),
                 "call_id": "<id>"},
                {"type": "function_call_output", "output": compact({"temp": 20}), "call_id": "<id>"},
                {"type": "message", "role": "user", "content": [{"type": "input_text", "text": "Try again"}]}],
            "tools": [{"type": "function", "name": "get_weather", "description": "Weather for a city",
                       "parameters": {"type": "object", "properties": {"city": {"type": "string"}},
                                      "required": ["city"], "additionalProperties": False},
                       "strict": False}],
            "tool_choice": "auto", "parallel_tool_calls": True, "reasoning": {"effort": "medium", "summary": "auto"},
            "stream": True, "store": False, "include": ["reasoning.encrypted_content"], "prompt_cache_key": ""}
    # openai_gemini_request.go: texts of a turn joined when it holds only text, an image turns it
    # into parts; the answer is a tool message holding the whole response followed by the turn's
    # empty user message; the schema is passed as written; candidateCount is n.
    return "/v1/chat/completions", {}, {
        "model": "fake-chat-model",
        "messages": [
            CHAT_SYSTEM,
            {"role": "user", "content": [{"type": "text", "text": "Compare these"},
                                         {"type": "image_url", "image_url": {"url": "data:image/png;base64,iVBOR"}}]},
            {"role": "assistant", "content": "Let me look.Checking.",
             "tool_calls": [{"id": "<id>", "type": "function",
                             "function": {"name": "get_weather", "arguments": compact({"city": "Paris"})}}]},
            {"role": "tool", "tool_call_id": "<id>", "content": compact({"result": {"temp": 20}})},
            {"role": "user", "content": ""},
            {"role": "user", "content": "Try again"}],
        "temperature": 0.5, "max_tokens": 4096, "top_p": 0.9, "top_k": 40, "stop": ["END"], "n": 1,
        "reasoning_effort": "medium", "stream": stream,
        "tools": [{"type": "function", "function": {"name": "get_weather", "description": "Weather for a city",
                                                    "parameters": GENAI_SCHEMA}}],
        "tool_choice": "required"}


@pytest.mark.parametrize("stream", [False, True], ids=["non-stream", "stream"])
@pytest.mark.parametrize("kind", ["gemini", "claude", "codex", "openai"])
async def test_genai_request_features(gateway: MakeClient, fake_llm: FakeLLM, kind: str, stream: bool) -> None:
    client = await gateway(config(fake_llm.root))
    method = "streamGenerateContent?alt=sse" if stream else "generateContent"
    resp = await client.post(f"/v1beta/models/{CLIENT_MODELS[kind]}:{method}", json=GENAI_BODY,
                             headers={"x-goog-api-key": "client-key"})
    assert resp.status == 200
    await resp.read()
    seen = fake_llm.requests[-1]
    if kind == "claude":
        minted(seen, r"toolu_[A-Za-z0-9]{24}", ("messages", 2, "content", 2, "id"),
               ("messages", 3, "content", 0, "tool_use_id"))
        minted(seen, FAKE_USER_ID.pattern, ("metadata", "user_id"))
    elif kind == "codex":
        minted(seen, r"call_[A-Za-z0-9]{24}", ("input", 4, "call_id"), ("input", 5, "call_id"))
    elif kind == "openai":
        minted(seen, r"call_[A-Za-z0-9]{24}", ("messages", 2, "tool_calls", 0, "id"),
               ("messages", 3, "tool_call_id"))
    path, query, expected = genai_expected(kind, stream)
    assert (seen.path, seen.query) == (path, query)
    assert seen.body == expected
