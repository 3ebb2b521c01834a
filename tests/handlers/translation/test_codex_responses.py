"""Responses client -> Codex upstream (``codex/openai/responses``, read from the Go source).

The request is the client's body with forced/deleted fields and the Codex instructions rule; the
answer is the upstream stream passed through with ``response.instructions`` restored.
"""

from __future__ import annotations

from typing import Any

import orjson

from handlers.translation import codex_responses
from handlers.translation.codex_instructions import OVERRIDE_MARKER, CodexInstructions

ENABLED = CodexInstructions(enabled=True, prompts=(("gpt_5_codex_prompt.md-001-a", "OFFICIAL"),), opencode="OC")


def test_disabled_rule_forces_fields_and_deletes_rejected_ones() -> None:
    body = {
        "model": "gpt-5-codex",
        "instructions": "be brief",
        "input": "hi",
        "stream": False,
        "store": True,
        "max_output_tokens": 10,
        "max_completion_tokens": 11,
        "temperature": 0.5,
        "top_p": 0.9,
        "service_tier": "flex",
        "reasoning": {"effort": "high"},
        "__cpa_user_agent": "spoofed",
    }
    out = codex_responses.render_request(body, "gpt-5-codex", rule=CodexInstructions())
    assert out == {
        "model": "gpt-5-codex",
        "instructions": "be brief",
        "input": [{"type": "message", "role": "user", "content": [{"type": "input_text", "text": "hi"}]}],
        "stream": True,
        "store": False,
        "reasoning": {"effort": "high"},
        "parallel_tool_calls": True,
        "include": ["reasoning.encrypted_content"],
    }
    # The client's key order is kept; new keys are appended.
    assert list(out) == [
        "model", "instructions", "input", "stream", "store", "reasoning", "parallel_tool_calls", "include"
    ]
    assert body["stream"] is False  # the client's body is not mutated


def test_missing_input_becomes_an_empty_array() -> None:
    out = codex_responses.render_request({"model": "m"}, "m", rule=CodexInstructions())
    assert out["input"] == []
    assert "instructions" not in out


def test_official_instructions_leave_the_request_alone() -> None:
    user = {"role": "user", "content": [{"type": "input_text", "text": "q"}]}
    body = {"instructions": "OFFICIAL and more", "input": [user]}
    out = codex_responses.render_request(body, "gpt-5-codex", rule=ENABLED)
    assert out["instructions"] == "OFFICIAL and more"
    assert out["input"] == body["input"]


def test_foreign_instructions_move_into_a_marker_message() -> None:
    user = {"type": "message", "role": "user", "content": [{"type": "input_text", "text": "q"}]}
    out = codex_responses.render_request({"instructions": "mine", "input": [user]}, "gpt-5-codex", rule=ENABLED)
    assert out["instructions"] == "OFFICIAL"
    assert out["input"] == [
        {
            "type": "message",
            "role": "user",
            "content": [{"type": "input_text", "text": OVERRIDE_MARKER}, {"text": "mine", "type": "input_text"}],
        },
        user,
    ]


def test_system_item_stands_in_for_missing_instructions() -> None:
    system = {"role": "system", "content": [{"text": "a"}, {"text": ""}, {"text": "b"}]}
    user = {"role": "user", "content": [{"type": "input_text", "text": "q"}]}
    out = codex_responses.render_request({"input": [system, user]}, "gpt-5-codex", rule=ENABLED)
    assert out["input"][0]["content"][1] == {"text": "a\nb", "type": "input_text"}
    assert out["input"][1:] == [user]  # the system item itself is removed
    assert out["instructions"] == "OFFICIAL"


def test_marker_is_not_repeated_and_needs_a_first_text() -> None:
    marked = {"role": "user", "content": [{"type": "input_text", "text": OVERRIDE_MARKER}]}
    out = codex_responses.render_request({"instructions": "x", "input": [marked]}, "gpt-5", rule=ENABLED)
    assert out["input"] == [marked]
    output_item = {"type": "function_call_output", "call_id": "c", "output": "ok"}
    out = codex_responses.render_request({"instructions": "x", "input": [output_item]}, "gpt-5", rule=ENABLED)
    assert out["input"] == [output_item]


def test_restore_instructions_only_on_response_lifecycle_events() -> None:
    client = {"instructions": "mine"}
    upstream = {"instructions": "OFFICIAL"}
    created = {"type": "response.created", "response": {"id": "r", "instructions": "OFFICIAL"}}
    assert codex_responses.restore_instructions(created, client, upstream, "") == {
        "type": "response.created",
        "response": {"id": "r", "instructions": "mine"},
    }
    # Opencode clients are shown what went upstream.
    restored = codex_responses.restore_instructions(created, client, upstream, "ai-sdk/openai/1")
    assert restored is not None and restored["response"]["instructions"] == "OFFICIAL"
    delta = {"type": "response.output_text.delta", "delta": "x"}
    assert codex_responses.restore_instructions(delta, client, upstream, "") is None
    no_field = {"type": "response.completed", "response": {"id": "r"}}
    assert codex_responses.restore_instructions(no_field, client, upstream, "") is None


def test_stream_frames_match_the_legacy_line_writer() -> None:
    renderer = codex_responses.ResponsesFromCodex({}, {"instructions": "OFFICIAL"})
    created = {"type": "response.created", "response": {"id": "r", "instructions": "OFFICIAL"}}
    frame = renderer.feed("response.created", orjson.dumps(created).decode(), created)
    # The client sent no instructions: gjson's String() of a missing value is "".
    assert frame == (
        b'\nevent: response.created\ndata: {"type":"response.created","response":{"id":"r","instructions":""}}\n'
    )
    raw = '{"type":"response.output_text.delta",  "delta":"Hi"}'
    assert renderer.feed("response.output_text.delta", raw, orjson.loads(raw)) == (
        b"\nevent: response.output_text.delta\ndata: " + raw.encode() + b"\n"
    )
    assert renderer.feed("", raw, orjson.loads(raw)) == b"data: " + raw.encode() + b"\n"
    assert renderer.feed("ping", "", None) == b"\nevent: ping\n"
    assert renderer.feed("x", "a\nb", None) == b"\nevent: x\ndata: a\ndata: b\n"


def sse(*payloads: dict[str, Any]) -> bytes:
    return b"".join(b"event: " + p["type"].encode() + b"\ndata: " + orjson.dumps(p) + b"\n\n" for p in payloads)


COMPLETED = {"type": "response.completed", "response": {"id": "r", "instructions": "OFFICIAL", "output": []}}


def test_completed_event_from_event_json_or_whole_sse_body() -> None:
    assert codex_responses.completed_event(orjson.dumps(COMPLETED)) == COMPLETED
    body = sse({"type": "response.created", "response": {"id": "r"}}, COMPLETED)
    assert codex_responses.completed_event(body) == COMPLETED
    assert codex_responses.completed_event(sse({"type": "response.created", "response": {}})) is None
    assert codex_responses.completed_event(b'{"type":"response.created"}') is None


def test_non_stream_answer_is_the_completed_response_with_instructions_restored() -> None:
    out = codex_responses.render_response(COMPLETED, {"instructions": "mine"}, {"instructions": "OFFICIAL"})
    assert out == {"id": "r", "instructions": "mine", "output": []}
    assert codex_responses.render_response(None, {}, {}) is None
    assert codex_responses.render_response({"type": "response.completed"}, {}, {}) is None
