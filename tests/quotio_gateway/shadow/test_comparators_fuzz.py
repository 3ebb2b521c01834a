"""Comparators must give an answer for any input; a raise would only be caught as an error outcome."""

from __future__ import annotations

import json
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from quotio_gateway.shadow.comparators import compare
from quotio_gateway.shadow.types import Captured, Outcome

_keys = st.sampled_from(["id", "type", "object", "choices", "delta", "index", "tool_calls", "function", "name",
                         "arguments", "finish_reason", "usage", "content", "content_block", "message", "error",
                         "candidates", "parts", "functionCall", "args", "response", "output", "status",
                         "partial_json", "stop_reason", "usageMetadata", "incomplete_details", "input", "x"])
_json = st.recursive(
    st.none() | st.booleans() | st.integers(-5, 5) | st.floats(allow_nan=False, allow_infinity=False)
    | st.sampled_from(["message", "content_block_start", "content_block_delta", "message_delta", "tool_use",
                       "input_json_delta", "function_call", "response.completed", "response", "{", "[DONE]", ""]),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(_keys, children, max_size=5),
    max_leaves=25)


def body_of(values: list[Any], stream: bool, names: list[str]) -> bytes:
    if not stream:
        return json.dumps(values[0] if values else None).encode()
    out = []
    for position, value in enumerate(values):
        name = names[position % len(names)] if names else ""
        out.append((f"event: {name}\n" if name else "") + f"data: {json.dumps(value)}\n\n")
    return "".join(out).encode()


@settings(max_examples=250, deadline=None)
@given(legacy=st.lists(_json, max_size=5), native=st.lists(_json, max_size=5), stream=st.booleans(),
       names=st.lists(st.sampled_from(["", "error", "ping", "message_start", "content_block_start"]), max_size=3),
       kind=st.sampled_from(["json", "llm"]))
def test_structured_garbage_never_raises(legacy: list[Any], native: list[Any], stream: bool, names: list[str],
                                         kind: str) -> None:
    headers = [("Content-Type", "text/event-stream" if stream else "application/json")]
    result = compare(kind, Captured(200, headers, body_of(legacy, stream, names)),
                     Captured(200, headers, body_of(native, stream, names)))
    assert result.outcome in (Outcome.MATCH, Outcome.MISMATCH, Outcome.IGNORED)


@settings(max_examples=200, deadline=None)
@given(legacy=st.binary(max_size=200), native=st.binary(max_size=200),
       content_type=st.sampled_from(["application/json", "text/event-stream", "text/plain", ""]),
       encoding=st.sampled_from(["", "gzip", "deflate"]), kind=st.sampled_from(["json", "llm"]))
def test_arbitrary_bytes_never_raise(legacy: bytes, native: bytes, content_type: str, encoding: str,
                                     kind: str) -> None:
    headers = [("Content-Type", content_type), ("Content-Encoding", encoding)]
    result = compare(kind, Captured(200, headers, legacy), Captured(200, headers, native))
    assert result.outcome in (Outcome.MATCH, Outcome.MISMATCH, Outcome.IGNORED)
