"""Claude body -> Kiro payload, and Kiro events -> Claude events (oauth_kiro_translate.py)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from handlers.providers.kiro_eventstream import decode_all, encode_event
from handlers.providers.oauth_kiro_translate import (
    KiroClaudeEvents,
    KiroError,
    ThinkingSplitter,
    fold_claude_events,
    kiro_model,
    kiro_payload,
)

NOW = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
CONTEXT = "[Context: Current time is 2026-01-02 03:04:05 UTC]"


@pytest.mark.parametrize(("model", "expected"), [
    ("kiro-claude-sonnet-4-5", "claude-sonnet-4.5"), ("amazonq-auto", "auto"),
    ("claude-opus-4.5-agentic", "claude-opus-4.5"),
    ("my-haiku", "claude-haiku-4.5"), ("sonnet-3.7-x", "claude-3-7-sonnet-20250219"), ("big-sonnet", "claude-sonnet-4"),
    ("opus-x", "claude-opus-4.5"), ("whatever", "claude-sonnet-4.5")])
def test_model_mapping(model: str, expected: str) -> None:
    assert kiro_model(model) == expected


def test_conversation_with_history_tools_and_results() -> None:
    body = {
        "model": "kiro-claude-sonnet-4-5", "max_tokens": 512, "temperature": 0.2,
        "system": [{"type": "text", "text": "Be terse."}],
        "thinking": {"type": "enabled", "budget_tokens": 2048},
        "tools": [{"name": "read", "description": "Read a file", "input_schema": {"type": "object"}}],
        "messages": [
            {"role": "user", "content": "open a.txt"},
            {"role": "user", "content": [{"type": "image", "source": {"type": "base64", "media_type": "image/png",
                                                                        "data": "iVBOR"}}]},
            {"role": "assistant", "content": [{"type": "text", "text": "Reading."},
                                              {"type": "tool_use", "id": "tu1", "name": "read",
                                               "input": {"p": "a.txt"}}]},
            {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "tu1", "content": "hello"},
                                         {"type": "tool_result", "tool_use_id": "tu1", "content": "dup"}]},
        ],
    }
    payload = kiro_payload(body, "kiro-claude-sonnet-4-5", origin="AI_EDITOR", profile_arn="arn:aws:p/1", now=NOW,
                           conversation_id="conv-1")
    system = (f"{CONTEXT}\n\nBe terse.\n<thinking_mode>interleaved</thinking_mode>"
              "<max_thinking_length>2048</max_thinking_length>")
    assert payload == {
        "conversationState": {
            "chatTriggerType": "MANUAL", "conversationId": "conv-1",
            "currentMessage": {"userInputMessage": {
                "content": f"--- SYSTEM PROMPT ---\n{system}\n--- END SYSTEM PROMPT ---\n\n",
                "modelId": "claude-sonnet-4.5", "origin": "AI_EDITOR",
                "userInputMessageContext": {
                    "toolResults": [{"content": [{"text": "hello"}], "status": "success", "toolUseId": "tu1"}],
                    "tools": [{"toolSpecification": {"name": "read", "description": "Read a file",
                                                     "inputSchema": {"json": {"type": "object"}}}}]}}},
            "history": [
                {"userInputMessage": {"content": "open a.txt", "modelId": "claude-sonnet-4.5", "origin": "AI_EDITOR",
                                      "images": [{"format": "png", "source": {"bytes": "iVBOR"}}]}},
                {"assistantResponseMessage": {"content": "Reading.", "toolUses": [
                    {"toolUseId": "tu1", "name": "read", "input": {"p": "a.txt"}}]}},
            ]},
        "profileArn": "arn:aws:p/1",
        "inferenceConfig": {"maxTokens": 512, "temperature": 0.2},
    }


def test_last_assistant_turn_continues_and_chat_models_drop_tools() -> None:
    body = {"messages": [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "hello"}],
            "tools": [{"name": "t", "input_schema": {}}]}
    payload = kiro_payload(body, "claude-sonnet-4-chat", origin="CLI", profile_arn="", now=NOW, conversation_id="c")
    state = payload["conversationState"]
    assert state["currentMessage"]["userInputMessage"] == {
        "content": f"--- SYSTEM PROMPT ---\n{CONTEXT}\n--- END SYSTEM PROMPT ---\n\nContinue",
        "modelId": "claude-sonnet-4", "origin": "CLI"}
    assert [list(h) for h in state["history"]] == [["userInputMessage"], ["assistantResponseMessage"]]
    assert "profileArn" not in payload and "inferenceConfig" not in payload


def test_long_tool_description_is_cut_and_empty_result_is_cancelled() -> None:
    body = {"messages": [{"role": "user", "content": [{"type": "tool_result", "tool_use_id": "x", "is_error": True,
                                                       "content": []}]}],
            "tools": [{"name": "t", "description": "é" * 6000, "input_schema": {}}]}
    context = kiro_payload(body, "auto", origin="CLI", profile_arn="", now=NOW)[
        "conversationState"]["currentMessage"]["userInputMessage"]["userInputMessageContext"]
    description = context["tools"][0]["toolSpecification"]["description"]
    assert description.endswith("... (description truncated)")
    assert len(description.removesuffix("... (description truncated)").encode()) <= 10237 - 30
    assert context["toolResults"] == [{"content": [{"text": "Tool use was cancelled by the user"}], "status": "error",
                                       "toolUseId": "x"}]


def events_for(*frames: bytes, model: str = "claude-sonnet-4.5") -> list[tuple[str, dict]]:
    translator = KiroClaudeEvents(model, message_ids=lambda: "msg_1")
    out = []
    for message in decode_all(b"".join(frames)):
        out += translator.feed(message)
    return out + translator.finish()


def test_text_and_tool_use_become_claude_events() -> None:
    events = events_for(
        encode_event("assistantResponseEvent", {"content": "Hel"}),
        encode_event("assistantResponseEvent", {"content": "lo"}),
        encode_event("toolUseEvent", {"toolUseId": "t1", "name": "read", "input": "{\"p\":"}),
        encode_event("toolUseEvent", {"toolUseId": "t1", "name": "read", "input": "\"a\"}", "stop": True}),
        encode_event("supplementaryWebLinksEvent", {"inputTokens": 11, "outputTokens": 5}),
    )
    assert [name for name, _ in events] == [
        "message_start", "content_block_start", "content_block_delta", "content_block_delta", "content_block_stop",
        "content_block_start", "content_block_delta", "content_block_delta", "content_block_stop",
        "message_delta", "message_stop"]
    assert events[0][1]["message"]["id"] == "msg_1"
    assert events[5][1]["content_block"] == {"type": "tool_use", "id": "t1", "name": "read", "input": {}}
    assert events[-2][1] == {"type": "message_delta", "delta": {"stop_reason": "tool_use", "stop_sequence": None},
                             "usage": {"input_tokens": 11, "output_tokens": 5}}
    message = fold_claude_events(events)
    assert message["content"] == [{"type": "text", "text": "Hello"},
                                  {"type": "tool_use", "id": "t1", "name": "read", "input": {"p": "a"}}]
    assert message["stop_reason"] == "tool_use"


def test_stop_reason_from_events_and_empty_answer() -> None:
    events = events_for(encode_event("assistantResponseEvent", {"content": "x"}),
                        encode_event("messageStopEvent", {"stopReason": "max_tokens"}))
    assert events[-2][1]["delta"]["stop_reason"] == "max_tokens"
    empty = fold_claude_events(events_for())
    assert (empty["content"], empty["stop_reason"]) == ([], "end_turn")


@pytest.mark.parametrize(("payload", "message"), [
    ({"type": "error", "message": "Throttled"}, "kiro API error: Throttled"),
    ({"type": "exception", "error": {"message": "bad"}}, "kiro API error: bad"),
    ({"_type": "ValidationException", "message": "too long"}, "kiro API error: ValidationException - too long"),
])
def test_error_payloads_raise(payload: dict, message: str) -> None:
    translator = KiroClaudeEvents("m")
    with pytest.raises(KiroError) as err:
        translator.feed(decode_all(encode_event("assistantResponseEvent", payload))[0])
    assert str(err.value) == message


def test_thinking_tags_become_thinking_blocks_even_when_cut() -> None:
    events = events_for(
        encode_event("assistantResponseEvent", {"content": "<thin"}),
        encode_event("assistantResponseEvent", {"content": "king>plan"}),
        encode_event("assistantResponseEvent", {"content": " it</thi"}),
        encode_event("assistantResponseEvent", {"content": "nking>Answer <b>"}),
    )
    blocks = [(p["content_block"]["type"]) for n, p in events if n == "content_block_start"]
    assert blocks == ["thinking", "text"]
    message = fold_claude_events(events)
    assert message["content"] == [{"type": "thinking", "thinking": "plan it"}, {"type": "text", "text": "Answer <b>"}]


def test_a_partial_tag_at_the_end_is_text() -> None:
    message = fold_claude_events(events_for(encode_event("assistantResponseEvent", {"content": "a <think"})))
    assert message["content"] == [{"type": "text", "text": "a <think"}]


@given(text=st.text(alphabet="ab<>/thinkg", max_size=60), cuts=st.lists(st.integers(0, 60), max_size=6))
def test_splitter_is_independent_of_chunking(text: str, cuts: list[int]) -> None:
    def run(pieces: list[str]) -> list[tuple[str, str]]:
        splitter = ThinkingSplitter()
        out: list[tuple[str, str]] = []
        for piece in pieces:
            out += splitter.feed(piece)
        out += splitter.finish()
        merged: list[tuple[str, str]] = []
        for kind, piece in out:  # adjacent pieces of one kind are one block to a client
            if merged and merged[-1][0] == kind:
                merged[-1] = (kind, merged[-1][1] + piece)
            else:
                merged.append((kind, piece))
        return merged

    points = sorted({c % (len(text) + 1) for c in cuts})
    pieces = [text[a:b] for a, b in zip([0, *points], [*points, len(text)], strict=True)]
    assert run(pieces) == run([text])
