"""whole_answers.py: which JSON objects stand for a stream, and the events they stand for (the
common shapes are pinned over HTTP in tests/handlers/inference/test_whole_json_answers.py)."""

from __future__ import annotations

from typing import Any

from handlers.providers.whole_answers import claude_message_events, codex_response_events, sse_body


def _kinds(events: list[dict[str, Any]] | None) -> list[str]:
    assert events is not None
    return [e["type"] for e in events]


def test_only_a_claude_message_object_stands_for_a_stream() -> None:
    error = {"type": "error", "error": {"type": "api_error", "message": "x"}}
    for other in (error, {"type": "message", "content": "x"}, [], "message", None, {"id": "msg_1", "content": []}):
        assert claude_message_events(other) is None


def test_blocks_that_stream_whole_start_and_stop_with_the_block() -> None:
    redacted = {"type": "redacted_thinking", "data": "opaque"}
    events = claude_message_events({"type": "message", "id": "m", "content": [redacted, "junk"],
                                    "stop_reason": "end_turn"})
    assert events == [
        {"type": "message_start", "message": {"type": "message", "id": "m", "content": [], "stop_reason": None,
                                              "stop_sequence": None, "usage": {}}},
        {"type": "content_block_start", "index": 0, "content_block": redacted},
        {"type": "content_block_stop", "index": 0},
        # No usage in the message: the stream's end still reports an output count, as Anthropic's does.
        {"type": "message_delta", "delta": {"stop_reason": "end_turn", "stop_sequence": None},
         "usage": {"output_tokens": 0}},
        {"type": "message_stop"}]


def test_citations_follow_their_text_as_anthropic_streams_them() -> None:
    cite = {"type": "char_location", "cited_text": "x", "document_index": 0}
    events = claude_message_events({"type": "message", "content": [{"type": "text", "text": "Hi", "citations": [cite]}],
                                    "usage": {"input_tokens": 3, "cache_read_input_tokens": 2, "output_tokens": 1}})
    assert events is not None
    assert events[0]["message"]["usage"] == {"input_tokens": 3, "cache_read_input_tokens": 2}
    assert events[1:4] == [
        {"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": "", "citations": []}},
        {"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": "Hi"}},
        {"type": "content_block_delta", "index": 0, "delta": {"type": "citations_delta", "citation": cite}}]
    assert events[-2]["usage"] == {"input_tokens": 3, "cache_read_input_tokens": 2, "output_tokens": 1}


def test_a_tool_call_without_input_streams_an_empty_object() -> None:
    events = claude_message_events({"type": "message", "content": [{"type": "tool_use", "id": "t", "name": "f"}]})
    assert events is not None
    assert events[2]["delta"] == {"type": "input_json_delta", "partial_json": "{}"}


def test_only_a_finished_response_object_stands_for_a_stream() -> None:
    for other in ({"error": {"message": "x"}}, {"object": "chat.completion", "choices": []},
                  {"object": "response", "status": "queued", "output": []},
                  {"object": "response", "status": "in_progress", "output": []},
                  {"status": "completed"}, {"object": "response", "output": "x"}, None):
        assert codex_response_events(other) is None


def test_a_response_ends_with_the_event_of_its_status() -> None:
    bare = {"id": "r", "status": "completed", "output": []}  # no "object": still a whole response
    assert _kinds(codex_response_events(bare)) == ["response.created", "response.in_progress", "response.completed"]
    assert _kinds(codex_response_events({"object": "response", "output": []}))[-1] == "response.completed"
    # Without an output list nothing says the object is a whole answer.
    assert codex_response_events({"object": "response", "status": "completed"}) is None
    incomplete = {"object": "response", "status": "incomplete", "output": [],
                  "incomplete_details": {"reason": "max_output_tokens"}}
    assert _kinds(codex_response_events(incomplete))[-1] == "response.incomplete"
    failed = {"object": "response", "status": "failed", "output": [], "error": {"code": "server_error"}}
    events = codex_response_events(failed)
    assert events is not None and events[-1] == {"type": "response.failed", "sequence_number": 2, "response": failed}


def test_a_refusal_and_an_unknown_item_stream_as_the_api_streams_them() -> None:
    refusal = {"type": "refusal", "refusal": "No."}
    search = {"id": "ws_1", "type": "web_search_call", "status": "completed"}
    response = {"object": "response", "status": "completed",
                "output": [{"id": "m", "type": "message", "content": [refusal]}, search]}
    events = codex_response_events(response)
    assert events is not None
    where = {"item_id": "m", "output_index": 0, "content_index": 0}
    assert [{k: v for k, v in e.items() if k != "sequence_number"} for e in events[2:-1]] == [
        {"type": "response.output_item.added", "output_index": 0,
         "item": {"id": "m", "type": "message", "content": [], "status": "in_progress"}},
        {"type": "response.content_part.added", **where, "part": {"type": "refusal", "refusal": ""}},
        {"type": "response.refusal.delta", **where, "delta": "No."},
        {"type": "response.refusal.done", **where, "refusal": "No."},
        {"type": "response.content_part.done", **where, "part": refusal},
        {"type": "response.output_item.done", "output_index": 0, "item": response["output"][0]},
        {"type": "response.output_item.added", "output_index": 1, "item": search},
        {"type": "response.output_item.done", "output_index": 1, "item": search}]
    assert [e["sequence_number"] for e in events] == list(range(len(events)))


def test_events_are_framed_as_named_sse_events() -> None:
    assert sse_body([{"type": "message_stop"}, {"type": "ping"}]) == (
        b'event: message_stop\ndata: {"type":"message_stop"}\n\nevent: ping\ndata: {"type":"ping"}\n\n')
