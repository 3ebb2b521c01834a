"""Documented deviations (docs/compatibility.md) are counted as ignored, never as mismatches."""

from __future__ import annotations

import json
from typing import Any

from quotio_gateway.shadow.comparators import compare
from quotio_gateway.shadow.types import Captured, Outcome

SSE = [("Content-Type", "text/event-stream")]
JSON = [("Content-Type", "application/json")]


def chunk(text: str) -> str:
    return "data: " + json.dumps({"object": "chat.completion.chunk",
                                  "choices": [{"index": 0, "delta": {"content": text}, "finish_reason": None}]})


def stream(*frames: str) -> Captured:
    return Captured(200, SSE, "".join(f + "\n\n" for f in frames).encode())


def test_truncated_stream_with_native_error_frame_is_ignored() -> None:
    legacy = stream(chunk("Hel"), chunk("lo"))
    error = 'data: {"error":{"message":"upstream stream closed before [DONE]","type":"server_error"}}'
    native = stream(chunk("Hel"), chunk("lo"), error)
    result = compare("llm", legacy, native)
    assert result.outcome is Outcome.IGNORED
    assert result.reason == "expected:truncated-stream-error-frame"


def test_error_frame_instead_of_a_finished_answer_is_still_a_mismatch() -> None:
    finish = "data: " + json.dumps({"object": "chat.completion.chunk",
                                    "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]})
    legacy = stream(chunk("Hel"), finish, "data: [DONE]")
    error = 'data: {"error":{"message":"boom","type":"server_error"}}'
    native = stream(chunk("Hel"), error)
    assert compare("llm", legacy, native).outcome is Outcome.MISMATCH


def test_gemini_unknown_method_404_is_ignored() -> None:
    legacy = Captured(200, [], b"")
    body: Any = {"error": {"message": "/v1beta/models/m:nope not found.", "type": "invalid_request_error"}}
    native = Captured(404, JSON, json.dumps(body).encode())
    result = compare("llm", legacy, native)
    assert result.outcome is Outcome.IGNORED and result.reason == "expected:gemini-unknown-method-404"


def test_other_status_differences_still_mismatch() -> None:
    legacy = Captured(200, [], b"")
    native = Captured(500, JSON, b'{"error":{"message":"x","type":"server_error"}}')
    assert compare("llm", legacy, native).outcome is Outcome.MISMATCH


def test_codex_tool_calls_finish_reason_is_ignored() -> None:
    call = {"id": "c1", "type": "function", "function": {"name": "get_weather", "arguments": "{\"location\":\"x\"}"}}

    def answer(finish: str) -> Captured:
        body = {"id": "r", "object": "chat.completion", "choices": [
            {"index": 0, "message": {"role": "assistant", "tool_calls": [call]}, "finish_reason": finish}]}
        return Captured(200, JSON, json.dumps(body).encode())

    result = compare("llm", answer("stop"), answer("tool_calls"))
    assert result.outcome is Outcome.IGNORED and result.reason == "expected:codex-tool-calls-finish-reason"
    assert compare("llm", answer("tool_calls"), answer("stop")).outcome is Outcome.MISMATCH
