"""Antigravity upstream requests: Claude (A2.13, A4.2 #1-9), OpenAI chat, Gemini (A4.2 #10) and
Responses clients."""

from __future__ import annotations

from typing import Any

import pytest

from handlers.translation import antigravity_request as ag
from handlers.translation.antigravity_signatures import SignatureCache, session_id
from handlers.translation.gemini_cli_request import EnvelopeError
from handlers.translation.gemini_request import safety_settings
from handlers.translation.openai_responses import parse_request as parse_responses

SKIP = "skip_thought_signature_validator"
SIG = "s" * 60
THINKING_MODEL = "claude-sonnet-4-5-thinking"


def claude(
    body: dict[str, Any], model: str = "claude-sonnet-4-5", cache: SignatureCache | None = None
) -> dict[str, Any]:
    return ag.render_claude_request(body, model, cache=cache if cache is not None else SignatureCache())


def user(text: str) -> dict[str, Any]:
    return {"role": "user", "content": [{"type": "text", "text": text}]}


# --- Claude client --------------------------------------------------------------------------


def test_basic_envelope_and_system() -> None:
    # A4.2 #1 and #2
    body = {
        "system": [{"type": "text", "text": "You are helpful"}],
        "messages": [user("Hello"), {"role": "assistant", "content": [{"type": "text", "text": "Hi"}]}],
    }
    assert claude(body) == {
        "model": "claude-sonnet-4-5",
        "request": {
            "contents": [
                {"role": "user", "parts": [{"text": "Hello"}]},
                {"role": "model", "parts": [{"text": "Hi"}]},
            ],
            "systemInstruction": {"role": "user", "parts": [{"text": "You are helpful"}]},
            "safetySettings": safety_settings(),
        },
    }


def test_string_system_and_string_content() -> None:
    out = claude({"system": "S", "messages": [{"role": "user", "content": ""}]})["request"]
    assert out["systemInstruction"] == {"role": "user", "parts": [{"text": "S"}]}
    assert out["contents"] == [{"role": "user", "parts": [{}]}]


def test_tool_use_becomes_function_call_with_id_and_skip_signature() -> None:
    # A4.2 #3: string input is parsed
    block = {"type": "tool_use", "id": "call_123", "name": "get_weather", "input": '{"location": "Paris"}'}
    out = claude({"messages": [{"role": "assistant", "content": [block]}]})
    assert out["request"]["contents"][0]["parts"] == [
        {
            "thoughtSignature": SKIP,
            "functionCall": {"id": "call_123", "name": "get_weather", "args": {"location": "Paris"}},
        }
    ]


def test_tool_use_with_unparsable_input_is_dropped() -> None:
    block = {"type": "tool_use", "id": "c", "name": "f", "input": "not json"}
    assert claude({"messages": [{"role": "assistant", "content": [block]}]})["request"]["contents"][0]["parts"] == []


@pytest.mark.parametrize(
    ("content", "result"),
    [
        ("22C sunny", "22C sunny"),
        ([{"type": "text", "text": "one"}], {"type": "text", "text": "one"}),
        (
            [{"type": "text", "text": "a"}, {"type": "text", "text": "b"}],
            [{"type": "text", "text": "a"}, {"type": "text", "text": "b"}],
        ),
        ({"k": 1}, {"k": 1}),
    ],
)
def test_tool_result_keeps_id_and_recovers_name(content: Any, result: Any) -> None:
    # A4.2 #4
    block = {"type": "tool_result", "tool_use_id": "get_weather-call-123", "content": content}
    part = claude({"messages": [{"role": "user", "content": [block]}]})["request"]["contents"][0]["parts"][0]
    assert part == {
        "functionResponse": {"id": "get_weather-call-123", "name": "get_weather", "response": {"result": result}}
    }


def test_tool_result_name_rules_for_other_ids() -> None:
    blocks = [
        {"type": "tool_result", "tool_use_id": "toolu_abc", "content": "x"},
        {"type": "tool_result", "tool_use_id": "a-b", "content": "x"},
    ]
    parts = claude({"messages": [{"role": "user", "content": blocks}]})["request"]["contents"][0]["parts"]
    assert [p["functionResponse"]["name"] for p in parts] == ["toolu_abc", ""]


def test_unsigned_thinking_is_dropped_and_disables_thinking_config() -> None:
    # A4.2 #5
    body = {
        "thinking": {"type": "enabled", "budget_tokens": 8000},
        "messages": [
            user("q"),
            {
                "role": "assistant",
                "content": [{"type": "thinking", "thinking": "Let me think..."}, {"type": "text", "text": "Answer"}],
            },
        ],
    }
    out = claude(body, THINKING_MODEL)["request"]
    assert out["contents"][1]["parts"] == [{"text": "Answer"}]
    assert "generationConfig" not in out


def test_cached_signature_is_used_reordered_and_shared_with_tool_use() -> None:
    # A4.2 #6
    cache = SignatureCache()
    body = {
        "messages": [
            user("Hello world"),
            {
                "role": "assistant",
                "content": [
                    {"type": "text", "text": "Answer"},
                    {"type": "thinking", "thinking": "Let me think...", "signature": "stale"},
                    {"type": "tool_use", "id": "t1", "name": "f", "input": {}},
                ],
            },
        ]
    }
    cache.put(THINKING_MODEL, session_id(body), "Let me think...", SIG)
    parts = claude(body, THINKING_MODEL, cache)["request"]["contents"][1]["parts"]
    assert parts == [
        {"thought": True, "text": "Let me think...", "thoughtSignature": SIG},
        {"text": "Answer"},
        {"thoughtSignature": SIG, "functionCall": {"id": "t1", "name": "f", "args": {}}},
    ]


def test_client_signature_accepted_only_for_this_model() -> None:
    def parts(signature: str) -> list[dict[str, Any]]:
        block = {"type": "thinking", "thinking": "T", "signature": signature}
        body = {"messages": [{"role": "assistant", "content": [block]}]}
        return claude(body, THINKING_MODEL)["request"]["contents"][0]["parts"]

    assert parts(f"{THINKING_MODEL}#{SIG}") == [{"thought": True, "text": "T", "thoughtSignature": SIG}]
    assert parts(f"claude#{SIG}") == []
    assert parts(f"{THINKING_MODEL}#short") == []


def test_thinking_budget_and_generation_config() -> None:
    # A4.2 #7
    body = {
        "thinking": {"type": "enabled", "budget_tokens": 8000},
        "temperature": 0.7,
        "top_p": 0.9,
        "top_k": 40,
        "max_tokens": 2000.0,
        "messages": [user("x")],
    }
    assert claude(body)["request"]["generationConfig"] == {
        "thinkingConfig": {"thinkingBudget": 8000, "includeThoughts": True},
        "temperature": 0.7,
        "topP": 0.9,
        "topK": 40,
        "maxOutputTokens": 2000,
    }


def test_image_becomes_inline_data() -> None:
    # A4.2 #8
    image = {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": "AAA"}}
    url_image = {"type": "image", "source": {"type": "url", "url": "https://x"}}
    parts = claude({"messages": [{"role": "user", "content": [image, url_image]}]})["request"]["contents"][0]["parts"]
    assert parts == [{"inlineData": {"mime_type": "image/png", "data": "AAA"}}]


TOOL = {
    "name": "get",
    "description": "d",
    "input_schema": {"type": "object", "properties": {"u": {"type": "string", "format": "uri"}}, "required": ["u"]},
    "cache_control": {"type": "ephemeral"},
    "type": "custom",
}


def test_tools_are_cleaned_and_filtered() -> None:
    out = claude({"tools": [TOOL, {"name": "no_schema"}], "messages": [user("x")]})["request"]
    assert out["tools"] == [
        {
            "functionDeclarations": [
                {
                    "name": "get",
                    "description": "d",
                    "parametersJsonSchema": {
                        "type": "object",
                        "properties": {"u": {"type": "string", "description": "format: uri"}},
                        "required": ["u"],
                    },
                }
            ]
        }
    ]


@pytest.mark.parametrize(
    ("model", "tools", "thinking", "system", "expected"),
    [
        (THINKING_MODEL, True, True, "S", [{"text": "S"}, {"text": ag.INTERLEAVED_HINT}]),
        (THINKING_MODEL, True, True, None, [{"text": ag.INTERLEAVED_HINT}]),
        ("claude-sonnet-4-5", True, True, "S", [{"text": "S"}]),
        (THINKING_MODEL, False, True, "S", [{"text": "S"}]),
        (THINKING_MODEL, True, False, "S", [{"text": "S"}]),
    ],
)
def test_interleaved_hint(model: str, tools: bool, thinking: bool, system: str | None, expected: list[Any]) -> None:
    # A4.2 #9
    body: dict[str, Any] = {"messages": [user("x")]}
    if tools:
        body["tools"] = [TOOL]
    if thinking:
        body["thinking"] = {"type": "enabled", "budget_tokens": 1024}
    if system is not None:
        body["system"] = system
    assert claude(body, model)["request"]["systemInstruction"]["parts"] == expected


def test_count_tokens() -> None:
    assert ag.render_count_tokens(7) == {"input_tokens": 7}


def test_session_id_sources() -> None:
    assert session_id({"metadata": {"user_id": "user_x_account_y_session_abc-123"}}) == "abc-123"
    first = session_id({"messages": [{"role": "user", "content": "hello"}]})
    assert len(first) == 32 and first == session_id({"messages": [{"role": "user", "content": "hello"}]})
    assert session_id({"messages": [{"role": "assistant", "content": "x"}]}) == ""


# --- OpenAI chat client ---------------------------------------------------------------------


def test_openai_request_envelope() -> None:
    body = {
        "reasoning_effort": " High ",
        "temperature": 1,
        "max_tokens": 100,
        "n": 2,
        "messages": [
            {"role": "system", "content": "S"},
            {"role": "user", "content": [{"type": "text", "text": ""}, {"type": "text", "text": "U"}]},
            {
                "role": "assistant",
                "content": "",
                "tool_calls": [
                    {"id": "c1", "type": "function", "function": {"name": "get", "arguments": '{"a":1}'}},
                    {"id": "c2", "type": "function", "function": {"name": "raw", "arguments": "not json"}},
                    {"id": "c3", "type": "function", "function": {"name": "nul", "arguments": "{}"}},
                ],
            },
            {"role": "tool", "tool_call_id": "c1", "content": '{"r":2}'},
            {"role": "tool", "tool_call_id": "c2", "content": [{"type": "text", "text": "t"}]},
            {"role": "tool", "tool_call_id": "c3", "content": None},
        ],
        "tools": [
            {"type": "function", "function": {"name": "get", "parameters": {"type": "object"}, "strict": True}},
            {"type": "function", "function": {"name": "bare"}},
            {"google_search": {}},
        ],
    }
    assert ag.render_openai_request(body, "gemini-3-pro") == {
        "project": "",
        "request": {
            "contents": [
                {"role": "user", "parts": [{"text": "U"}]},
                {
                    "role": "model",
                    "parts": [
                        {"functionCall": {"id": "c1", "name": "get", "args": {"a": 1}}, "thoughtSignature": SKIP},
                        {
                            "functionCall": {"id": "c2", "name": "raw", "args": {"params": "not json"}},
                            "thoughtSignature": SKIP,
                        },
                        {"functionCall": {"id": "c3", "name": "nul", "args": {}}, "thoughtSignature": SKIP},
                    ],
                },
                {
                    "role": "user",
                    "parts": [
                        {"functionResponse": {"id": "c1", "name": "get", "response": {"result": '"{\\"r\\":2}"'}}},
                        {
                            "functionResponse": {
                                "id": "c2",
                                "name": "raw",
                                "response": {"result": [{"type": "text", "text": "t"}]},
                            }
                        },
                        {"functionResponse": {"id": "c3", "name": "nul"}},
                    ],
                },
            ],
            "generationConfig": {
                "thinkingConfig": {"thinkingLevel": "high", "includeThoughts": True},
                "temperature": 1,
                "maxOutputTokens": 100,
                "candidateCount": 2,
            },
            "systemInstruction": {"role": "user", "parts": [{"text": "S"}]},
            "tools": [
                {
                    "functionDeclarations": [
                        {"name": "get", "parametersJsonSchema": {"type": "object"}},
                        {"name": "bare", "parametersJsonSchema": {"type": "object", "properties": {}}},
                    ],
                    "googleSearch": {},
                }
            ],
            "safetySettings": safety_settings(),
        },
        "model": "gemini-3-pro",
    }


def test_openai_request_key_order() -> None:
    body = {"temperature": 0.5, "messages": [{"role": "system", "content": "S"}, {"role": "user", "content": "U"}]}
    body["tools"] = [{"type": "function", "function": {"name": "f", "parameters": {}, "description": "d"}}]
    out = ag.render_openai_request(body, "m")
    assert list(out) == ["project", "request", "model"]
    assert list(out["request"]) == ["contents", "generationConfig", "systemInstruction", "tools", "safetySettings"]
    assert list(out["request"]["tools"][0]["functionDeclarations"][0]) == [
        "name",
        "description",
        "parametersJsonSchema",
    ]


def test_claude_request_key_order() -> None:
    body = {"system": "S", "temperature": 1, "tools": [TOOL], "messages": [user("x")]}
    assert list(claude(body)["request"]) == [
        "contents",
        "systemInstruction",
        "tools",
        "generationConfig",
        "safetySettings",
    ]


def test_openai_lone_system_message_and_images() -> None:
    body = {
        "reasoning_effort": "auto",
        "messages": [
            {
                "role": "system",
                "content": [
                    {"type": "image_url", "image_url": {"url": "data:image/png;base64,AAA"}},
                    {"type": "image_url", "image_url": {"url": "https://x/y.png"}},
                    {"type": "file", "file": {"filename": "a.pdf", "file_data": "PDF"}},
                    {"type": "file", "file": {"filename": "a.unknownext", "file_data": "X"}},
                ],
            }
        ],
    }
    out = ag.render_openai_request(body, "m")["request"]
    assert out["generationConfig"] == {"thinkingConfig": {"thinkingBudget": -1, "includeThoughts": True}}
    assert out["contents"] == [
        {
            "role": "user",
            "parts": [
                {"inlineData": {"mime_type": "image/png", "data": "AAA"}, "thoughtSignature": SKIP},
                {"inlineData": {"mime_type": "application/pdf", "data": "PDF"}},
            ],
        }
    ]
    assert "systemInstruction" not in out


def test_openai_unanswered_call_gets_empty_object_result() -> None:
    body = {
        "messages": [
            {"role": "user", "content": "q"},
            {
                "role": "assistant",
                "tool_calls": [{"id": "c", "type": "function", "function": {"name": "f", "arguments": ""}}],
            },
        ]
    }
    contents = ag.render_openai_request(body, "m")["request"]["contents"]
    assert contents[1]["parts"][0]["functionCall"]["args"] == {"params": ""}
    assert contents[2] == {
        "role": "user",
        "parts": [{"functionResponse": {"id": "c", "name": "f", "response": {"result": {}}}}],
    }


# --- Gemini client (shared envelope) ----------------------------------------------------------


def test_gemini_request_signatures_and_thoughts() -> None:
    # A4.2 #10
    body = {
        "contents": [
            {"role": "user", "parts": [{"text": "q"}]},
            {
                "role": "model",
                "parts": [
                    {"thought": True, "text": "hmm"},
                    {"functionCall": {"name": "test_tool", "args": {}}},
                    {"functionCall": {"name": "kept", "args": {}}, "thoughtSignature": SIG},
                ],
            },
        ]
    }
    out = ag.render_gemini_request(body, "gemini-3-pro")
    assert out["request"]["contents"][1]["parts"] == [
        {"functionCall": {"name": "test_tool", "args": {}}, "thoughtSignature": SKIP},
        {"functionCall": {"name": "kept", "args": {}}, "thoughtSignature": SIG},
    ]
    assert out["model"] == "gemini-3-pro" and out["project"] == ""
    assert body["contents"][1]["parts"][0] == {"thought": True, "text": "hmm"}  # input untouched


def test_gemini_request_regroups_answers_and_repairs_roles() -> None:
    call = {"functionCall": {"name": "f", "args": {}}}
    answer = {"functionResponse": {"name": "f", "response": {"result": 1}}}
    body = {
        "model": "ignored",
        "system_instruction": {"parts": [{"text": "S"}]},
        "contents": [
            {"parts": [{"text": "q"}]},
            {"role": "model", "parts": [call, call]},
            {"role": "user", "parts": [answer, {"text": "dropped with the answers"}]},
            {"role": "user", "parts": [answer]},
            {"role": "bogus", "parts": [{"text": "after"}]},
        ],
        "tools": [{"function_declarations": [{"name": "f", "parameters": {"type": "object"}, "description": "d"}]}],
        "safetySettings": [],
    }
    request = ag.render_gemini_request(body, "m")["request"]
    assert request == {
        "contents": [
            {"parts": [{"text": "q"}], "role": "user"},
            {"role": "model", "parts": [{**call, "thoughtSignature": SKIP}, {**call, "thoughtSignature": SKIP}]},
            {"parts": [answer, answer], "role": "user"},
            {"role": "model", "parts": [{"text": "after"}]},
        ],
        "tools": [
            {"function_declarations": [{"name": "f", "description": "d", "parametersJsonSchema": {"type": "object"}}]}
        ],
        "safetySettings": [],
        "systemInstruction": {"parts": [{"text": "S"}]},
    }


def test_gemini_request_without_contents_is_refused() -> None:
    with pytest.raises(EnvelopeError, match="contents not found"):
        ag.render_gemini_request({"generationConfig": {}}, "m")


def test_responses_request_goes_through_the_gemini_body() -> None:
    body = {"instructions": "I", "input": [{"role": "user", "content": [{"type": "input_text", "text": "hi"}]}]}
    out = ag.render_responses_request(parse_responses(body), "m")
    assert out["request"]["contents"] == [{"role": "user", "parts": [{"text": "hi"}]}]
    assert out["request"]["systemInstruction"] == {"parts": [{"text": "I"}]}
    assert out["model"] == "m"


def test_openai_tool_message_without_content_answers_an_empty_object() -> None:
    # antigravity_openai_request.go:136-137 stores gjson's raw text, "" for a missing key, which
    # :282-285 turns into "{}"; a JSON null leaves ``response`` out (the test above).
    body = {"messages": [
        {"role": "user", "content": "hi"},
        {"role": "assistant", "tool_calls": [{"id": "c1", "type": "function",
                                              "function": {"name": "f", "arguments": "{}"}}]},
        {"role": "tool", "tool_call_id": "c1"},
    ]}
    contents = ag.render_openai_request(body, "gemini-3-pro")["request"]["contents"]
    assert contents[-1] == {"role": "user", "parts": [
        {"functionResponse": {"id": "c1", "name": "f", "response": {"result": {}}}}]}
