"""What the legacy tokenizes for a local count, and which encoding it picks (token_helpers.go,
codex_executor.go)."""

from __future__ import annotations

import pytest

from handlers.translation.token_count import (
    CL100K,
    O200K,
    codex_encoding,
    codex_input_text,
    codex_usage,
    openai_chat_text,
    openai_encoding,
    openai_usage,
)

PARAMS = {"type": "object", "properties": {"city": {"type": "string"}}}


@pytest.mark.parametrize(("model", "encoding"), [
    ("", CL100K), ("  ", CL100K), ("gpt-5", O200K), ("GPT-5.1-codex", O200K), ("gpt-4.1-mini", O200K),
    ("gpt-4o", O200K), ("gpt-4-turbo", CL100K), ("gpt-3.5-turbo", CL100K), ("o1-mini", O200K), ("o3", O200K),
    ("o4-mini", O200K), ("qwen3-coder-plus", O200K), ("deepseek-v3", O200K),
])
def test_openai_encoding_defaults_to_o200k(model: str, encoding: str) -> None:
    assert openai_encoding(model) == encoding


@pytest.mark.parametrize(("model", "encoding"), [
    ("", CL100K), ("gpt-5-codex", O200K), ("gpt-4.1", O200K), ("gpt-4o-mini", O200K), ("gpt-4", CL100K),
    ("gpt-3.5-turbo", CL100K), ("o3", CL100K), ("codex-mini-latest", CL100K),
])
def test_codex_encoding_defaults_to_cl100k(model: str, encoding: str) -> None:
    assert codex_encoding(model) == encoding


def test_chat_segments_in_the_legacy_order() -> None:
    body = {
        "model": "m",
        "messages": [
            {"role": "system", "content": "  Be brief.  "},
            {"role": "user", "name": "ann", "content": [
                {"type": "text", "text": "look"},
                {"type": "image_url", "image_url": {"url": "data:image/png;base64,AAAA"}},
                {"type": "input_audio", "id": "aud_1"},
                {"type": "tool_result", "name": "probe", "content": [{"type": "text", "text": "ok"}]},
                {"type": "custom", "value": 1},
                "bare",
            ]},
            {"role": "assistant", "content": None, "tool_calls": [
                {"id": "call_1", "type": "function",
                 "function": {"name": "weather", "arguments": '{"city":"Paris"}'}}]},
            {"role": "tool", "content": "sunny", "function_call": {"name": "old", "arguments": "{}"}},
        ],
        "tools": [{"type": "function",
                   "function": {"name": "weather", "description": "Weather", "parameters": PARAMS}}],
        "functions": [{"name": "legacy_fn", "description": "d", "parameters": {"type": "object"}}],
        "tool_choice": {"type": "function", "function": {"name": "weather"}},
        "response_format": {"type": "json_schema", "json_schema": {"name": "out"}},
        "input": "extra input",
        "prompt": "a prompt",
        "temperature": 0.5,
    }
    assert openai_chat_text(body).split("\n") == [
        "system", "Be brief.",
        "user", "ann", "look", "data:image/png;base64,AAAA", "aud_1", "probe", "ok",
        '{"type":"custom","value":1}', "bare",
        "assistant", "call_1", "function", "weather", '{"city":"Paris"}',
        "tool", "sunny", "old", "{}",
        "function", "weather", "Weather", '{"type":"object","properties":{"city":{"type":"string"}}}',
        "legacy_fn", "d", '{"type":"object"}',
        '{"type":"function","function":{"name":"weather"}}',
        "json_schema", '{"name":"out"}',
        "extra input", "a prompt",
    ]


def test_chat_string_tool_choice_and_blank_values() -> None:
    body = {"messages": [{"role": "user", "content": "   "}, {"role": " ", "content": ""}], "tool_choice": "auto"}
    assert openai_chat_text(body) == "user\nauto"


def test_chat_with_nothing_to_count_is_empty() -> None:
    assert openai_chat_text({"model": "m", "messages": [], "max_tokens": 5}) == ""
    assert openai_chat_text({"messages": "not a list", "tools": None}) == ""


def test_codex_segments() -> None:
    body = {
        "model": "gpt-5", "instructions": " You are Codex. ",
        "input": [
            {"type": "message", "role": "user", "content": [{"type": "input_text", "text": "fix it"},
                                                            {"type": "input_image", "image_url": "data:x"}]},
            {"type": "function_call", "name": "shell", "arguments": '{"cmd":"ls"}', "call_id": "c1"},
            {"type": "function_call_output", "call_id": "c1", "output": "a.txt"},
            {"type": "reasoning", "text": "thought"},
        ],
        "tools": [{"type": "function", "name": "shell", "description": "Run", "parameters": PARAMS},
                  {"type": "web_search"}, {"name": "raw", "parameters": '{"type":"string"}'}],
        "text": {"format": {"type": "json_schema", "name": "answer", "schema": {"type": "object"}}},
        "stream": True,
    }
    assert codex_input_text(body).split("\n") == [
        "You are Codex.", "fix it", "shell", '{"cmd":"ls"}', "a.txt", "thought",
        "shell", "Run", '{"type":"object","properties":{"city":{"type":"string"}}}', "raw", '{"type":"string"}',
        "answer", '{"type":"object"}',
    ]


def test_codex_with_nothing_to_count_is_empty() -> None:
    assert codex_input_text({"model": "gpt-5", "instructions": "", "input": []}) == ""


def test_usage_shapes_are_the_legacys() -> None:
    assert openai_usage(7) == {"usage": {"prompt_tokens": 7, "completion_tokens": 0, "total_tokens": 7}}
    assert codex_usage(7) == {"response": {"usage": {"input_tokens": 7, "output_tokens": 0, "total_tokens": 7}}}
