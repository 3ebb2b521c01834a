"""OpenAI Responses clients, request side: ``openai_responses.parse_request`` and the Claude / Gemini
upstream renderers of ``responses_upstream``.

The reference only names these translators (caveats section), so the vectors cite the Go files
they were read from: ``claude/openai/responses`` and ``gemini/openai/responses`` at 9b72ea9ef.
"""

from __future__ import annotations

import re
from typing import Any

import pytest

from handlers.translation import gemini, openai_responses, responses_upstream
from handlers.translation.model import (
    FilePart,
    Format,
    ImagePart,
    Role,
    TextPart,
    ThinkingConfig,
    ThinkingMode,
    ThinkingPart,
    ToolCallPart,
    ToolResultPart,
)

SKIP = "skip_thought_signature_validator"
USER_ID = "user_x_account_y_session_z"

# --- Responses client request -> internal ----------------------------------------------------

RESPONSES_BODY: dict[str, Any] = {
    "model": "m",
    "instructions": "Be brief.",
    "input": [
        {"type": "message", "role": "user", "content": [{"type": "input_text", "text": "hi"}]},
        {
            "role": "user",
            "content": [
                {"type": "input_text", "text": "see"},
                {"type": "input_image", "image_url": "data:image/png;base64,AAA"},
            ],
        },
        {"type": "reasoning", "summary": [{"type": "summary_text", "text": "thought"}], "encrypted_content": "E"},
        {"type": "message", "role": "assistant", "content": [{"type": "output_text", "text": "calling"}]},
        {"type": "function_call", "call_id": "call_1", "name": "get", "arguments": '{"city":"Oslo"}'},
        {"type": "function_call_output", "call_id": "call_1", "output": '{"t":5}'},
    ],
    "tools": [
        {"type": "function", "name": "get", "description": "weather", "parameters": {"type": "object"}},
        {"type": "web_search"},
    ],
    "tool_choice": "auto",
    "reasoning": {"effort": "high"},
    "max_output_tokens": 100,
    "stream": True,
    "store": False,
}


def test_parse_responses_request() -> None:
    req = openai_responses.parse_request(RESPONSES_BODY)
    assert req.source is Format.OPENAI_RESPONSE
    assert [m.role for m in req.messages] == [
        Role.USER,
        Role.USER,
        Role.ASSISTANT,
        Role.ASSISTANT,
        Role.ASSISTANT,
        Role.TOOL,
    ]
    assert req.messages[1].parts == [TextPart("see"), ImagePart(url="data:image/png;base64,AAA")]
    assert req.messages[2].parts == [ThinkingPart("thought", signature="E")]
    assert req.messages[4].parts == [ToolCallPart("call_1", "get", '{"city":"Oslo"}')]
    assert req.messages[5].parts == [ToolResultPart("call_1", '{"t":5}')]
    assert [(t.name, t.kind) for t in req.tools] == [("get", "function"), ("", "web_search")]
    assert req.tools[0].parameters == {"type": "object"}
    assert req.tool_choice is not None and req.tool_choice.mode == "auto"
    assert req.thinking == ThinkingConfig(ThinkingMode.LEVEL, level="high")
    assert (req.max_tokens, req.stream) == (100, True)
    assert req.extra == {"instructions": "Be brief.", "store": False}


def test_parse_responses_request_shapes() -> None:
    # String input is one user message; a role-less message of output_text parts is assistant;
    # input_file parts and a top-level function tool_choice are read.
    req = openai_responses.parse_request({"input": "hello"})
    assert [(m.role, m.parts, m.plain) for m in req.messages] == [(Role.USER, [TextPart("hello")], True)]
    req = openai_responses.parse_request(
        {
            "input": [
                {"type": "message", "content": [{"type": "output_text", "text": "x"}]},
                {"type": "message", "content": [{"type": "input_file", "filename": "a.pdf", "file_data": "Zg=="}]},
            ],
            "tool_choice": {"type": "function", "name": "get"},
        }
    )
    assert req.messages[0].role is Role.ASSISTANT
    assert req.messages[1].parts == [FilePart("a.pdf", "Zg==")]
    assert req.tool_choice is not None and (req.tool_choice.mode, req.tool_choice.name) == ("tool", "get")


# --- Responses client -> Claude upstream request (claude/openai/responses) -------------------


def to_claude(body: dict[str, Any]) -> dict[str, Any]:
    req = openai_responses.parse_request(body)
    return responses_upstream.render_claude_request(req, "claude-x", stream=True, user_id=USER_ID)


def test_responses_to_claude_request() -> None:
    # claude_openai-responses_request.go: instructions -> leading user message; one text part ->
    # string content; images as blocks; reasoning items dropped; each call/output its own message;
    # built-in tools left out; effort high -> budget 24576 (A2.9 table).
    assert to_claude(RESPONSES_BODY) == {
        "model": "claude-x",
        "max_tokens": 100,
        "messages": [
            {"role": "user", "content": "Be brief."},
            {"role": "user", "content": "hi"},
            {
                "role": "user",
                "content": [
                    {"type": "text", "text": "see"},
                    {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": "AAA"}},
                ],
            },
            {"role": "assistant", "content": "calling"},
            {
                "role": "assistant",
                "content": [{"type": "tool_use", "id": "call_1", "name": "get", "input": {"city": "Oslo"}}],
            },
            {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "call_1", "content": '{"t":5}'}]},
        ],
        "metadata": {"user_id": USER_ID},
        "thinking": {"type": "enabled", "budget_tokens": 24576},
        "stream": True,
        "tools": [{"name": "get", "description": "weather", "input_schema": {"type": "object"}}],
        "tool_choice": {"type": "auto"},
    }


def test_responses_to_claude_drops_non_function_tools() -> None:
    # Deviation: the legacy turns every tool into {name, description, input_schema}, so Codex
    # CLI's web_search arrives nameless and its namespace as a schemaless tool; Anthropic refuses
    # both. Only function tools are sent, and a choice is left out when none remain.
    namespace = {"type": "namespace", "name": "multi_agent_v1", "description": "sub-agents",
                 "tools": [{"type": "function", "name": "close_agent", "parameters": {"type": "object"}}]}
    function = {"type": "function", "name": "exec_command", "parameters": {"type": "object"}}
    body = {"input": "hi", "tools": [namespace, {"type": "web_search"}, function], "tool_choice": "required"}
    out = to_claude(body)
    assert out["tools"] == [{"name": "exec_command", "description": "", "input_schema": {"type": "object"}}]
    assert out["tool_choice"] == {"type": "any"}
    body["tools"] = [namespace, {"type": "web_search"}]
    assert not {"tools", "tool_choice"} & set(to_claude(body))
    # A choice naming a built-in tool has no Claude form either.
    body["tools"], body["tool_choice"] = [function], {"type": "web_search"}
    assert "tool_choice" not in to_claude(body)
    # Without any declared tools the client's choice is passed on, as the legacy does.
    assert to_claude({"input": "hi", "tool_choice": "auto"})["tool_choice"] == {"type": "auto"}


def test_responses_to_claude_system_item_and_defaults() -> None:
    # Without instructions the first system item's texts (newline-joined) lead as a user message
    # and system items are skipped; max_tokens defaults to 32000; a remote image is a url source.
    body = {
        "input": [
            {"role": "system", "content": [{"type": "input_text", "text": "A"}, {"type": "input_text", "text": "B"}]},
            {"role": "user", "content": [{"type": "input_image", "image_url": "https://x/i.png"}]},
            {"type": "function_call", "name": "f", "arguments": "not json"},
        ],
        "reasoning": {"effort": "none"},
        "tool_choice": "required",
    }
    out = to_claude(body)
    assert out["max_tokens"] == 32000
    assert out["thinking"] == {"type": "disabled"}
    assert out["tool_choice"] == {"type": "any"}
    messages = out["messages"]
    assert messages[0] == {"role": "user", "content": "A\nB"}
    assert messages[1] == {
        "role": "user",
        "content": [{"type": "image", "source": {"type": "url", "url": "https://x/i.png"}}],
    }
    tool_use = messages[2]["content"][0]
    assert re.fullmatch(r"toolu_[A-Za-z0-9]{24}", tool_use["id"])
    assert tool_use["input"] == {}
    assert len(messages) == 3


@pytest.mark.parametrize(
    ("choice", "expected"),
    [
        ("none", None),
        ({"type": "function", "name": "get"}, {"name": "get", "type": "tool"}),
        ({"type": "function", "function": {"name": "get"}}, {"name": "get", "type": "tool"}),
    ],
)
def test_responses_to_claude_tool_choice(choice: Any, expected: Any) -> None:
    # tool_choice mapping of the Claude translator ("none" leaves the field out).
    assert to_claude({"input": "x", "tool_choice": choice}).get("tool_choice") == expected


def test_responses_to_claude_auto_effort() -> None:
    assert to_claude({"input": "x", "reasoning": {"effort": " AUTO "}})["thinking"] == {"type": "enabled"}
    assert "thinking" not in to_claude({"input": "x", "reasoning": {"effort": "ultra"}})


# --- Responses client -> Gemini upstream request (gemini/openai/responses) -------------------


def to_gemini(body: dict[str, Any]) -> dict[str, Any]:
    return responses_upstream.render_gemini_request(openai_responses.parse_request(body), "gemini-2.5-pro")


def test_responses_to_gemini_request() -> None:
    # gemini_openai-responses_request.go: instructions -> system_instruction; output_text -> model;
    # data-URL image -> inline_data; functionCall with id + skip signature; functionResponse named
    # after its call, JSON output inlined; schema types upper-cased; effort -> thinkingLevel.
    out = to_gemini(RESPONSES_BODY)
    assert out == {
        "contents": [
            {"role": "user", "parts": [{"text": "hi"}]},
            {"role": "user", "parts": [{"text": "see"}, {"inline_data": {"mime_type": "image/png", "data": "AAA"}}]},
            {"role": "model", "parts": [{"text": "calling"}]},
            {
                "role": "model",
                "parts": [
                    {
                        "functionCall": {"name": "get", "args": {"city": "Oslo"}, "id": "call_1"},
                        "thoughtSignature": SKIP,
                    }
                ],
            },
            {
                "role": "function",
                "parts": [{"functionResponse": {"name": "get", "response": {"result": {"t": 5}}, "id": "call_1"}}],
            },
        ],
        "system_instruction": {"parts": [{"text": "Be brief."}]},
        "tools": [
            {
                "functionDeclarations": [
                    {"name": "get", "description": "weather", "parametersJsonSchema": {"type": "OBJECT"}}
                ]
            }
        ],
        "generationConfig": {
            "maxOutputTokens": 100,
            "thinkingConfig": {"thinkingLevel": "high", "includeThoughts": True},
        },
        "safetySettings": gemini.safety_settings(),
    }


def test_responses_to_gemini_pairs_calls_with_outputs() -> None:
    # A run of calls followed by a run of outputs is re-ordered call, output, call, output;
    # an output for an unknown call keeps its place after them with name "unknown"; a non-JSON
    # output stays a string; an empty output leaves response {}.
    body = {
        "input": [
            {"type": "function_call", "call_id": "a", "name": "fa", "arguments": "{}"},
            {"type": "function_call", "call_id": "b", "name": "fb", "arguments": ""},
            {"type": "function_call_output", "call_id": "b", "output": "plain"},
            {"type": "function_call_output", "call_id": "zz", "output": ""},
            {"type": "function_call_output", "call_id": "a", "output": "[1]"},
        ],
        "tools": [
            {
                "type": "function",
                "name": "fa",
                "parameters": {"type": "object", "properties": {"q": {"type": "string"}, "n": {"description": "x"}}},
            }
        ],
        "reasoning": {"effort": "auto"},
        "temperature": 0.5,
        "top_p": 0.9,
        "stop_sequences": ["END"],
    }
    out = to_gemini(body)
    parts = [c["parts"][0] for c in out["contents"]]
    assert parts == [
        {"functionCall": {"name": "fa", "args": {}, "id": "a"}, "thoughtSignature": SKIP},
        {"functionResponse": {"name": "fa", "response": {"result": [1]}, "id": "a"}},
        {"functionCall": {"name": "fb", "args": {}, "id": "b"}, "thoughtSignature": SKIP},
        {"functionResponse": {"name": "fb", "response": {"result": "plain"}, "id": "b"}},
        {"functionResponse": {"name": "unknown", "response": {}, "id": "zz"}},
    ]
    assert [c["role"] for c in out["contents"]] == ["model", "function", "model", "function", "function"]
    assert out["tools"][0]["functionDeclarations"][0]["parametersJsonSchema"] == {
        "type": "OBJECT",
        "properties": {"q": {"type": "STRING"}, "n": {"description": "x"}},
    }
    assert out["generationConfig"] == {
        "temperature": 0.5,
        "topP": 0.9,
        "stopSequences": ["END"],
        "thinkingConfig": {"thinkingBudget": -1, "includeThoughts": True},
    }
    assert "system_instruction" not in out


def test_responses_to_gemini_system_item() -> None:
    # A system item alone sets system_instruction, as in the legacy.
    body: dict[str, Any] = {
        "input": [
            {"role": "system", "content": [{"type": "input_text", "text": "S"}]},
            {"role": "user", "content": "u"},
        ]
    }
    out = to_gemini(body)
    assert out["system_instruction"] == {"parts": [{"text": "S"}]}
    assert out["contents"] == [{"role": "user", "parts": [{"text": "u"}]}]
    # Deviation: beside instructions it adds a part (the legacy drops it).
    body["instructions"] = "I"
    assert to_gemini(body)["system_instruction"] == {"parts": [{"text": "I"}, {"text": "S"}]}


def test_responses_to_gemini_developer_items_join_the_system_instruction() -> None:
    # Deviation: the legacy keeps role "developer" in contents, which the Gemini API refuses
    # (it takes user and model turns only). Codex CLI sends its permission and environment
    # notes this way; each developer or system item becomes one more part, in input order, and
    # one holding no text adds nothing (Gemini refuses empty text parts).
    body = {
        "instructions": "I",
        "input": [
            {"type": "message", "role": "developer", "content": [{"type": "input_text", "text": "D1"},
                                                                   {"type": "input_text", "text": "D2"}]},
            {"role": "user", "content": "u"},
            {"role": "developer", "content": "D3"},
            {"role": "system", "content": [{"type": "input_text", "text": "S"}]},
            {"role": "developer", "content": ""},
            {"role": "assistant", "content": [{"type": "output_text", "text": "a"}]},
        ],
    }
    out = to_gemini(body)
    assert out["system_instruction"] == {"parts": [{"text": "I"}, {"text": "D1\nD2"}, {"text": "D3"}, {"text": "S"}]}
    assert out["contents"] == [{"role": "user", "parts": [{"text": "u"}]}, {"role": "model", "parts": [{"text": "a"}]}]
    assert list(out) == ["contents", "system_instruction", "safetySettings"]
    # Without instructions the first item with text creates the instruction.
    only = to_gemini({"input": [{"role": "system", "content": ""}, {"role": "developer", "content": "D"}]})
    assert (only["system_instruction"], only["contents"]) == ({"parts": [{"text": "D"}]}, [])
    assert "system_instruction" not in to_gemini({"input": [{"role": "developer", "content": [], "type": "message"}]})


def test_responses_to_claude_system_item_beside_instructions() -> None:
    # With instructions set, a system item is an ordinary message whose input_text parts make it
    # a user message; with string content it keeps the role "system" (legacy role fallback).
    body = {
        "instructions": "I",
        "input": [
            {"role": "system", "content": [{"type": "input_text", "text": "S"}]},
            {"role": "system", "content": "T"},
            {"role": "developer", "content": "D"},
        ],
    }
    assert to_claude(body)["messages"] == [
        {"role": "user", "content": "I"},
        {"role": "user", "content": "S"},
        {"role": "system", "content": "T"},
        {"role": "user", "content": "D"},
    ]


def test_responses_to_gemini_null_instructions() -> None:
    assert to_gemini({"instructions": None, "input": "x"})["system_instruction"] == {"parts": [{"text": ""}]}


def test_gemini_function_call_with_arguments_that_are_not_json_goes_up_with_empty_args() -> None:
    # docs/compatibility.md row 11: the legacy splices the text in raw, making the body invalid JSON.
    body = {"model": "m", "input": [
        {"type": "function_call", "call_id": "c1", "name": "f", "arguments": "{not json"},
        {"type": "function_call_output", "call_id": "c1", "output": "ok"},
    ]}
    out = responses_upstream.render_gemini_request(openai_responses.parse_request(body), "gemini-2.5-pro")
    assert out["contents"][0]["parts"][0]["functionCall"] == {"name": "f", "args": {}, "id": "c1"}


def test_responses_to_gemini_array_types_go_as_their_upper_cased_json_text() -> None:
    # strings.ToUpper(type.String()) (gemini_openai-responses_request.go:329-335); a null type is "".
    body = {"model": "g", "input": "hi", "tools": [{"type": "function", "name": "f", "parameters": {
        "type": "object", "properties": {"a": {"type": ["string", "null"]}, "b": {"type": None}}}}]}
    properties = to_gemini(body)["tools"][0]["functionDeclarations"][0]["parametersJsonSchema"]["properties"]
    assert properties == {"a": {"type": '["STRING","NULL"]'}, "b": {"type": ""}}


def test_a_text_part_without_text_adds_nothing_and_null_text_is_empty() -> None:
    # Both legacy request translators add a text only when the key exists (a null counts, as "").
    body = {"model": "m", "input": [
        {"role": "user", "content": [{"type": "input_text"}]},
        {"role": "user", "content": [{"type": "input_text", "text": "hi"}, {"type": "input_text", "text": None}]},
    ]}
    claude_body = responses_upstream.render_claude_request(openai_responses.parse_request(body), "claude-x",
                                                           stream=True, user_id="UID")
    assert claude_body["messages"] == [{"role": "user", "content": [{"type": "text", "text": "hi"},
                                                                    {"type": "text", "text": ""}]}]
    gemini_body = responses_upstream.render_gemini_request(openai_responses.parse_request(body), "gem")
    assert gemini_body["contents"] == [{"role": "user", "parts": [{"text": "hi"}, {"text": ""}]}]


def test_a_system_item_reads_the_text_of_every_part_whatever_its_type() -> None:
    # Both legacy request translators take a system item's text from each part's "text" (chat-style
    # {"type":"text"} parts included), joined by newlines with empty texts skipped.
    body = {"model": "m", "input": [
        {"role": "system", "content": [{"type": "text", "text": "sys"}, {"type": "image"}, {"text": "more"}]},
        {"role": "user", "content": [{"type": "input_text", "text": "hi"}]},
    ]}
    claude_body = responses_upstream.render_claude_request(openai_responses.parse_request(body), "claude-x",
                                                           stream=True, user_id="UID")
    assert claude_body["messages"] == [{"role": "user", "content": "sys\nmore"},
                                       {"role": "user", "content": "hi"}]
    gemini_body = responses_upstream.render_gemini_request(openai_responses.parse_request(body), "gem")
    assert gemini_body["system_instruction"] == {"parts": [{"text": "sys\nmore"}]}
    assert gemini_body["contents"] == [{"role": "user", "parts": [{"text": "hi"}]}]
