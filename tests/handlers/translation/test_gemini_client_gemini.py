"""Gemini-family pairs around Gemini clients: ``gemini/gemini`` (request fixups, passthrough),
``gemini-cli/gemini`` (envelope, tool-response grouping, unwrapping) and ``gemini/gemini-cli``
(Gemini CLI client: envelope opened, answers wrapped). Read from the Go source at 9b72ea9ef;
reference A2.13 for the envelope."""

from __future__ import annotations

from typing import Any

import orjson

from handlers.translation import gemini_client_gemini as family
from handlers.translation.gemini_request import safety_settings

SKIP = "skip_thought_signature_validator"


# --- gemini/gemini ----------------------------------------------------------------------------


def test_body_without_contents_only_gains_safety_settings() -> None:
    body = {"tools": [{"functionDeclarations": [{"name": "f", "parameters": {}}]}]}
    out = family.fix_gemini_request(body)
    assert out == {**body, "safetySettings": safety_settings()}
    assert body == {"tools": [{"functionDeclarations": [{"name": "f", "parameters": {}}]}]}  # not mutated


def test_fixups_tools_roles_signatures_schema_and_safety() -> None:
    body = {
        "contents": [
            {"parts": [{"text": "a"}]},
            {"role": "assistant", "parts": [{"text": "b"}]},
            {"role": "model", "parts": [{"functionCall": {"name": "f"}}, {"text": "t", "thoughtSignature": "sig"},
                                        {"text": "plain"}]},
            {"role": "tool", "parts": [{"functionResponse": {"name": "f"}}]},
            {"role": "user", "parts": [{"text": "c", "thoughtSignature": "kept"}]},
        ],
        "tools": [
            {"functionDeclarations": [{"name": "f", "parameters": {"type": "object"}, "description": "d"}]},
            {"function_declarations": [{"name": "g", "parameters": {}, "parametersJsonSchema": {"old": 1}}]},
            {"googleSearch": {}},
        ],
        "generationConfig": {"responseSchema": {"type": "object"}, "temperature": 0},
        "safetySettings": [],
    }
    out = family.fix_gemini_request(body)
    assert [c["role"] for c in out["contents"]] == ["user", "model", "model", "user", "user"]
    assert out["contents"][2]["parts"] == [
        {"functionCall": {"name": "f"}, "thoughtSignature": SKIP},
        {"text": "t", "thoughtSignature": SKIP},
        {"text": "plain"},
    ]
    assert out["contents"][4]["parts"] == [{"text": "c", "thoughtSignature": "kept"}]  # user parts untouched
    assert out["tools"] == [
        {"function_declarations": [{"name": "f", "description": "d", "parametersJsonSchema": {"type": "object"}}]},
        # An existing parametersJsonSchema is overwritten in place by parameters.
        {"function_declarations": [{"name": "g", "parametersJsonSchema": {}}]},
        {"googleSearch": {}},
    ]
    assert out["generationConfig"] == {"temperature": 0, "responseJsonSchema": {"type": "object"}}
    assert out["safetySettings"] == []  # present, so kept as sent


def test_roles_alternate_after_the_previous_one() -> None:
    out = family.fix_gemini_request({"contents": [{"role": "model"}, {}, {}, "junk", {"role": "x"}]})
    assert [c["role"] if isinstance(c, dict) else c for c in out["contents"]] == ["model", "user", "model", "junk",
                                                                                 "user"]


# --- gemini-cli/gemini ------------------------------------------------------------------------


def call(name: str) -> dict[str, Any]:
    return {"functionCall": {"name": name, "args": {}}}


def answer(name: str) -> dict[str, Any]:
    return {"functionResponse": {"name": name, "response": {"ok": True}}}


def test_cli_envelope_roles_tools_and_safety() -> None:
    body = {
        "model": "ignored",
        "system_instruction": {"parts": [{"text": "S"}]},
        "contents": [{"parts": [{"text": "hi"}]}],
        "tools": [
            {"function_declarations": [{"name": "f", "parameters": {"type": "object"}}]},
            {"functionDeclarations": [{"name": "g", "parameters": {}}]},
        ],
    }
    out = family.to_cli_request(body, "gemini-2.5-pro")
    assert list(out) == ["project", "request", "model"]
    assert (out["project"], out["model"]) == ("", "gemini-2.5-pro")
    assert out["request"] == {
        "contents": [{"parts": [{"text": "hi"}], "role": "user"}],
        "tools": [
            {"function_declarations": [{"name": "f", "parametersJsonSchema": {"type": "object"}}]},
            # camelCase declarations are not renamed by this pair
            {"functionDeclarations": [{"name": "g", "parameters": {}}]},
        ],
        "systemInstruction": {"parts": [{"text": "S"}]},
        "safetySettings": safety_settings(),
    }
    assert "model" in body  # the client body is left alone


def test_cli_grouping_merges_answers_behind_their_calls() -> None:
    contents = [
        {"role": "user", "parts": [{"text": "go"}]},
        {"role": "model", "parts": [call("a"), call("b")]},
        {"role": "user", "parts": [answer("a")]},
        {"role": "user", "parts": [answer("b"), {"text": "dropped with its content"}]},
        {"role": "model", "parts": [{"text": "done"}]},
    ]
    out = family.to_cli_request({"contents": contents}, "m")["request"]["contents"]
    assert out == [
        {"role": "user", "parts": [{"text": "go"}]},
        {"role": "model", "parts": [{**call("a"), "thoughtSignature": SKIP}, {**call("b"), "thoughtSignature": SKIP}]},
        # role "function" from the grouping is then normalised after the model turn
        {"parts": [answer("a"), answer("b")], "role": "user"},
        {"role": "model", "parts": [{"text": "done"}]},
    ]


def test_cli_grouping_latest_group_first_leftovers_in_order_and_unmatched_dropped() -> None:
    contents = [
        {"role": "model", "parts": [call("a"), call("b")]},
        {"role": "model", "parts": [call("c")]},
        {"role": "user", "parts": [answer("c")]},
        {"role": "user", "parts": [answer("a")]},
    ]
    assert family.group_tool_responses(contents) == [
        contents[0],
        contents[1],
        {"parts": [answer("c")], "role": "function"},
        # the first group needs two answers and gets only one: never closed, answer dropped
    ]
    leftovers = [
        {"role": "model", "parts": [call("a")]},
        {"role": "model", "parts": [call("b"), call("c")]},
        {"role": "user", "parts": [answer("x")]},  # too few for the newest group (2), enough for the older (1)
        {"role": "user", "parts": [answer("y"), answer("z")]},
    ]
    assert family.group_tool_responses(leftovers) == [
        leftovers[0],
        leftovers[1],
        {"parts": [answer("x")], "role": "function"},
        {"parts": [answer("y"), answer("z")], "role": "function"},
    ]
    late = [{"role": "user", "parts": [answer("early")]}, {"role": "model", "parts": [call("q")]}, "junk"]
    # an answer before its call waits in the queue and closes the group at the end
    assert family.group_tool_responses(late) == [late[1], {"parts": [answer("early")], "role": "function"}]


def test_cli_request_without_contents_skips_grouping() -> None:
    out = family.to_cli_request({"systemInstruction": {"parts": []}}, "m")
    assert out["request"] == {"systemInstruction": {"parts": []}, "safetySettings": safety_settings()}


def test_cli_answers_unwrap() -> None:
    assert family.unwrap_cli_response({"response": {"candidates": []}, "traceId": "t"}) == {"candidates": []}
    assert family.unwrap_cli_response({"candidates": []}) == {"candidates": []}
    array = orjson.dumps([{"response": {"a": 1}}, {"traceId": "x"}, 3, {"response": {"b": 2}}])
    assert family.unwrap_cli_array(array) == b'[{"a":1},{"b":2}]'
    assert family.unwrap_cli_array(b"not json") == b"[]"
    assert family.unwrap_cli_array(b'{"response":{}}') == b"[]"


# --- gemini/gemini-cli (Gemini CLI client) ------------------------------------------------------


def test_cli_client_envelope_is_opened() -> None:
    body = {
        "model": "gemini-2.5-flash",
        "project": "p",
        "request": {
            "systemInstruction": {"parts": [{"text": "S"}]},
            "contents": [
                {"role": "model", "parts": [{"functionCall": {"name": "f"}, "thoughtSignature": "real"}]},
                {"parts": [{"text": "no role stays without one"}]},
            ],
            "tools": [{"function_declarations": [{"name": "f", "parameters": {}}]}],
        },
    }
    out = family.from_cli_request(body, "gemini-2.5-flash-up")
    assert out == {
        "contents": [
            {"role": "model", "parts": [{"functionCall": {"name": "f"}, "thoughtSignature": SKIP}]},
            {"parts": [{"text": "no role stays without one"}]},
        ],
        "tools": [{"function_declarations": [{"name": "f", "parametersJsonSchema": {}}]}],
        "model": "gemini-2.5-flash-up",
        "system_instruction": {"parts": [{"text": "S"}]},
        "safetySettings": safety_settings(),
    }
    assert body["request"]["systemInstruction"] == {"parts": [{"text": "S"}]}  # not mutated


def test_cli_client_envelope_model_fallback_and_missing_request() -> None:
    assert family.from_cli_request({"model": "m"}, "") == {"model": "m", "safetySettings": safety_settings()}
    assert list(family.from_cli_request({"request": {"model": "x", "contents": []}}, "up")) == [
        "model",
        "contents",
        "safetySettings",
    ]


def test_cli_client_answers_are_wrapped() -> None:
    assert family.wrap_cli_chunk(b'{"candidates":[]}') == b'{"response": {"candidates":[]}}'
    assert family.wrap_cli_array(b'[{"a":1}, {"b":2}]') == b'[{"response": {"a":1}},{"response": {"b":2}}]'
    assert family.wrap_cli_array(b'{"error":{}}') == b'{"error":{}}'
    assert family.wrap_cli_array(b"[oops") == b"[oops"
