"""Requests shaped like the real coding agents' (reference cli-agents-wire.md), through the gateway
to every API-key upstream kind: the exact upstream request and the exact client answer.

Each CLI speaks one protocol: Claude Code ``POST /v1/messages?beta=true`` (system blocks with
``cache_control``, ``thinking``, ``context_management``, ``metadata.user_id`` as a JSON string,
a ``tool_result`` holding an image), Codex ``POST /v1/responses`` only (``reasoning``, ``include``,
``store: false``, ``prompt_cache_key``, ``local_shell`` / ``web_search`` / ``custom`` / ``namespace``
tools and their call items), Gemini CLI ``:streamGenerateContent?alt=sse`` (``systemInstruction``,
``parametersJsonSchema``, ``thinkingConfig``) and, logged in with Google, the ``/v1internal``
envelope. Facts: the legacy translators named per test, the executors' header code
(claude_executor.go:621-686, codex_executor.go cacheHelper / applyCodexHeaders,
openai_compat_executor.go) and thinking.ApplyThinking (A2.9).
"""

from __future__ import annotations

import copy
import json
import re
import uuid
from typing import Any

import pytest
from aiohttp import ClientResponse

from tests.fakes.llm_upstream import FakeLLM, Recorded
from tests.handlers.inference.conftest import MakeClient

# The upstream name each kind receives (the OpenAI-compatible one through its alias).
MODELS = {"claude": "claude-sonnet-4-5-20250929", "codex": "gpt-5-codex", "gemini": "gemini-2.5-pro",
          "openai": "fake-chat-model"}
CLIENT_MODELS = {**MODELS, "openai": "compat-chat"}
KEYS = {"claude": "sk-up-claude", "codex": "sk-up-codex", "gemini": "sk-up-gemini", "openai": "sk-up-openai"}
WORDS = ("Hello", " from", " the", " fake", " upstream")
SAFETY = [{"category": "HARM_CATEGORY_HARASSMENT", "threshold": "OFF"},
          {"category": "HARM_CATEGORY_HATE_SPEECH", "threshold": "OFF"},
          {"category": "HARM_CATEGORY_SEXUALLY_EXPLICIT", "threshold": "OFF"},
          {"category": "HARM_CATEGORY_DANGEROUS_CONTENT", "threshold": "OFF"},
          {"category": "HARM_CATEGORY_CIVIC_INTEGRITY", "threshold": "BLOCK_NONE"}]
CLOAK_LINE = {"type": "text", "text": "You are Claude Code, Anthropic's official CLI for Claude."}


def config(root: str) -> str:
    # No ``models:`` lists on the first three: the built-in catalogue (and its thinking limits)
    # applies, as for a key that serves every model of its provider.
    return (f"claude-api-key:\n  - api-key: {KEYS['claude']}\n    base-url: {root}\n"
            f"codex-api-key:\n  - api-key: {KEYS['codex']}\n    base-url: {root}/v1\n"
            f"gemini-api-key:\n  - api-key: {KEYS['gemini']}\n    base-url: {root}\n"
            f"openai-compatibility:\n  - name: fakecompat\n    base-url: {root}/v1\n"
            f"    api-key-entries:\n      - api-key: {KEYS['openai']}\n"
            "    models:\n      - name: fake-chat-model\n        alias: compat-chat\n")


# --- what each CLI sends ------------------------------------------------------------------------

READ_SCHEMA = {"$schema": "http://json-schema.org/draft-07/schema#", "type": "object",
               "properties": {"file_path": {"type": "string"}}, "required": ["file_path"],
               "additionalProperties": False}
IMAGE = {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": "iVBOR"}}
CLAUDE_CODE: dict[str, Any] = {
    "model": "", "max_tokens": 32000, "stream": True,
    "system": [{"type": "text", "text": "x-anthropic-billing-header: cc_version=2.1.197"},
               {"type": "text", "text": "You are a Claude agent", "cache_control": {"type": "ephemeral"}},
               {"type": "text", "text": "More rules", "cache_control": {"type": "ephemeral"}}],
    "messages": [
        {"role": "user", "content": [{"type": "text", "text": "<system-reminder>r</system-reminder>"},
                                     {"type": "text", "text": "read it", "cache_control": {"type": "ephemeral"}}]},
        {"role": "assistant", "content": [{"type": "thinking", "thinking": "hmm", "signature": "sig"},
                                          {"type": "text", "text": "ok"},
                                          {"type": "tool_use", "id": "toolu_1", "name": "Read",
                                           "input": {"file_path": "/a.png"}}]},
        {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "toolu_1",
                                      "content": [{"type": "text", "text": "image:"}, IMAGE]},
                                     {"type": "text", "text": "say hello", "cache_control": {"type": "ephemeral"}}]}],
    "tools": [{"name": "Read", "description": "Read a file", "input_schema": READ_SCHEMA}],
    "metadata": {"user_id": '{"device_id":"d","account_uuid":"","session_id":"s"}'},
    "thinking": {"type": "enabled", "budget_tokens": 31999},
    "context_management": {"edits": [{"type": "clear_thinking_20251015", "keep": "all"}]},
}
CLAUDE_CODE_HEADERS = {
    "x-api-key": "client-key", "anthropic-version": "2023-06-01",
    "anthropic-beta": "claude-code-20250219,interleaved-thinking-2025-05-14,context-management-2025-06-27",
    "User-Agent": "claude-cli/2.1.197 (external, sdk-cli)", "x-app": "cli", "X-Claude-Code-Session-Id": "s",
    "X-Stainless-Package-Version": "0.94.0", "X-Stainless-Retry-Count": "0", "X-Stainless-Timeout": "600",
    "anthropic-dangerous-direct-browser-access": "true",
}
# The tool_result's array content, as the legacy's translators read it raw (gjson ``Raw``/``String()``).
RESULT_RAW = json.dumps([{"type": "text", "text": "image:"}, IMAGE], separators=(",", ":"))

EXEC_PARAMS = {"type": "object", "properties": {"cmd": {"type": "string"}}, "required": ["cmd"],
               "additionalProperties": False}
CODEX_TOOLS: list[dict[str, Any]] = [
    {"type": "function", "name": "exec_command", "description": "Run", "strict": False, "parameters": EXEC_PARAMS},
    {"type": "local_shell"}, {"type": "web_search"},
    {"type": "custom", "name": "apply_patch", "description": "Patch",
     "format": {"type": "grammar", "syntax": "lark", "definition": "start: x"}},
    {"type": "namespace", "name": "multi_agent_v1", "description": "agents",
     "tools": [{"type": "function", "name": "spawn", "parameters": {"type": "object", "properties": {}}}]}]
CODEX_INPUT: list[dict[str, Any]] = [
    {"type": "message", "role": "developer", "content": [{"type": "input_text", "text": "You are a coding agent"}],
     "id": "m1"},
    {"type": "message", "role": "user", "content": [{"type": "input_text", "text": "<environment_context/>"}],
     "id": "m2"},
    {"type": "reasoning", "id": "rs_1", "summary": [{"type": "summary_text", "text": "thought"}],
     "encrypted_content": "enc"},
    {"type": "function_call", "id": "fc_1", "call_id": "call_1", "name": "exec_command",
     "arguments": '{"cmd":"ls"}'},
    {"type": "function_call_output", "call_id": "call_1", "output": "a.txt"},
    {"type": "local_shell_call", "id": "ls_1", "call_id": "call_2", "status": "completed",
     "action": {"type": "exec", "command": ["ls"]}},
    {"type": "local_shell_call_output", "call_id": "call_2", "output": "b.txt"},
    {"type": "custom_tool_call", "id": "ct_1", "call_id": "call_3", "name": "apply_patch", "input": "*** Begin"},
    {"type": "custom_tool_call_output", "call_id": "call_3", "output": "done"},
    {"type": "message", "role": "user", "content": [{"type": "input_text", "text": "say hello"}], "id": "m3"}]
CODEX: dict[str, Any] = {
    "model": "", "stream": True, "input": CODEX_INPUT, "tools": CODEX_TOOLS, "tool_choice": "auto",
    "parallel_tool_calls": True, "reasoning": {"effort": "high", "summary": "auto"}, "store": False,
    "include": ["reasoning.encrypted_content"], "prompt_cache_key": "pck-1", "client_metadata": {"x": "y"},
}
CODEX_HEADERS = {"Authorization": "Bearer client-key", "originator": "codex_exec", "session-id": "sid-1",
                 "User-Agent": "codex_exec/0.169.0 (Linux; x86_64) dumb (codex_exec; 0.169.0)",
                 "Accept": "text/event-stream"}

DECLARATION = {"name": "read_file", "description": "Read",
               "parametersJsonSchema": {"type": "object", "properties": {"path": {"type": "string"}},
                                        "required": ["path"]}}
GEMINI_CLI: dict[str, Any] = {
    "contents": [{"role": "user", "parts": [{"text": "<session_context>"}, {"text": "say hello"}]}],
    "systemInstruction": {"role": "user", "parts": [{"text": "CLI agent"}]},
    "tools": [{"functionDeclarations": [DECLARATION]}],
    "generationConfig": {"temperature": 1, "topP": 0.95, "topK": 64,
                         "thinkingConfig": {"includeThoughts": True, "thinkingBudget": 8192}},
}
GEMINI_HEADERS = {"x-goog-api-key": "client-key", "x-goog-api-client": "google-genai-sdk/1.30.0 gl-node/v20.20.2",
                  "User-Agent": "GeminiCLI-tui/0.61.0/m (linux; x64; terminal)"}


async def send(client: Any, cli: str, kind: str, body: dict[str, Any] | None = None) -> ClientResponse:
    model = CLIENT_MODELS[kind]
    if cli == "claude":
        payload = {**copy.deepcopy(CLAUDE_CODE), "model": model, **(body or {})}
        return await client.post("/v1/messages?beta=true", json=payload, headers=CLAUDE_CODE_HEADERS,
                                 skip_auto_headers=("User-Agent",))
    if cli == "codex":
        payload = {**copy.deepcopy(CODEX), "model": model, **(body or {})}
        return await client.post("/v1/responses", json=payload, headers=CODEX_HEADERS,
                                 skip_auto_headers=("User-Agent",))
    return await client.post(f"/v1beta/models/{model}:streamGenerateContent?alt=sse", json=body or GEMINI_CLI,
                             headers=GEMINI_HEADERS, skip_auto_headers=("User-Agent",))


def sent_headers(seen: Recorded) -> dict[str, str]:
    # Host names the fake's port and Content-Length the body's size: neither is the executor's.
    return {k: v for k, v in seen.headers.items() if k not in ("Host", "Content-Length")}


def events(text: str) -> list[tuple[str, Any]]:
    """The SSE answer as (event name, parsed data) pairs; times that say "now" read as 0."""
    out: list[tuple[str, Any]] = []
    for block in text.split("\n\n"):
        lines = [line for line in block.split("\n") if line]
        if not lines:
            continue
        name = next((line[7:] for line in lines if line.startswith("event: ")), "")
        data = json.loads("".join(line[6:] for line in lines if line.startswith("data: ")))
        out.append((name, data))
    return out


def claude_answer(message: dict[str, Any], *, thinking: bool) -> list[tuple[str, Any]]:
    """A Claude client's stream for the fake's answer: an optional thinking block, then the words."""
    out: list[tuple[str, Any]] = [("message_start", {"type": "message_start", "message": message})]
    index = 0
    if thinking:
        out += [("content_block_start", {"type": "content_block_start", "index": 0,
                                         "content_block": {"type": "thinking", "thinking": ""}}),
                ("content_block_delta", {"type": "content_block_delta", "index": 0,
                                         "delta": {"type": "thinking_delta", "thinking": "Let me think."}}),
                ("content_block_stop", {"type": "content_block_stop", "index": 0})]
        index = 1
    out.append(("content_block_start", {"type": "content_block_start", "index": index,
                                        "content_block": {"type": "text", "text": ""}}))
    out += [("content_block_delta", {"type": "content_block_delta", "index": index,
                                     "delta": {"type": "text_delta", "text": word}}) for word in WORDS]
    out += [("content_block_stop", {"type": "content_block_stop", "index": index}),
            ("message_delta", {"type": "message_delta", "delta": {"stop_reason": "end_turn", "stop_sequence": None},
                               "usage": {"input_tokens": 11, "output_tokens": 5}}),
            ("message_stop", {"type": "message_stop"})]
    return out


def start_message(msg_id: str, model: str) -> dict[str, Any]:
    return {"id": msg_id, "type": "message", "role": "assistant", "content": [], "model": model,
            "stop_reason": None, "stop_sequence": None, "usage": {"input_tokens": 0, "output_tokens": 0}}


# --- Claude Code --------------------------------------------------------------------------------


async def test_claude_code_to_claude(gateway: MakeClient, fake_llm: FakeLLM) -> None:
    client = await gateway(config(fake_llm.root))
    resp = await send(client, "claude", "claude")
    assert resp.status == 200
    seen = fake_llm.requests[-1]
    assert (seen.path, seen.query) == ("/v1/messages", {"beta": "true"})
    # Same protocol, a budget inside the model's range below max_tokens, a Claude Code client (no
    # cloaking): the body goes up as sent, cache_control and context_management included.
    assert seen.body == {**CLAUDE_CODE, "model": MODELS["claude"]}
    # The client's betas with oauth appended; its X-Stainless values, the executor's for the rest.
    assert sent_headers(seen) == {
        "Authorization": "Bearer sk-up-claude", "Content-Type": "application/json",
        "Anthropic-Beta": CLAUDE_CODE_HEADERS["anthropic-beta"] + ",oauth-2025-04-20",
        "Anthropic-Version": "2023-06-01", "Anthropic-Dangerous-Direct-Browser-Access": "true", "X-App": "cli",
        "X-Stainless-Helper-Method": "stream", "X-Stainless-Retry-Count": "0",
        "X-Stainless-Runtime-Version": "v24.3.0", "X-Stainless-Package-Version": "0.94.0",
        "X-Stainless-Runtime": "node", "X-Stainless-Lang": "js", "X-Stainless-Arch": "arm64",
        "X-Stainless-Os": "MacOS", "X-Stainless-Timeout": "600", "User-Agent": CLAUDE_CODE_HEADERS["User-Agent"],
        "Connection": "keep-alive", "Accept-Encoding": "gzip, deflate, br, zstd", "Accept": "text/event-stream"}
    # The upstream's own stream, signature included, relayed as it came.
    answer = events(await resp.text())
    message = {**start_message("msg_fake", MODELS["claude"]), "usage": {"input_tokens": 11, "output_tokens": 0}}
    expected = claude_answer(message, thinking=True)
    expected.insert(3, ("content_block_delta", {"type": "content_block_delta", "index": 0,
                                                "delta": {"type": "signature_delta", "signature": "sig-fake"}}))
    assert answer == expected


async def test_claude_code_to_codex(gateway: MakeClient, fake_llm: FakeLLM) -> None:
    # codex_claude_request.go: system texts as one developer message, thinking dropped, the tool
    # result's array content as its raw JSON text, budget 31999 -> xhigh, which gpt-5-codex
    # (low/medium/high) clamps to high since the client is budget-based (validate.go).
    client = await gateway(config(fake_llm.root))
    resp = await send(client, "claude", "codex")
    assert resp.status == 200
    seen = fake_llm.requests[-1]
    assert seen.path == "/v1/responses"
    cache_id = seen.body.pop("prompt_cache_key")
    assert seen.body == {
        "model": "gpt-5-codex", "instructions": "",
        "input": [
            {"type": "message", "role": "developer", "content": [
                {"type": "input_text", "text": "x-anthropic-billing-header: cc_version=2.1.197"},
                {"type": "input_text", "text": "You are a Claude agent"},
                {"type": "input_text", "text": "More rules"}]},
            {"type": "message", "role": "user", "content": [
                {"type": "input_text", "text": "<system-reminder>r</system-reminder>"},
                {"type": "input_text", "text": "read it"}]},
            {"type": "message", "role": "assistant", "content": [{"type": "output_text", "text": "ok"}]},
            {"type": "function_call", "call_id": "toolu_1", "name": "Read", "arguments": '{"file_path":"/a.png"}'},
            {"type": "function_call_output", "call_id": "toolu_1", "output": RESULT_RAW},
            {"type": "message", "role": "user", "content": [{"type": "input_text", "text": "say hello"}]}],
        "tools": [{"name": "Read", "description": "Read a file", "type": "function",
                   "parameters": {k: v for k, v in READ_SCHEMA.items() if k != "$schema"}, "strict": False}],
        "tool_choice": "auto", "parallel_tool_calls": True, "reasoning": {"effort": "high", "summary": "auto"},
        "stream": True, "store": False, "include": ["reasoning.encrypted_content"]}
    # One id per model and metadata.user_id (cacheHelper), naming the cache and both session headers.
    assert str(uuid.UUID(cache_id)) == cache_id
    assert sent_headers(seen) == {
        "Conversation_id": cache_id, "Session_id": cache_id, "Content-Type": "application/json",
        "Authorization": "Bearer sk-up-codex", "Version": "0.21.0", "Openai-Beta": "responses=experimental",
        "User-Agent": CLAUDE_CODE_HEADERS["User-Agent"], "Accept": "text/event-stream", "Connection": "Keep-Alive",
        "Accept-Encoding": "gzip"}
    message = {**start_message("resp_fake", "gpt-5-codex")}
    assert events(await resp.text()) == claude_answer(message, thinking=False)


async def test_claude_code_to_gemini(gateway: MakeClient, fake_llm: FakeLLM) -> None:
    # gemini_claude_request.go: system texts as system_instruction, the thinking block dropped,
    # the call signed with the skip sentinel, the result named after its id (no "-" to cut at)
    # holding the raw JSON text, the tool schema as parametersJsonSchema untouched.
    client = await gateway(config(fake_llm.root))
    resp = await send(client, "claude", "gemini")
    assert resp.status == 200
    seen = fake_llm.requests[-1]
    assert (seen.path, seen.query) == ("/v1beta/models/gemini-2.5-pro:streamGenerateContent", {"alt": "sse"})
    assert seen.body == {
        "contents": [
            {"role": "user", "parts": [{"text": "<system-reminder>r</system-reminder>"}, {"text": "read it"}]},
            {"role": "model", "parts": [{"text": "ok"}, {"thoughtSignature": "skip_thought_signature_validator",
                                                         "functionCall": {"name": "Read",
                                                                          "args": {"file_path": "/a.png"}}}]},
            {"role": "user", "parts": [{"functionResponse": {"name": "toolu_1", "response": {"result": RESULT_RAW}}},
                                       {"text": "say hello"}]}],
        "model": "gemini-2.5-pro",
        "system_instruction": {"role": "user", "parts": [{"text": "x-anthropic-billing-header: cc_version=2.1.197"},
                                                         {"text": "You are a Claude agent"}, {"text": "More rules"}]},
        "tools": [{"functionDeclarations": [{"name": "Read", "description": "Read a file",
                                             "parametersJsonSchema": READ_SCHEMA}]}],
        "generationConfig": {"thinkingConfig": {"thinkingBudget": 31999, "includeThoughts": True}},
        "safetySettings": SAFETY}
    # gemini_executor.go sets neither User-Agent nor Accept: Go's client adds its name and gzip only.
    assert sent_headers(seen) == {"Content-Type": "application/json", "x-goog-api-key": "sk-up-gemini",
                                  "User-Agent": "Go-http-client/1.1", "Accept-Encoding": "gzip"}
    assert events(await resp.text()) == claude_answer(start_message("fake-resp", "gemini-2.5-pro"), thinking=True)


async def test_claude_code_to_openai_compatible(gateway: MakeClient, fake_llm: FakeLLM) -> None:
    # openai_claude_request.go: one leading system message, the assistant's thinking as
    # reasoning_content beside its text and call, the tool result first as a tool message (texts
    # joined by a blank line, the image block as its raw JSON), budget 31999 -> xhigh passed on
    # unchecked for a user-defined model.
    client = await gateway(config(fake_llm.root))
    resp = await send(client, "claude", "openai")
    assert resp.status == 200
    seen = fake_llm.requests[-1]
    assert seen.path == "/v1/chat/completions"
    image_raw = json.dumps(IMAGE, separators=(",", ":"))
    assert seen.body == {
        "model": "fake-chat-model",
        "messages": [
            {"role": "system", "content": [{"type": "text", "text": "x-anthropic-billing-header: cc_version=2.1.197"},
                                           {"type": "text", "text": "You are a Claude agent"},
                                           {"type": "text", "text": "More rules"}]},
            {"role": "user", "content": [{"type": "text", "text": "<system-reminder>r</system-reminder>"},
                                         {"type": "text", "text": "read it"}]},
            {"role": "assistant", "content": [{"type": "text", "text": "ok"}], "reasoning_content": "hmm",
             "tool_calls": [{"id": "toolu_1", "type": "function",
                             "function": {"name": "Read", "arguments": '{"file_path":"/a.png"}'}}]},
            {"role": "tool", "tool_call_id": "toolu_1", "content": f"image:\n\n{image_raw}"},
            {"role": "user", "content": [{"type": "text", "text": "say hello"}]}],
        "max_tokens": 32000, "stream": True, "reasoning_effort": "xhigh",
        "tools": [{"type": "function", "function": {"name": "Read", "description": "Read a file",
                                                    "parameters": READ_SCHEMA}}]}
    assert sent_headers(seen) == {"Content-Type": "application/json", "Authorization": "Bearer sk-up-openai",
                                  "User-Agent": "cli-proxy-openai-compat", "Accept": "text/event-stream",
                                  "Cache-Control": "no-cache", "Accept-Encoding": "gzip"}
    assert events(await resp.text()) == claude_answer(start_message("chatcmpl-fake", "fake-chat-model"),
                                                      thinking=True)


# What Claude Code sends for a model name that is not claude-*: adaptive thinking, which no
# translator and no extractor reads (extractClaudeConfig knows disabled / enabled / budget_tokens).
ADAPTIVE = [
    ("claude", "", {"thinking": {"type": "adaptive"}}),
    ("codex", "", {"reasoning": {"effort": "medium", "summary": "auto"}}),  # the translator's default
    ("gemini", "", {}),
    ("openai", "", {}),
    # A suffix is a setting of its own and wins (A2.9): high is 24576 on the budget models.
    ("claude", "(high)", {"thinking": {"type": "enabled", "budget_tokens": 24576}}),
    ("gemini", "(high)", {"generationConfig": {"thinkingConfig": {"thinkingBudget": 24576,
                                                                  "includeThoughts": True}}}),
    ("openai", "(high)", {"reasoning_effort": "high"}),
]


@pytest.mark.parametrize(("kind", "suffix", "thinking"), ADAPTIVE)
async def test_claude_code_adaptive_thinking(gateway: MakeClient, fake_llm: FakeLLM, kind: str, suffix: str,
                                             thinking: dict[str, Any]) -> None:
    client = await gateway(config(fake_llm.root))
    model = CLIENT_MODELS[kind] + suffix
    resp = await send(client, "claude", kind, {"model": model, "thinking": {"type": "adaptive"}})
    assert resp.status == 200
    body = fake_llm.requests[-1].body
    keys = ("thinking", "reasoning", "reasoning_effort", "generationConfig")
    assert {key: body[key] for key in keys if key in body} == thinking


async def test_claude_code_count_tokens_to_claude(gateway: MakeClient, fake_llm: FakeLLM) -> None:
    # CountTokens always prepends the Claude Code line (checkSystemInstructions, whatever the
    # client), applies no thinking and no payload rules, and keeps ?beta=true.
    client = await gateway(config(fake_llm.root))
    body = {key: value for key, value in CLAUDE_CODE.items() if key not in ("max_tokens", "stream")}
    resp = await client.post("/v1/messages/count_tokens?beta=true", json={**body, "model": MODELS["claude"]},
                             headers=CLAUDE_CODE_HEADERS, skip_auto_headers=("User-Agent",))
    assert (resp.status, await resp.json()) == (200, {"input_tokens": 11})
    seen = fake_llm.requests[-1]
    assert (seen.path, seen.query) == ("/v1/messages/count_tokens", {"beta": "true"})
    assert seen.body == {**body, "model": MODELS["claude"], "system": [CLOAK_LINE, *CLAUDE_CODE["system"]]}
    assert seen.headers["Accept"] == "application/json"


# --- Codex CLI ----------------------------------------------------------------------------------


async def test_codex_to_codex(gateway: MakeClient, fake_llm: FakeLLM) -> None:
    # codex_openai-responses_request.go: every item and tool kind as sent, stream/store/
    # parallel_tool_calls/include written in place, an empty instructions appended by the executor;
    # the client's prompt_cache_key names both session headers (its hyphenated session-id is
    # another header to Go), and the client's User-Agent is kept.
    client = await gateway(config(fake_llm.root))
    resp = await send(client, "codex", "codex")
    assert resp.status == 200
    seen = fake_llm.requests[-1]
    assert seen.body == {**CODEX, "model": "gpt-5-codex", "instructions": ""}
    assert sent_headers(seen) == {
        "Conversation_id": "pck-1", "Session_id": "pck-1", "Content-Type": "application/json",
        "Authorization": "Bearer sk-up-codex", "Version": "0.21.0", "Openai-Beta": "responses=experimental",
        "User-Agent": CODEX_HEADERS["User-Agent"], "Accept": "text/event-stream", "Connection": "Keep-Alive",
        "Accept-Encoding": "gzip"}
    # The Codex stream is the client's own protocol: relayed event for event.
    answer = events(await resp.text())
    assert [name for name, _ in answer] == [
        "response.created", "response.in_progress", "response.output_item.added", "response.content_part.added",
        *["response.output_text.delta"] * 5, "response.output_text.done", "response.content_part.done",
        "response.output_item.done", "response.completed"]
    assert [data["sequence_number"] for _, data in answer] == list(range(13))


async def test_codex_to_claude(gateway: MakeClient, fake_llm: FakeLLM) -> None:
    # claude_openai-responses_request.go: no instructions, so the first system item would lead;
    # a developer item is a user turn (its input_text decides the role); reasoning, local_shell and
    # custom-tool items are dropped; only the function tool goes (row 15); effort high -> 24576;
    # cloaked as a non-Claude-Code client: the Claude Code line as system and a fresh user id.
    client = await gateway(config(fake_llm.root))
    resp = await send(client, "codex", "claude")
    assert resp.status == 200
    seen = fake_llm.requests[-1]
    user_id = seen.body["metadata"].pop("user_id")
    assert re.fullmatch(r"user_[0-9a-f]{64}_account__session_[0-9a-f-]{36}", user_id)
    assert seen.body == {
        "model": MODELS["claude"], "max_tokens": 32000,
        "messages": [{"role": "user", "content": "You are a coding agent"},
                     {"role": "user", "content": "<environment_context/>"},
                     {"role": "assistant", "content": [{"type": "tool_use", "id": "call_1", "name": "exec_command",
                                                        "input": {"cmd": "ls"}}]},
                     {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "call_1",
                                                   "content": "a.txt"}]},
                     {"role": "user", "content": "say hello"}],
        "metadata": {}, "thinking": {"type": "enabled", "budget_tokens": 24576}, "stream": True,
        "tools": [{"name": "exec_command", "description": "Run", "input_schema": EXEC_PARAMS}],
        "tool_choice": {"type": "auto"}, "system": [CLOAK_LINE]}
    assert seen.query == {"beta": "true"}
    # No client betas: the executor's default set.
    assert seen.headers["Anthropic-Beta"] == ("claude-code-20250219,oauth-2025-04-20,interleaved-thinking-2025-05-14,"
                                              "fine-grained-tool-streaming-2025-05-14")
    answer = events(await resp.text())
    names = [name for name, _ in answer]
    assert names[:2] == ["response.created", "response.in_progress"]
    assert names.count("response.output_text.delta") == 5 and names[-1] == "response.completed"
    completed = answer[-1][1]["response"]
    assert completed["status"] == "completed"
    assert [item["type"] for item in completed["output"]] == ["reasoning", "message"]
    assert completed["output"][1]["content"][0]["text"] == "".join(WORDS)


async def test_codex_to_gemini(gateway: MakeClient, fake_llm: FakeLLM) -> None:
    # gemini_openai-responses_request.go: the call keeps its call_id and the skip signature, its
    # output goes back as role "function" under the call's name; only function tools, with the
    # property types upper-cased; effort high -> level -> 24576 on gemini-2.5-pro. The developer
    # item becomes systemInstruction here (row 19b).
    client = await gateway(config(fake_llm.root))
    resp = await send(client, "codex", "gemini")
    assert resp.status == 200
    seen = fake_llm.requests[-1]
    assert seen.body == {
        "contents": [
            {"role": "user", "parts": [{"text": "<environment_context/>"}]},
            {"role": "model", "parts": [{"functionCall": {"name": "exec_command", "args": {"cmd": "ls"},
                                                          "id": "call_1"},
                                         "thoughtSignature": "skip_thought_signature_validator"}]},
            {"role": "function", "parts": [{"functionResponse": {"name": "exec_command",
                                                                 "response": {"result": "a.txt"}, "id": "call_1"}}]},
            {"role": "user", "parts": [{"text": "say hello"}]}],
        "system_instruction": {"parts": [{"text": "You are a coding agent"}]},
        "tools": [{"functionDeclarations": [{"name": "exec_command", "description": "Run", "parametersJsonSchema": {
            **EXEC_PARAMS, "type": "OBJECT", "properties": {"cmd": {"type": "STRING"}}}}]}],
        "generationConfig": {"thinkingConfig": {"includeThoughts": True, "thinkingBudget": 24576}},
        "safetySettings": SAFETY, "model": "gemini-2.5-pro"}
    names = [name for name, _ in events(await resp.text())]
    assert names.count("response.output_text.delta") == 5 and names[-1] == "response.completed"


async def test_codex_to_openai_compatible(gateway: MakeClient, fake_llm: FakeLLM) -> None:
    # openai_openai-responses_request.go: roles kept (developer included), the call and its output
    # as an assistant tool_calls message and a tool message; the non-function tools dropped (row
    # 19c); effort as reasoning_effort.
    client = await gateway(config(fake_llm.root))
    resp = await send(client, "codex", "openai")
    assert resp.status == 200
    seen = fake_llm.requests[-1]
    assert seen.body == {
        "model": "fake-chat-model",
        "messages": [{"role": "developer", "content": "You are a coding agent"},
                     {"role": "user", "content": "<environment_context/>"},
                     {"role": "assistant", "tool_calls": [{"id": "call_1", "type": "function", "function": {
                         "name": "exec_command", "arguments": '{"cmd":"ls"}'}}]},
                     {"role": "tool", "tool_call_id": "call_1", "content": "a.txt"},
                     {"role": "user", "content": "say hello"}],
        "stream": True, "parallel_tool_calls": True,
        "tools": [{"type": "function", "function": {"name": "exec_command", "description": "Run",
                                                    "parameters": EXEC_PARAMS}}],
        "reasoning_effort": "high", "tool_choice": "auto"}
    names = [name for name, _ in events(await resp.text())]
    assert names.count("response.output_text.delta") == 5 and names[-1] == "response.completed"


@pytest.mark.parametrize(("kind", "effort"), [("claude", {}), ("gemini", {}), ("openai", {}),
                                              ("codex", {"reasoning": {"summary": "auto"}})])
async def test_codex_summary_only_reasoning(gateway: MakeClient, fake_llm: FakeLLM, kind: str,
                                            effort: dict[str, Any]) -> None:
    # What Codex 0.169 sends by default: reasoning without an effort is no thinking setting for
    # any translator, and ApplyThinking finds none in the Codex body either.
    client = await gateway(config(fake_llm.root))
    resp = await send(client, "codex", kind, {"reasoning": {"summary": "auto"}})
    assert resp.status == 200
    body = fake_llm.requests[-1].body
    keys = ("thinking", "reasoning", "reasoning_effort")
    assert {key: body[key] for key in keys if key in body} == effort
    assert "thinkingConfig" not in body.get("generationConfig", {})


async def test_codex_array_tool_output(gateway: MakeClient, fake_llm: FakeLLM) -> None:
    # A function_call_output whose output is a content array (view_image): Claude and OpenAI get
    # its raw JSON text (gjson String()); Gemini reads only a string output (gjson .Str), so the
    # response is empty.
    client = await gateway(config(fake_llm.root))
    output = [{"type": "input_text", "text": "here"}, {"type": "input_image", "image_url": "data:image/png;base64,AA"}]
    items = [{"type": "function_call", "call_id": "c1", "name": "exec_command", "arguments": "{}"},
             {"type": "function_call_output", "call_id": "c1", "output": output},
             {"type": "message", "role": "user", "content": [{"type": "input_text", "text": "go"}]}]
    raw = json.dumps(output, separators=(",", ":"))
    results = {}
    for kind in ("claude", "gemini", "openai"):
        resp = await send(client, "codex", kind, {"input": items})
        assert resp.status == 200
        results[kind] = fake_llm.requests[-1].body
    assert results["claude"]["messages"][1]["content"] == [{"type": "tool_result", "tool_use_id": "c1",
                                                            "content": raw}]
    assert results["gemini"]["contents"][1]["parts"] == [
        {"functionResponse": {"name": "exec_command", "response": {}, "id": "c1"}}]
    assert results["openai"]["messages"][1] == {"role": "tool", "tool_call_id": "c1", "content": raw}


# --- Gemini CLI ---------------------------------------------------------------------------------


async def test_gemini_cli_to_gemini(gateway: MakeClient, fake_llm: FakeLLM) -> None:
    # gemini_gemini_request.go: functionDeclarations renamed to function_declarations (their
    # parametersJsonSchema kept), safety settings added; the budget is in range.
    client = await gateway(config(fake_llm.root))
    resp = await send(client, "gemini", "gemini")
    assert resp.status == 200
    seen = fake_llm.requests[-1]
    assert (seen.path, seen.query) == ("/v1beta/models/gemini-2.5-pro:streamGenerateContent", {"alt": "sse"})
    assert seen.body == {"contents": GEMINI_CLI["contents"], "systemInstruction": GEMINI_CLI["systemInstruction"],
                         "tools": [{"function_declarations": [DECLARATION]}],
                         "generationConfig": GEMINI_CLI["generationConfig"], "safetySettings": SAFETY,
                         "model": "gemini-2.5-pro"}
    assert sent_headers(seen) == {"Content-Type": "application/json", "x-goog-api-key": "sk-up-gemini",
                                  "User-Agent": "Go-http-client/1.1", "Accept-Encoding": "gzip"}
    # Same protocol: the upstream's chunks as they came.
    chunk = {"modelVersion": "gemini-2.5-pro", "responseId": "fake-resp"}

    def candidate(part: dict[str, Any], **more: Any) -> dict[str, Any]:
        return {"candidates": [{"content": {"role": "model", "parts": [part]}, "index": 0, **more}], **chunk}

    last = candidate({"text": WORDS[-1]}, finishReason="STOP")
    last["usageMetadata"] = {"promptTokenCount": 11, "candidatesTokenCount": 5, "totalTokenCount": 16}
    assert events(await resp.text()) == [
        ("", candidate({"text": "Let me think.", "thought": True})),
        *[("", candidate({"text": word})) for word in WORDS[:-1]], ("", last)]


async def test_gemini_cli_to_claude(gateway: MakeClient, fake_llm: FakeLLM) -> None:
    # claude_gemini_request.go: the system instruction as a leading user turn, temperature and
    # topP (topK has no Claude field), budget 8192; cloaked (not Claude Code).
    client = await gateway(config(fake_llm.root))
    resp = await send(client, "gemini", "claude")
    assert resp.status == 200
    seen = fake_llm.requests[-1]
    user_id = seen.body["metadata"].pop("user_id")
    assert re.fullmatch(r"user_[0-9a-f]{64}_account__session_[0-9a-f-]{36}", user_id)
    assert seen.body == {
        "model": MODELS["claude"], "max_tokens": 32000,
        "messages": [{"role": "user", "content": [{"type": "text", "text": "CLI agent"}]},
                     {"role": "user", "content": [{"type": "text", "text": "<session_context>"},
                                                  {"type": "text", "text": "say hello"}]}],
        "metadata": {}, "temperature": 1, "top_p": 0.95, "thinking": {"type": "enabled", "budget_tokens": 8192},
        "tools": [{"description": "Read", "input_schema": DECLARATION["parametersJsonSchema"]
                   | {"$schema": "http://json-schema.org/draft-07/schema#", "additionalProperties": False},
                   "name": "read_file"}],
        "stream": True, "system": [CLOAK_LINE]}
    # claude_gemini_response.go: a chunk per delta (the signature delta gives an empty one), the
    # finish with usage; createTime is the time of the answer.
    answer = events(await resp.text())
    for _, data in answer:
        assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(Z|[+-]\d\d:\d\d)", data.pop("createTime"))
    base = {"usageMetadata": {"trafficType": "PROVISIONED_THROUGHPUT"}, "modelVersion": MODELS["claude"],
            "responseId": "msg_fake"}

    def chunk(parts: list[dict[str, Any]]) -> tuple[str, Any]:
        return "", {"candidates": [{"content": {"role": "model", "parts": parts}}], **base}

    finish = {"candidates": [{"content": {"role": "model", "parts": []}, "finishReason": "STOP"}], **base,
              "usageMetadata": {"trafficType": "PROVISIONED_THROUGHPUT", "promptTokenCount": 11,
                                "candidatesTokenCount": 5, "totalTokenCount": 16}}
    assert answer == [chunk([{"thought": True, "text": "Let me think."}]), chunk([]),
                      *[chunk([{"text": word}]) for word in WORDS], ("", finish)]


async def test_gemini_cli_to_codex(gateway: MakeClient, fake_llm: FakeLLM) -> None:
    # codex_gemini_request.go: systemInstruction as a developer message, one message per part,
    # parametersJsonSchema read as the parameters (additionalProperties false added), budget 8192
    # -> medium; no cache id for a Gemini client: an empty key, a fresh Session_id.
    client = await gateway(config(fake_llm.root))
    resp = await send(client, "gemini", "codex")
    assert resp.status == 200
    seen = fake_llm.requests[-1]
    assert seen.body == {
        "model": "gpt-5-codex", "instructions": "",
        "input": [{"type": "message", "role": "developer", "content": [{"type": "input_text", "text": "CLI agent"}]},
                  {"type": "message", "role": "user", "content": [{"type": "input_text", "text": "<session_context>"}]},
                  {"type": "message", "role": "user", "content": [{"type": "input_text", "text": "say hello"}]}],
        "tools": [{"type": "function", "name": "read_file", "description": "Read",
                   "parameters": {**DECLARATION["parametersJsonSchema"], "additionalProperties": False},
                   "strict": False}],
        "tool_choice": "auto", "parallel_tool_calls": True, "reasoning": {"effort": "medium", "summary": "auto"},
        "stream": True, "store": False, "include": ["reasoning.encrypted_content"], "prompt_cache_key": ""}
    session = seen.headers["Session_id"]
    assert str(uuid.UUID(session)) == session and seen.headers["Conversation_id"] == ""
    # codex_gemini_response.go: createTime from response.created_at where the event has one, the
    # template's fixed time on the deltas; usage on the completion, which carries no finishReason.
    base = {"usageMetadata": {"trafficType": "PROVISIONED_THROUGHPUT"}, "modelVersion": "gpt-5-codex",
            "responseId": "resp_fake"}

    def chunk(parts: list[dict[str, Any]], when: str) -> tuple[str, Any]:
        return "", {"candidates": [{"content": {"role": "model", "parts": parts}}], **base, "createTime": when}

    completed = chunk([], "2023-11-14T22:13:20Z")
    completed[1]["usageMetadata"] = {"trafficType": "PROVISIONED_THROUGHPUT", "promptTokenCount": 11,
                                     "candidatesTokenCount": 5, "totalTokenCount": 16}
    assert events(await resp.text()) == [chunk([], "2023-11-14T22:13:20Z"),
                                         *[chunk([{"text": word}], "2025-08-15T02:52:03.884209Z") for word in WORDS],
                                         completed]


async def test_gemini_cli_to_openai_compatible(gateway: MakeClient, fake_llm: FakeLLM) -> None:
    # openai_gemini_request.go: topK passed as top_k, budget 8192 -> medium, the system
    # instruction as a system message of text parts, an all-text turn joined without separator.
    client = await gateway(config(fake_llm.root))
    resp = await send(client, "gemini", "openai")
    assert resp.status == 200
    seen = fake_llm.requests[-1]
    assert seen.body == {
        "model": "fake-chat-model",
        "messages": [{"role": "system", "content": [{"type": "text", "text": "CLI agent"}]},
                     {"role": "user", "content": "<session_context>say hello"}],
        "temperature": 1, "top_p": 0.95, "top_k": 64, "reasoning_effort": "medium", "stream": True,
        "tools": [{"type": "function", "function": {"name": "read_file", "description": "Read",
                                                    "parameters": DECLARATION["parametersJsonSchema"]}}]}
    # openai_gemini_response.go: a finish chunk that also carries usage returns at the finish, so
    # no usageMetadata reaches the client.
    base = {"model": "fake-chat-model"}

    def chunk(parts: list[dict[str, Any]], **more: Any) -> tuple[str, Any]:
        return "", {"candidates": [{"content": {"parts": parts, "role": "model"}, "index": 0, **more}], **base}

    assert events(await resp.text()) == [chunk([{"thought": True, "text": "Let me think."}]),
                                         *[chunk([{"text": word}]) for word in WORDS],
                                         chunk([], finishReason="STOP")]


async def test_gemini_cli_code_assist_envelope_to_gemini(gateway: MakeClient, fake_llm: FakeLLM) -> None:
    # Gemini CLI logged in with Google: /v1internal with {model, project, request}. Toward an API
    # key (gemini_gemini-cli_request.go) the request is unwrapped, the model written in,
    # systemInstruction renamed to system_instruction (functionDeclarations kept, unlike the
    # v1beta path), session_id dropped by the executor; the answer comes back wrapped.
    client = await gateway(config(fake_llm.root))
    envelope = {"model": MODELS["gemini"], "project": "p", "user_prompt_id": "u",
                "request": {**GEMINI_CLI, "session_id": "s"}}
    resp = await client.post("/v1internal:streamGenerateContent?alt=sse", json=envelope, headers=GEMINI_HEADERS,
                             skip_auto_headers=("User-Agent",))
    assert resp.status == 200
    seen = fake_llm.requests[-1]
    assert (seen.path, seen.query) == ("/v1beta/models/gemini-2.5-pro:streamGenerateContent", {"alt": "sse"})
    assert seen.body == {"contents": GEMINI_CLI["contents"], "tools": GEMINI_CLI["tools"],
                         "generationConfig": GEMINI_CLI["generationConfig"], "model": "gemini-2.5-pro",
                         "system_instruction": GEMINI_CLI["systemInstruction"], "safetySettings": SAFETY}
    answer = events(await resp.text())
    assert [set(data) for _, data in answer] == [{"response"}] * 6
    assert answer[0][1]["response"]["candidates"][0]["content"]["parts"] == [{"text": "Let me think.",
                                                                              "thought": True}]


async def test_gemini_cli_count_tokens_to_gemini(gateway: MakeClient, fake_llm: FakeLLM) -> None:
    # GeminiExecutor.CountTokens: tools, generationConfig and safetySettings removed, model added.
    client = await gateway(config(fake_llm.root))
    resp = await client.post(f"/v1beta/models/{MODELS['gemini']}:countTokens", json=GEMINI_CLI,
                             headers=GEMINI_HEADERS, skip_auto_headers=("User-Agent",))
    assert resp.status == 200
    assert await resp.read() == b'{"totalTokens":11,"promptTokensDetails":[{"modality":"TEXT","tokenCount":11}]}'
    seen = fake_llm.requests[-1]
    assert seen.path == "/v1beta/models/gemini-2.5-pro:countTokens"
    assert seen.body == {"contents": GEMINI_CLI["contents"], "systemInstruction": GEMINI_CLI["systemInstruction"],
                         "model": "gemini-2.5-pro"}
