"""Rows of the reference's A2 request tables that the golden cases and the SDK feature bodies leave
open, over HTTP: the client request through the gateway, the exact fields the upstream received.

Facts: cliproxyapi-translation-resilience.md A2.1, A2.3, A2.5, A2.7, A2.10, A2.15, checked against
CLIProxyAPI at 9b72ea9ef (internal/translator/claude/openai/chat-completions/claude_openai_request.go,
gemini/openai/chat-completions/gemini_openai_request.go, gemini/claude/gemini_claude_request.go,
claude/gemini/claude_gemini_request.go, codex/openai/chat-completions/codex_openai_request.go,
openai/claude/openai_claude_request.go) and the executors' edits after them. Tool results are
plain strings here: where the legacy copies a JSON value's raw text, the gateway writes it
compactly (handlers/translation/README.md, "Known divergences"), so spacing is not pinned.
"""

from __future__ import annotations

import re
from typing import Any

import pytest

from tests.handlers.inference.test_faults import CLAUDE_MODEL, CODEX_MODEL, COMPAT_MODEL, GEMINI_MODEL, MakeGateway
from tests.handlers.inference.test_golden_http import (
    ABSENT,
    CLAUDE_OK,
    CODEX_OK,
    GEMINI_BODY,
    GEMINI_OK,
    OPENAI_OK,
    Upstream,
    call,
    chat,
    dig,
    messages,
    up,
)

__all__ = ["up"]  # the recording upstream's fixture

SIG = "skip_thought_signature_validator"
PNG = "data:image/png;base64,AAA"
CALLS = [{"id": "c1", "type": "function", "function": {"name": "f", "arguments": '{"a":1}'}},
         {"id": "c2", "type": "function", "function": {"name": "g", "arguments": "[1]"}}]


def text(value: str) -> dict[str, str]:
    return {"type": "text", "text": value}


def gemini_config(**config: Any) -> dict[str, Any]:
    return {**GEMINI_BODY, "generationConfig": config}


# (id, client path, client body, upstream answer, {dotted path in the upstream body: value}).
ROWS: list[tuple[str, str, dict[str, Any], bytes, dict[str, Any]]] = [
    # --- A2.1 OpenAI chat -> Claude ---
    # Every system message joins one user turn at the first one's place; only its text parts
    # count; developer messages are not read at all.
    ("a2.1-system-merge", "/v1/chat/completions", chat(CLAUDE_MODEL, messages=[
        {"role": "user", "content": "first"},
        {"role": "system", "content": "S1"},
        {"role": "developer", "content": "D"},
        {"role": "system", "content": [text("S2"), {"type": "image_url", "image_url": {"url": PNG}}]},
        {"role": "user", "content": "last"}]), CLAUDE_OK,
     {"messages": [{"role": "user", "content": [text("first")]},
                   {"role": "user", "content": [text("S1"), text("S2")]},
                   {"role": "user", "content": [text("last")]}]}),
    # Arguments that are JSON but not an object give {}; each tool message is its own user turn.
    ("a2.1-tool-results-not-merged", "/v1/chat/completions", chat(CLAUDE_MODEL, messages=[
        {"role": "user", "content": "U"},
        {"role": "assistant", "content": "calling", "tool_calls": CALLS},
        {"role": "tool", "tool_call_id": "c1", "content": "r1"},
        {"role": "tool", "tool_call_id": "c2", "content": "r2"}]), CLAUDE_OK,
     {"messages": [
         {"role": "user", "content": [text("U")]},
         {"role": "assistant", "content": [
             text("calling"), {"type": "tool_use", "id": "c1", "name": "f", "input": {"a": 1}},
             {"type": "tool_use", "id": "c2", "name": "g", "input": {}}]},
         {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "c1", "content": "r1"}]},
         {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "c2", "content": "r2"}]}]}),
    # parametersJsonSchema stands in for parameters; description is always written; other tool
    # types are left out.
    ("a2.1-tools", "/v1/chat/completions", chat(CLAUDE_MODEL, tools=[
        {"type": "function", "function": {"name": "g", "description": "G",
                                          "parametersJsonSchema": {"type": "object", "properties": {}}}},
        {"type": "function", "function": {"name": "h"}},
        {"type": "web_search"}]), CLAUDE_OK,
     {"tools": [{"name": "g", "description": "G", "input_schema": {"type": "object", "properties": {}}},
                {"name": "h", "description": ""}]}),
    ("a2.1-no-function-tools", "/v1/chat/completions", chat(CLAUDE_MODEL, tools=[{"type": "web_search"}]),
     CLAUDE_OK, {"tools": ABSENT}),
    # --- A2.3 OpenAI chat -> Gemini ---
    ("a2.3-effort-auto", "/v1/chat/completions", chat(GEMINI_MODEL, reasoning_effort="auto"), GEMINI_OK,
     {"generationConfig": {"thinkingConfig": {"thinkingBudget": -1, "includeThoughts": True}}}),
    # n only when above 1; max_tokens and stop have no mapping.
    ("a2.3-generation-config", "/v1/chat/completions", chat(
        GEMINI_MODEL, temperature=0.2, top_p=0.9, top_k=40, n=2, modalities=["text", "image"],
        image_config={"aspect_ratio": "16:9", "image_size": "2K"}, max_tokens=100, stop=["x"]), GEMINI_OK,
     {"generationConfig": {"temperature": 0.2, "topP": 0.9, "topK": 40, "candidateCount": 2,
                           "responseModalities": ["TEXT", "IMAGE"],
                           "imageConfig": {"aspectRatio": "16:9", "imageSize": "2K"}}}),
    # Answers of one assistant turn go in one user turn right after it, in the calls' order,
    # whatever order the tool messages came in; the assistant's own image is kept.
    ("a2.3-parallel-calls", "/v1/chat/completions", chat(GEMINI_MODEL, messages=[
        {"role": "user", "content": "U"},
        {"role": "assistant", "content": [text("A"), {"type": "image_url", "image_url": {"url": PNG}}],
         "tool_calls": [CALLS[0], {**CALLS[1], "function": {"name": "g", "arguments": "{}"}}]},
        {"role": "tool", "tool_call_id": "c2", "content": "r2"},
        {"role": "tool", "tool_call_id": "c1", "content": "r1"},
        {"role": "user", "content": "again"}]), GEMINI_OK,
     {"contents": [
         {"role": "user", "parts": [{"text": "U"}]},
         {"role": "model", "parts": [
             {"text": "A"}, {"inlineData": {"mime_type": "image/png", "data": "AAA"}, "thoughtSignature": SIG},
             {"functionCall": {"name": "f", "args": {"a": 1}}, "thoughtSignature": SIG},
             {"functionCall": {"name": "g", "args": {}}, "thoughtSignature": SIG}]},
         {"role": "user", "parts": [{"functionResponse": {"name": "f", "response": {"result": '"r1"'}}},
                                    {"functionResponse": {"name": "g", "response": {"result": '"r2"'}}}]},
         {"role": "user", "parts": [{"text": "again"}]}]}),
    # google_search joins the declarations' tool object; a file whose extension has no MIME type
    # is skipped.
    ("a2.3-google-search-and-unknown-file", "/v1/chat/completions", chat(GEMINI_MODEL, messages=[
        {"role": "user", "content": [text("look"),
                                     {"type": "file", "file": {"filename": "a.qqq", "file_data": "QQ=="}}]}],
        tools=[{"type": "function", "function": {"name": "f"}}, {"google_search": {}}]), GEMINI_OK,
     {"contents": [{"role": "user", "parts": [{"text": "look"}]}],
      "tools": [{"functionDeclarations": [{"name": "f", "parametersJsonSchema": {"type": "object", "properties": {}}}],
                 "googleSearch": {}}]}),
    # --- A2.5 Claude -> Gemini ---
    ("a2.5-system-string", "/v1/messages", messages(GEMINI_MODEL, system="S"), GEMINI_OK,
     {"system_instruction": {"parts": [{"text": "S"}]}}),
    # strict, input_examples, type and cache_control leave the declaration (not its schema); a
    # tool_use whose input is no object is dropped; max_tokens, stop_sequences and tool_choice
    # have no mapping.
    ("a2.5-tool-keys-and-input", "/v1/messages", messages(
        GEMINI_MODEL, stop_sequences=["x"], tool_choice={"type": "any"},
        tools=[{"name": "f", "description": "F", "input_schema": {"type": "object", "strict": True}, "strict": True,
                "input_examples": [{}], "type": "custom", "cache_control": {"type": "ephemeral"}}],
        messages=[{"role": "user", "content": "U"},
                  {"role": "assistant", "content": [text("t"), {"type": "tool_use", "id": "f-1-1", "name": "f",
                                                                "input": "not an object"}]}]), GEMINI_OK,
     {"tools": [{"functionDeclarations": [{"name": "f", "description": "F",
                                           "parametersJsonSchema": {"type": "object", "strict": True}}]}],
      "contents.1": {"role": "model", "parts": [{"text": "t"}]},
      "generationConfig": ABSENT, "toolConfig": ABSENT, "tool_config": ABSENT}),
    # --- A2.7 Gemini -> Claude ---
    ("a2.7-budget-n", f"/v1beta/models/{CLAUDE_MODEL}:generateContent",
     gemini_config(thinkingConfig={"thinkingBudget": 4000}), CLAUDE_OK,
     {"thinking": {"type": "enabled", "budget_tokens": 4000}}),
    ("a2.7-level-none", f"/v1beta/models/{CLAUDE_MODEL}:generateContent",
     gemini_config(thinkingConfig={"thinkingLevel": "none", "thinkingBudget": 4000}), CLAUDE_OK,
     {"thinking": {"type": "disabled"}}),
    # includeThoughts alone is "enabled" without a budget; this model allows no automatic budget,
    # so the thinking step picks the midpoint kept below max_tokens (as golden 3-auto).
    ("a2.7-include-thoughts", f"/v1beta/models/{CLAUDE_MODEL}:generateContent",
     gemini_config(thinkingConfig={"includeThoughts": True}), CLAUDE_OK,
     {"thinking": {"type": "enabled", "budget_tokens": 31999}}),
    ("a2.7-mode-auto", f"/v1beta/models/{CLAUDE_MODEL}:generateContent",
     {**GEMINI_BODY, "tool_config": {"function_calling_config": {"mode": "AUTO"}}}, CLAUDE_OK,
     {"tool_choice": {"type": "auto"}}),
    ("a2.7-mode-none", f"/v1beta/models/{CLAUDE_MODEL}:generateContent",
     {**GEMINI_BODY, "tool_config": {"function_calling_config": {"mode": "NONE"}}}, CLAUDE_OK,
     {"tool_choice": {"type": "none"}}),
    # topK has no Claude field.
    ("a2.7-generation-config", f"/v1beta/models/{CLAUDE_MODEL}:generateContent",
     gemini_config(maxOutputTokens=100, temperature=0.2, topP=0.9, topK=40, stopSequences=["x", "y"]), CLAUDE_OK,
     {"max_tokens": 100, "temperature": 0.2, "top_p": 0.9, "stop_sequences": ["x", "y"], "top_k": ABSENT}),
    # --- A2.10 OpenAI chat -> Codex ---
    # Built-in tools and a built-in tool_choice go through as written; verbosity joins text.format.
    ("a2.10-text-and-built-in-tools", "/v1/chat/completions", chat(
        CODEX_MODEL, response_format={"type": "text"}, text={"verbosity": "low"},
        tools=[{"type": "function", "function": {"name": "f"}}, {"type": "web_search_preview"}],
        tool_choice={"type": "web_search_preview"}), CODEX_OK,
     {"text": {"format": {"type": "text"}, "verbosity": "low"},
      "tools": [{"type": "function", "name": "f"}, {"type": "web_search_preview"}],
      "tool_choice": {"type": "web_search_preview"}}),
    # An assistant's image is not an output part; a tool message's content goes as output.
    ("a2.10-assistant-image-and-tool-output", "/v1/chat/completions", chat(CODEX_MODEL, messages=[
        {"role": "user", "content": "U"},
        {"role": "assistant", "content": [text("a"), {"type": "image_url", "image_url": {"url": PNG}}],
         "tool_calls": [CALLS[0]]},
        {"role": "tool", "tool_call_id": "c1", "content": "r1"}]), CODEX_OK,
     {"input": [
         {"type": "message", "role": "user", "content": [{"type": "input_text", "text": "U"}]},
         {"type": "message", "role": "assistant", "content": [{"type": "output_text", "text": "a"}]},
         {"type": "function_call", "call_id": "c1", "name": "f", "arguments": '{"a":1}'},
         {"type": "function_call_output", "call_id": "c1", "output": "r1"}]}),
    # --- A2.15 Claude -> OpenAI chat ---
    # top_p goes only without temperature; user is copied; a named tool is the chat function shape.
    ("a2.15-top-p-user-named-tool", "/v1/messages", messages(
        COMPAT_MODEL, top_p=0.9, user="u1", tool_choice={"type": "tool", "name": "f"},
        tools=[{"name": "f", "input_schema": {"type": "object"}}]), OPENAI_OK,
     {"top_p": 0.9, "temperature": ABSENT, "user": "u1",
      "tool_choice": {"type": "function", "function": {"name": "f"}},
      "tools": [{"type": "function", "function": {"name": "f", "description": "", "parameters": {"type": "object"}}}]}),
    ("a2.15-any-and-enabled-without-budget", "/v1/messages", messages(
        COMPAT_MODEL, tool_choice={"type": "any"}, thinking={"type": "enabled"}, stop_sequences=["a", "b"]), OPENAI_OK,
     {"tool_choice": "required", "reasoning_effort": "auto", "stop": ["a", "b"]}),
    ("a2.15-other-choice-is-auto", "/v1/messages", messages(COMPAT_MODEL, tool_choice={"type": "none"}), OPENAI_OK,
     {"tool_choice": "auto"}),
    # Thinking texts join with a blank line, redacted thinking never counts, a thinking-only
    # assistant turn stays (content ""), a tool_result's text parts are flattened.
    ("a2.15-thinking-and-results", "/v1/messages", messages(COMPAT_MODEL, messages=[
        {"role": "user", "content": "U"},
        {"role": "assistant", "content": [
            {"type": "thinking", "thinking": "t1", "signature": "s"}, {"type": "redacted_thinking", "data": "x"},
            {"type": "thinking", "thinking": "t2", "signature": "s"}, text("calling"),
            {"type": "tool_use", "id": "toolu_1", "name": "f", "input": {"a": 1}}]},
        {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "toolu_1",
                                      "content": [text("a"), text("b")]}]},
        {"role": "assistant", "content": [{"type": "thinking", "thinking": "only", "signature": "s"}]},
        {"role": "user", "content": "V"}]), OPENAI_OK,
     {"messages": [
         {"role": "system", "content": []},
         {"role": "user", "content": "U"},
         {"role": "assistant", "content": [text("calling")], "reasoning_content": "t1\n\nt2",
          "tool_calls": [{"id": "toolu_1", "type": "function", "function": {"name": "f", "arguments": '{"a":1}'}}]},
         {"role": "tool", "tool_call_id": "toolu_1", "content": "a\n\nb"},
         {"role": "assistant", "content": "", "reasoning_content": "only"},
         {"role": "user", "content": "V"}]}),
]


@pytest.mark.parametrize(("path", "body", "answer", "expected"), [r[1:] for r in ROWS], ids=[r[0] for r in ROWS])
async def test_request_row(gateway: MakeGateway, up: Upstream, path: str, body: dict[str, Any], answer: bytes,
                           expected: dict[str, Any]) -> None:
    await call(gateway, up, path, body, answer)
    sent = up.sent()
    for where, value in expected.items():
        assert dig(sent, where) == value, (where, dig(sent, where))


async def test_a2_7_calls_and_answers_pair_first_in_first_out(gateway: MakeGateway, up: Upstream) -> None:
    # claude_gemini_request.go: each functionCall mints a toolu_ id onto a queue and each
    # functionResponse takes the oldest one (a fresh id when none is left); response.result is
    # the content, else the whole response's JSON; function/tool roles are user turns and a turn
    # left without content is dropped.
    body = {"contents": [
        {"role": "user", "parts": [{"text": "U"}]},
        {"role": "model", "parts": [{"functionCall": {"name": "f", "args": {"a": 1}}},
                                    {"functionCall": {"name": "g", "args": {}}}]},
        {"role": "function", "parts": [{"functionResponse": {"name": "f", "response": {"result": "r1"}}}]},
        {"role": "tool", "parts": [{"functionResponse": {"name": "g", "response": {"result": "r2"}}},
                                   {"functionResponse": {"name": "h", "response": {"result": "r3"}}}]},
        {"role": "user", "parts": []}]}
    await call(gateway, up, f"/v1beta/models/{CLAUDE_MODEL}:generateContent", body, CLAUDE_OK)
    sent = up.sent()["messages"]
    first, second = (block["id"] for block in sent[1]["content"])
    third = sent[3]["content"][1]["tool_use_id"]
    for minted in (first, second, third):
        assert re.fullmatch(r"toolu_[A-Za-z0-9]{24}", minted)
    assert len({first, second, third}) == 3
    assert sent == [
        {"role": "user", "content": [text("U")]},
        {"role": "assistant", "content": [{"type": "tool_use", "id": first, "name": "f", "input": {"a": 1}},
                                          {"type": "tool_use", "id": second, "name": "g", "input": {}}]},
        {"role": "user", "content": [{"type": "tool_result", "tool_use_id": first, "content": "r1"}]},
        {"role": "user", "content": [{"type": "tool_result", "tool_use_id": second, "content": "r2"},
                                     {"type": "tool_result", "tool_use_id": third, "content": "r3"}]}]
