"""Documented deviations (docs/compatibility.md) are counted as ignored, never as mismatches."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from quotio_gateway.shadow.comparators import compare
from quotio_gateway.shadow.expected import RULES
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


def test_truncated_chat_stream_where_the_legacy_still_sends_done_is_ignored() -> None:
    # An OpenAI chat or completions client of the legacy gets [DONE] when the channel closes,
    # finished answer or not (openai_handlers.go:668-670).
    legacy = stream(chunk("Hel"), chunk("lo"), "data: [DONE]")
    error = 'data: {"error":{"message":"upstream stream closed before [DONE]","type":"server_error"}}'
    result = compare("llm", legacy, stream(chunk("Hel"), chunk("lo"), error))
    assert (result.outcome, result.reason) == (Outcome.IGNORED, "expected:truncated-stream-error-frame")
    # (After a finished answer the same error frame still mismatches: the test below.)


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


# --- Responses streams (docs/compatibility.md, "Inference translation") -------------------------

def responses_stream(*events: tuple[str, dict[str, Any]]) -> Captured:
    text = "".join(f"event: {name}\ndata: {json.dumps({'type': name, **body})}\n\n" for name, body in events)
    return Captured(200, SSE, text.encode())


def usage(*, reasoning: bool) -> dict[str, Any]:
    out: dict[str, Any] = {"input_tokens": 5, "input_tokens_details": {"cached_tokens": 0},
                           "output_tokens": 3, "total_tokens": 8}
    if reasoning:
        out["output_tokens_details"] = {"reasoning_tokens": 0}
    return out


def claude_backed_answer(*, close_reasoning: bool, reasoning_usage: bool,
                         with_call: bool = False) -> Captured:
    """Thinking then text, as the Claude->Responses translators frame it (the legacy leaves the
    reasoning item open; native closes it)."""
    reasoning = {"id": "rs_1", "type": "reasoning", "summary": []}
    message = {"id": "msg_1", "type": "message", "role": "assistant", "content": []}
    events: list[tuple[str, dict[str, Any]]] = [
        ("response.created", {"response": {"id": "r", "object": "response", "status": "in_progress"}}),
        ("response.in_progress", {"response": {"id": "r", "object": "response", "status": "in_progress"}}),
        ("response.output_item.added", {"output_index": 0, "item": reasoning}),
        ("response.reasoning_summary_part.added", {"output_index": 0}),
        ("response.reasoning_summary_text.delta", {"output_index": 0, "delta": "hm"}),
        ("response.reasoning_summary_text.done", {"output_index": 0, "text": "hm"}),
        ("response.reasoning_summary_part.done", {"output_index": 0}),
    ]
    if close_reasoning:
        events.append(("response.output_item.done", {"output_index": 0, "item": reasoning}))
    events += [
        ("response.output_item.added", {"output_index": 1, "item": message}),
        ("response.content_part.added", {"output_index": 1}),
        ("response.output_text.delta", {"output_index": 1, "delta": "Hi"}),
        ("response.output_text.done", {"output_index": 1, "text": "Hi"}),
        ("response.content_part.done", {"output_index": 1}),
        ("response.output_item.done", {"output_index": 1, "item": message}),
    ]
    output = [reasoning, message]
    if with_call:
        call = {"id": "fc_1", "type": "function_call", "call_id": "c", "name": "f", "arguments": "{}"}
        events.append(("response.output_item.added", {"output_index": 2, "item": call}))
        output.append(call)
    completed = {"id": "r", "object": "response", "status": "completed", "output": output,
                 "usage": usage(reasoning=reasoning_usage)}
    events.append(("response.completed", {"response": completed}))
    return responses_stream(*events)


def test_claude_responses_framing_and_usage_details_are_ignored_together() -> None:
    legacy = claude_backed_answer(close_reasoning=False, reasoning_usage=False)
    native = claude_backed_answer(close_reasoning=True, reasoning_usage=True)
    result = compare("llm", legacy, native)
    assert result.outcome is Outcome.IGNORED
    assert result.reason == "expected:responses-item-framing+responses-reasoning-usage-keys"


def test_responses_item_framing_alone_is_ignored() -> None:
    legacy = claude_backed_answer(close_reasoning=False, reasoning_usage=True)
    native = claude_backed_answer(close_reasoning=True, reasoning_usage=True)
    result = compare("llm", legacy, native)
    assert result.outcome is Outcome.IGNORED and result.reason == "expected:responses-item-framing"


def test_an_item_opened_on_one_side_only_still_mismatches() -> None:
    legacy = claude_backed_answer(close_reasoning=False, reasoning_usage=True)
    native = claude_backed_answer(close_reasoning=True, reasoning_usage=True, with_call=True)
    assert compare("llm", legacy, native).outcome is Outcome.MISMATCH


def test_usage_details_ignored_only_when_the_rest_of_the_usage_agrees() -> None:
    legacy = claude_backed_answer(close_reasoning=True, reasoning_usage=False)
    native = claude_backed_answer(close_reasoning=True, reasoning_usage=True)
    result = compare("llm", legacy, native)
    assert result.outcome is Outcome.IGNORED and result.reason == "expected:responses-reasoning-usage-keys"
    # Native losing total_tokens is not the documented deviation.
    body = native.body.replace(b', "total_tokens": 8', b"")
    assert compare("llm", legacy, Captured(200, SSE, body)).outcome is Outcome.MISMATCH


# --- Responses objects (non-stream) -------------------------------------------------------------

def responses_object(*, usage_object: dict[str, Any] | None, **echo: Any) -> Captured:
    body: dict[str, Any] = {"id": "r", "object": "response", "status": "completed",
                            "output": [{"type": "message", "content": []}], **echo}
    if usage_object is not None:
        body["usage"] = usage_object
    return Captured(200, JSON, json.dumps(body).encode())


def test_zero_usage_where_the_legacy_has_none_is_ignored() -> None:
    legacy = responses_object(usage_object=None)
    native = responses_object(usage_object={**usage(reasoning=True), "input_tokens": 0})
    result = compare("llm", legacy, native)
    assert result.outcome is Outcome.IGNORED and result.reason == "expected:responses-usage-when-missing"


def test_partial_usage_where_the_legacy_has_none_still_mismatches() -> None:
    legacy = responses_object(usage_object=None)
    native = responses_object(usage_object={"input_tokens": 0, "output_tokens": 0})
    assert compare("llm", legacy, native).outcome is Outcome.MISMATCH


def test_request_echo_fields_are_ignored() -> None:
    legacy = responses_object(usage_object=usage(reasoning=True))
    native = responses_object(usage_object=usage(reasoning=True), model="gemini-2.5-pro",
                              instructions="be brief", tools=[])
    result = compare("llm", legacy, native)
    assert result.outcome is Outcome.IGNORED and result.reason == "expected:responses-request-echo"


def test_a_top_level_key_that_is_no_echo_field_still_mismatches() -> None:
    legacy = responses_object(usage_object=usage(reasoning=True))
    native = responses_object(usage_object=usage(reasoning=True), model="m", incomplete_details=None)
    assert compare("llm", legacy, native).outcome is Outcome.MISMATCH


# --- Gemini clients -----------------------------------------------------------------------------

def gemini_chunk(*parts: dict[str, Any], finish: str | None = None) -> str:
    candidate: dict[str, Any] = {"content": {"role": "model", "parts": list(parts)}, "index": 0}
    if finish:
        candidate["finishReason"] = finish
    return "data: " + json.dumps({"candidates": [candidate]})


CALL = {"functionCall": {"name": "get_weather", "args": {"city": "Paris"}}}


def test_codex_held_call_sent_once_is_ignored() -> None:
    # The legacy repeats the held call chunk before the text chunk that follows it.
    held = gemini_chunk(CALL, finish="STOP")
    legacy = stream(held, held, gemini_chunk({"text": "done"}))
    native = stream(held, gemini_chunk({"text": "done"}))
    result = compare("llm", legacy, native)
    assert result.outcome is Outcome.IGNORED and result.reason == "expected:codex-gemini-held-call-once"


def test_a_call_native_never_sent_still_mismatches() -> None:
    other = {"functionCall": {"name": "get_time", "args": {"zone": "UTC"}}}
    legacy = stream(gemini_chunk(CALL, finish="STOP"), gemini_chunk(other, finish="STOP"))
    native = stream(gemini_chunk(CALL, finish="STOP"))
    assert compare("llm", legacy, native).outcome is Outcome.MISMATCH


def gemini_array(*chunks: dict[str, Any]) -> Captured:
    return Captured(200, JSON, json.dumps(list(chunks)).encode())


ANSWER = {"candidates": [{"content": {"role": "model", "parts": [{"text": "hi"}]}, "finishReason": "STOP"}]}


def test_alt_json_stream_the_legacy_leaves_unusable_is_ignored() -> None:
    native = gemini_array(ANSWER)
    for legacy_body in (b"[][]", b"[]", b""):
        result = compare("llm", Captured(200, JSON, legacy_body), native)
        assert result.outcome is Outcome.IGNORED, legacy_body
        assert result.reason == "expected:gemini-alt-json-body"
    wrapped = Captured(200, JSON, json.dumps([{"response": ANSWER}]).encode())
    assert compare("llm", Captured(200, JSON, b""), wrapped).reason == "expected:gemini-alt-json-body"


def test_alt_json_error_from_native_still_mismatches() -> None:
    native = Captured(200, JSON, b'{"error":{"code":500,"message":"x","status":"INTERNAL"}}')
    assert compare("llm", Captured(200, JSON, b"[][]"), native).outcome is Outcome.MISMATCH
    # A legacy array that does carry an answer is compared as usual.
    legacy = gemini_array(ANSWER)
    native_text = gemini_array({"candidates": [{"content": {"parts": [CALL]}, "finishReason": "STOP"}]})
    assert compare("llm", legacy, native_text).outcome is Outcome.MISMATCH


def test_envelope_without_contents_refused_natively_is_ignored() -> None:
    google = {"error": {"code": 400, "message": "contents is required", "status": "INVALID_ARGUMENT"}}
    legacy = Captured(400, JSON, json.dumps(google).encode())
    native = Captured(400, JSON, b'{"error":{"message":"request has no contents","type":"invalid_request_error"}}')
    result = compare("llm", legacy, native)
    assert result.outcome is Outcome.IGNORED and result.reason == "expected:envelope-without-contents-400"
    native_500 = Captured(500, JSON, b'{"error":{"message":"x","type":"invalid_request_error"}}')
    assert compare("llm", legacy, native_500).outcome is Outcome.MISMATCH


def chat_backed_answer(*, split: bool, names: tuple[str, ...] = ("f", "g")) -> Captured:
    """Text then two parallel calls from an OpenAI-compatible upstream. ``split``: native (one
    item per call, message closed at the finish); otherwise the legacy (message closed at the
    first call, one item holding both calls: the last name, the arguments run together)."""
    message = {"id": "msg_1", "type": "message", "role": "assistant", "content": []}
    head: list[tuple[str, dict[str, Any]]] = [
        ("response.created", {"response": {"id": "r", "object": "response", "status": "in_progress"}}),
        ("response.in_progress", {"response": {"id": "r", "object": "response", "status": "in_progress"}}),
        ("response.output_item.added", {"output_index": 0, "item": message}),
        ("response.content_part.added", {"output_index": 0}),
        ("response.output_text.delta", {"output_index": 0, "delta": "ok"}),
    ]
    close_message = [("response.output_text.done", {"output_index": 0}),
                     ("response.content_part.done", {"output_index": 0}),
                     ("response.output_item.done", {"output_index": 0, "item": message})]

    def call(index: int, name: str, arguments: str) -> dict[str, Any]:
        return {"id": f"fc_{index}", "type": "function_call", "call_id": f"c{index}", "name": name,
                "arguments": arguments}

    if split:
        calls = [call(1, names[0], '{"x":1}'), call(2, names[1], '{"y":2}')]
        body = [event for index, item in enumerate(calls, 1) for event in (
            ("response.output_item.added", {"output_index": index, "item": {**item, "arguments": ""}}),
            ("response.function_call_arguments.delta", {"output_index": index, "delta": item["arguments"]}))]
        body += close_message
        body += [event for index, item in enumerate(calls, 1) for event in (
            ("response.function_call_arguments.done", {"output_index": index}),
            ("response.output_item.done", {"output_index": index, "item": item}))]
    else:
        calls = [call(1, names[-1], '{"x":1}{"y":2}')]
        body = [*close_message,
                ("response.output_item.added", {"output_index": 0, "item": call(1, names[0], "")}),
                ("response.function_call_arguments.delta", {"output_index": 0, "delta": '{"x":1}'}),
                ("response.function_call_arguments.delta", {"output_index": 0, "delta": '{"y":2}'}),
                ("response.function_call_arguments.done", {"output_index": 0}),
                ("response.output_item.done", {"output_index": 0, "item": calls[0]})]
    completed = {"id": "r", "object": "response", "status": "completed", "output": [message, *calls]}
    return responses_stream(*head, *body, ("response.completed", {"response": completed}))


def test_parallel_calls_split_into_items_are_ignored() -> None:
    result = compare("llm", chat_backed_answer(split=False), chat_backed_answer(split=True))
    assert result.outcome is Outcome.IGNORED and result.reason == "expected:responses-parallel-calls-split"


def test_parallel_calls_with_another_name_still_mismatch() -> None:
    native = chat_backed_answer(split=True, names=("lookup", "search"))
    assert compare("llm", chat_backed_answer(split=False), native).outcome is Outcome.MISMATCH


MESSAGE_ITEM = {"id": "msg_1", "type": "message", "role": "assistant", "content": []}
REASONING_ITEM = {"id": "rs_1", "type": "reasoning", "summary": []}
CALL_ITEM = {"id": "fc_1", "type": "function_call", "call_id": "c", "name": "f", "arguments": "{}"}
STARTED: list[tuple[str, dict[str, Any]]] = [
    ("response.created", {"response": {"id": "r", "object": "response", "status": "in_progress"}}),
    ("response.in_progress", {"response": {"id": "r", "object": "response", "status": "in_progress"}}),
    ("response.output_item.added", {"output_index": 0, "item": MESSAGE_ITEM}),
    ("response.content_part.added", {"output_index": 0}),
    ("response.output_text.delta", {"output_index": 0, "delta": "Hel"}),
]
MESSAGE_DONE: list[tuple[str, dict[str, Any]]] = [
    ("response.output_text.delta", {"output_index": 0, "delta": "lo"}),
    ("response.output_text.done", {"output_index": 0, "text": "Hello"}),
    ("response.content_part.done", {"output_index": 0}),
    ("response.output_item.done", {"output_index": 0, "item": MESSAGE_ITEM}),
]


def completed(*items: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    return "response.completed", {"response": {"id": "r", "object": "response", "status": "completed",
                                               "output": list(items)}}


def late_reasoning(index: int) -> list[tuple[str, dict[str, Any]]]:
    return [("response.output_item.added", {"output_index": index, "item": REASONING_ITEM}),
            ("response.reasoning_summary_part.added", {"output_index": index}),
            ("response.reasoning_summary_text.delta", {"output_index": index, "delta": "hm"}),
            ("response.reasoning_summary_text.done", {"output_index": index, "text": "hm"}),
            ("response.reasoning_summary_part.done", {"output_index": index}),
            ("response.output_item.done", {"output_index": index, "item": REASONING_ITEM})]


def test_late_gemini_thoughts_as_a_new_reasoning_item_are_ignored() -> None:
    legacy = responses_stream(*STARTED, *MESSAGE_DONE, completed(MESSAGE_ITEM))
    native = responses_stream(*STARTED, *late_reasoning(1), *MESSAGE_DONE, completed(MESSAGE_ITEM, REASONING_ITEM))
    result = compare("llm", legacy, native)
    assert result.outcome is Outcome.IGNORED and result.reason == "expected:gemini-responses-late-thoughts"


def test_late_thoughts_with_an_extra_call_still_mismatch() -> None:
    legacy = responses_stream(*STARTED, *MESSAGE_DONE, completed(MESSAGE_ITEM))
    call = [("response.output_item.added", {"output_index": 2, "item": CALL_ITEM})]
    native = responses_stream(*STARTED, *late_reasoning(1), *MESSAGE_DONE, *call,
                              completed(MESSAGE_ITEM, REASONING_ITEM, CALL_ITEM))
    assert compare("llm", legacy, native).outcome is Outcome.MISMATCH


def responses_output(*items: dict[str, Any]) -> Captured:
    body = {"id": "r", "object": "response", "status": "completed", "output": list(items)}
    return Captured(200, JSON, json.dumps(body).encode())


def test_output_in_output_index_order_is_ignored() -> None:
    legacy = responses_output(MESSAGE_ITEM, CALL_ITEM)
    native = responses_output(CALL_ITEM, MESSAGE_ITEM)
    result = compare("llm", legacy, native)
    assert result.outcome is Outcome.IGNORED and result.reason == "expected:responses-output-order"


def test_gemini_non_stream_output_with_calls_first_is_ignored() -> None:
    # The legacy's Gemini non-stream answer: calls as met, then reasoning, then the message.
    legacy = responses_output(CALL_ITEM, REASONING_ITEM, MESSAGE_ITEM)
    native = responses_output(REASONING_ITEM, MESSAGE_ITEM, CALL_ITEM)
    result = compare("llm", legacy, native)
    assert result.outcome is Outcome.IGNORED and result.reason == "expected:responses-output-order"
    # Any other order of the same items is still a mismatch.
    legacy = responses_output(MESSAGE_ITEM, CALL_ITEM, REASONING_ITEM)
    assert compare("llm", legacy, native).outcome is Outcome.MISMATCH


def test_output_missing_an_item_still_mismatches() -> None:
    message_then_call = responses_output(MESSAGE_ITEM, CALL_ITEM)
    call_then_message = responses_output(CALL_ITEM, MESSAGE_ITEM)
    assert compare("llm", message_then_call, responses_output(CALL_ITEM)).outcome is Outcome.MISMATCH
    # Native in the legacy's own order but the legacy in an order neither legacy path writes is
    # not this deviation either (calls first is the Gemini non-stream order).
    assert compare("llm", responses_output(MESSAGE_ITEM, REASONING_ITEM),
                   responses_output(REASONING_ITEM, MESSAGE_ITEM)).outcome is Outcome.MISMATCH
    assert compare("llm", call_then_message, message_then_call).outcome is Outcome.IGNORED


def claude_frames(*names: str) -> Captured:
    frames = {
        "message_start": {"type": "message_start", "message": {"id": "m", "type": "message", "role": "assistant",
                                                                "content": [], "usage": {"input_tokens": 3}}},
        "content_block_start": {"type": "content_block_start", "index": 0,
                                "content_block": {"type": "text", "text": ""}},
        "content_block_delta": {"type": "content_block_delta", "index": 0,
                                "delta": {"type": "text_delta", "text": "hi"}},
        "content_block_stop": {"type": "content_block_stop", "index": 0},
        "message_delta": {"type": "message_delta", "delta": {"stop_reason": "end_turn"},
                          "usage": {"output_tokens": 2}},
        "message_stop": {"type": "message_stop"},
    }
    return responses_stream(*((name, frames[name]) for name in names))


def test_claude_stream_closed_natively_without_done_is_ignored() -> None:
    legacy = claude_frames("message_start", "content_block_start", "content_block_delta")
    native = claude_frames("message_start", "content_block_start", "content_block_delta", "content_block_stop",
                           "message_delta", "message_stop")
    result = compare("llm", legacy, native)
    assert result.outcome is Outcome.IGNORED and result.reason == "expected:claude-stream-closed-without-done"


def test_claude_stream_with_new_content_after_the_legacy_end_still_mismatches() -> None:
    legacy = claude_frames("message_start", "content_block_start", "content_block_delta")
    native = claude_frames("message_start", "content_block_start", "content_block_delta", "content_block_stop",
                           "content_block_start", "content_block_delta", "content_block_stop", "message_delta",
                           "message_stop")
    assert compare("llm", legacy, native).outcome is Outcome.MISMATCH


def documented_rules() -> list[str]:
    """Every name a table row of docs/compatibility.md marks **shadow rule** / **shadow rules**
    (up to the end of the clause)."""
    doc = (Path(__file__).resolve().parents[3] / "docs" / "compatibility.md").read_text(encoding="utf-8")
    names: list[str] = []
    for line in doc.splitlines():
        if not line.startswith("|"):
            continue
        for match in re.finditer(r"\*\*shadow rules?\*\*([^|;]*)", line):
            names += re.findall(r"`([a-z0-9-]+)`", match.group(1))
    return names


def test_documented_shadow_rules_and_the_rules_are_the_same_set() -> None:
    documented = documented_rules()
    assert documented, "no **shadow rule** found in docs/compatibility.md"
    assert sorted(set(documented)) == sorted(rule.name for rule in RULES)
    assert len({rule.name for rule in RULES}) == len(RULES)


# --- row 50: an error as the first event of a same-protocol stream -------------------------


CLAUDE_OVERLOADED = '{"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}}'


def test_first_event_error_answered_as_json_is_ignored() -> None:
    legacy = Captured(200, SSE, ("event: error\ndata: " + CLAUDE_OVERLOADED + "\n\n").encode())
    native = Captured(529, JSON, CLAUDE_OVERLOADED.encode())
    result = compare("llm", legacy, native)
    assert (result.outcome, result.reason) == (Outcome.IGNORED, "expected:first-event-error-json")
    openai = '{"error":{"message":"Rate limit reached","type":"requests","code":"rate_limit_exceeded"}}'
    legacy = stream("data: " + openai, "data: [DONE]")
    assert compare("llm", legacy, Captured(429, JSON, openai.encode())).reason == "expected:first-event-error-json"


def test_first_event_error_rule_needs_the_same_error_alone_on_the_legacy_side() -> None:
    native = Captured(529, JSON, CLAUDE_OVERLOADED.encode())
    # Payload before the error: the native side must have relayed it too.
    with_text = Captured(200, SSE, ("event: message_start\ndata: {\"type\":\"message_start\",\"message\":{}}\n\n"
                                    "event: error\ndata: " + CLAUDE_OVERLOADED + "\n\n").encode())
    assert compare("llm", with_text, native).outcome is Outcome.MISMATCH
    other = CLAUDE_OVERLOADED.replace("overloaded_error", "api_error")
    legacy = Captured(200, SSE, ("event: error\ndata: " + other + "\n\n").encode())
    assert compare("llm", legacy, native).outcome is Outcome.MISMATCH


# --- row 4a: an early end where the client gets no stream ----------------------------------


SERVER_500 = b'{"error":{"message":"upstream stream closed before message_stop","type":"server_error"}}'


def test_partial_non_stream_answer_against_native_500_is_ignored() -> None:
    partial = json.dumps({"object": "chat.completion", "choices": [
        {"index": 0, "message": {"role": "assistant", "content": "Hel"}, "finish_reason": None}]}).encode()
    result = compare("llm", Captured(200, JSON, partial), Captured(500, JSON, SERVER_500))
    assert (result.outcome, result.reason) == (Outcome.IGNORED, "expected:truncated-answer-500")
    # An empty 200 stream (no event at all) against the same 500.
    assert compare("llm", Captured(200, SSE, b""), Captured(500, JSON, SERVER_500)).reason == \
        "expected:truncated-answer-500"


def test_a_finished_answer_against_native_500_is_still_a_mismatch() -> None:
    whole = json.dumps({"object": "chat.completion", "choices": [
        {"index": 0, "message": {"role": "assistant", "content": "Hello"}, "finish_reason": "stop"}]}).encode()
    assert compare("llm", Captured(200, JSON, whole), Captured(500, JSON, SERVER_500)).outcome is Outcome.MISMATCH
    partial = json.dumps({"choices": [{"index": 0, "message": {"content": "Hel"}, "finish_reason": None}]}).encode()
    other = b'{"error":{"message":"bad","type":"invalid_request_error"}}'
    assert compare("llm", Captured(200, JSON, partial), Captured(500, JSON, other)).outcome is Outcome.MISMATCH


# --- row 4b: a whole JSON answer from an upstream asked to stream --------------------------


WEATHER = {"id": "toolu_1", "type": "function", "function": {"name": "get_weather", "arguments": '{"city":"Paris"}'}}


def chat_answer(*, calls: bool = True, details: bool = True) -> Captured:
    usage: dict[str, Any] = {"prompt_tokens": 10, "completion_tokens": 5, "total_tokens": 15}
    if details:
        usage["prompt_tokens_details"] = {"cached_tokens": 0}
    message: dict[str, Any] = {"role": "assistant", "content": "Let me check."}
    if calls:
        message["tool_calls"] = [WEATHER]
    body = {"id": "msg_1", "object": "chat.completion", "created": 1, "model": "claude-x", "choices": [
        {"index": 0, "message": message, "finish_reason": "tool_calls" if calls else "stop"}], "usage": usage}
    return Captured(200, JSON, json.dumps(body).encode())


# claude_openai_response.go's non-stream template as it leaves it without a single data: line.
EMPTY_CHAT = (b'{"id":"","object":"chat.completion","created":0,"model":"","choices":[{"index":0,"message":'
              b'{"role":"assistant","content":""},"finish_reason":"stop"}],"usage":{"prompt_tokens":0,'
              b'"completion_tokens":0,"total_tokens":0}}')
WHOLE_JSON = "expected:whole-json-answer-read"


def test_an_empty_fold_of_a_whole_json_answer_against_the_native_answer_is_ignored() -> None:
    result = compare("llm", Captured(200, JSON, EMPTY_CHAT), chat_answer())
    assert (result.outcome, result.reason) == (Outcome.IGNORED, WHOLE_JSON)
    # A text answer shows only the usage keys a folded message_delta adds.
    assert compare("llm", Captured(200, JSON, EMPTY_CHAT), chat_answer(calls=False)).reason == WHOLE_JSON
    # Responses: the template's completed response without output.
    empty = {"id": "", "object": "response", "status": "completed", "output": [],
             "usage": {"input_tokens": 0, "output_tokens": 0, "output_tokens_details": {}, "total_tokens": 0}}
    full = {**empty, "output": [{"type": "message", "content": []}, {"type": "function_call", "name": "f",
                                                                     "arguments": "{}"}],
            "usage": {"input_tokens": 10, "output_tokens": 5, "output_tokens_details": {"reasoning_tokens": 0},
                      "total_tokens": 15}}
    result = compare("llm", Captured(200, JSON, json.dumps(empty).encode()),
                     Captured(200, JSON, json.dumps(full).encode()))
    assert result.reason == WHOLE_JSON
    # Gemini: STOP with no token count.
    def gemini(parts: list[Any], usage: dict[str, Any]) -> Captured:
        body = {"candidates": [{"content": {"role": "model", "parts": parts}, "finishReason": "STOP"}],
                "usageMetadata": {**usage, "trafficType": "PROVISIONED_THROUGHPUT"}, "modelVersion": "m",
                "createTime": "", "responseId": ""}
        return Captured(200, JSON, json.dumps(body).encode())

    counts = {"promptTokenCount": 10, "candidatesTokenCount": 5, "totalTokenCount": 15}
    assert compare("llm", gemini([], {}), gemini([{"text": "Hi"}], counts)).reason == WHOLE_JSON


def test_an_empty_stream_or_a_codex_408_against_the_native_answer_is_ignored() -> None:
    finish = "data: " + json.dumps({"object": "chat.completion.chunk",
                                    "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]})
    native = stream(chunk("Hel"), finish, "data: [DONE]")
    assert compare("llm", stream("data: [DONE]"), native).reason == WHOLE_JSON
    claude = claude_sse({"type": "message_start", "message": {"id": "m", "usage": {"input_tokens": 1}}},
                        {"type": "message_delta", "delta": {"stop_reason": "end_turn"}, "usage": {"output_tokens": 2}},
                        {"type": "message_stop"})
    # A Claude client's stream: the legacy relayed the JSON lines, which hold no SSE event.
    relayed = Captured(200, SSE, b'{"id":"msg_1","type":"message","content":[]}\n')
    assert compare("llm", relayed, claude).reason == WHOLE_JSON
    codex_408 = b'{"error":{"message":"stream error: stream disconnected before completion: stream closed ' \
                b'before response.completed","type":"invalid_request_error"}}'
    assert compare("llm", Captured(408, JSON, codex_408), chat_answer()).reason == WHOLE_JSON


def test_a_real_legacy_answer_or_a_native_without_one_is_not_a_whole_json_answer() -> None:
    # A legacy answer with content (its usage went through message_delta) is a real answer.
    assert compare("llm", chat_answer(calls=False), chat_answer()).outcome is Outcome.MISMATCH
    # Bare usage on both sides: nothing says the native answer came from a folded stream.
    bare = chat_answer(details=False)
    assert compare("llm", Captured(200, JSON, EMPTY_CHAT), bare).outcome is Outcome.MISMATCH
    # A native stream that never finished, or a native error, explains nothing.
    assert compare("llm", stream("data: [DONE]"), stream(chunk("Hel"), "data: [DONE]")).outcome is Outcome.MISMATCH
    assert compare("llm", Captured(200, JSON, EMPTY_CHAT), Captured(500, JSON, SERVER_500)).reason != WHOLE_JSON
    # An empty legacy body against Gemini data: chunks is row 33a, left a mismatch.
    gemini = "data: " + json.dumps({"candidates": [{"content": {"parts": [{"text": "h"}]}, "finishReason": "STOP"}]})
    assert compare("llm", Captured(200, SSE, b""), stream(gemini)).outcome is Outcome.MISMATCH


# --- rows 39-41: tool calls the legacy mislabels -------------------------------------------


def claude_sse(*events: dict[str, Any]) -> Captured:
    return Captured(200, SSE, "".join(f"event: {e['type']}\ndata: {json.dumps(e)}\n\n" for e in events).encode())


def tool_stream(stop_reason: str, *starts: dict[str, Any], args: str = '{"city":"Paris"}') -> Captured:
    return claude_sse(
        {"type": "message_start", "message": {"id": "m", "usage": {"input_tokens": 1, "output_tokens": 0}}},
        *({"type": "content_block_start", "index": 0, "content_block": start} for start in starts),
        {"type": "content_block_delta", "index": 0, "delta": {"type": "input_json_delta", "partial_json": args}},
        {"type": "content_block_stop", "index": 0},
        {"type": "message_delta", "delta": {"stop_reason": stop_reason}, "usage": {"output_tokens": 2}},
        {"type": "message_stop"},
    )


WEATHER = {"type": "tool_use", "id": "t1", "name": "get_weather", "input": {}}
NAMELESS = {"type": "tool_use", "id": "", "name": "", "input": {}}


def test_tool_use_stop_where_the_legacy_says_end_turn_is_ignored() -> None:
    result = compare("llm", tool_stream("end_turn", WEATHER), tool_stream("tool_use", WEATHER))
    assert (result.outcome, result.reason) == (Outcome.IGNORED, "expected:claude-stream-tool-use-stop")
    # Without a call on the native side the two stop reasons are a real difference.
    text = claude_sse({"type": "message_start", "message": {"id": "m"}},
                      {"type": "message_delta", "delta": {"stop_reason": "tool_use"}}, {"type": "message_stop"})
    legacy = claude_sse({"type": "message_start", "message": {"id": "m"}},
                        {"type": "message_delta", "delta": {"stop_reason": "end_turn"}}, {"type": "message_stop"})
    assert compare("llm", legacy, text).outcome is Outcome.MISMATCH


def test_an_answer_only_native_closes_without_an_output_count_is_ignored() -> None:
    opening = ({"type": "message_start", "message": {"id": "m", "usage": {"input_tokens": 0, "output_tokens": 0}}},
               {"type": "content_block_start", "index": 0, "content_block": {"type": "thinking", "thinking": ""}},
               {"type": "content_block_delta", "index": 0, "delta": {"type": "thinking_delta", "thinking": "hm"}})
    closing = ({"type": "content_block_stop", "index": 0},
               {"type": "message_delta", "delta": {"stop_reason": "end_turn", "stop_sequence": None},
                "usage": {"input_tokens": 3, "output_tokens": 9}})
    legacy = claude_sse(*opening, {"type": "message_stop"})
    result = compare("llm", legacy, claude_sse(*opening, *closing, {"type": "message_stop"}))
    assert (result.outcome, result.reason) == (Outcome.IGNORED, "expected:claude-stream-unreported-output")
    # Different content before the close is still a difference.
    other = ({**opening[0]}, {**opening[1], "content_block": {"type": "text", "text": ""}},
             {**opening[2], "delta": {"type": "text_delta", "text": "hm"}})
    assert compare("llm", legacy, claude_sse(*other, *closing, {"type": "message_stop"})).outcome is Outcome.MISMATCH
    # So is a legacy answer that closed too (then the stop reasons are compared).
    closed = claude_sse(*opening, closing[0], {**closing[1], "delta": {"stop_reason": "tool_use"}},
                        {"type": "message_stop"})
    assert compare("llm", closed, claude_sse(*opening, *closing, {"type": "message_stop"})).outcome \
        is Outcome.MISMATCH


def test_a_block_reopened_nameless_by_null_continuations_is_ignored() -> None:
    legacy = tool_stream("tool_use", WEATHER, NAMELESS, NAMELESS)
    result = compare("llm", legacy, tool_stream("tool_use", WEATHER))
    assert (result.outcome, result.reason) == (Outcome.IGNORED, "expected:openai-null-tool-continuation")
    # Other arguments are still a difference.
    other = tool_stream("tool_use", WEATHER, args='["x"]')
    assert compare("llm", legacy, other).outcome is Outcome.MISMATCH


def test_a_nameless_call_only_the_legacy_sent_is_ignored() -> None:
    nameless = {"functionCall": {"name": "", "args": {"query": "x"}}}
    legacy = stream(gemini_chunk({"text": "found"}), gemini_chunk(nameless, finish="STOP"),
                    gemini_chunk({"text": "."}, finish="STOP"))
    native = stream(gemini_chunk({"text": "found"}), gemini_chunk({"text": "."}, finish="STOP"))
    result = compare("llm", legacy, native)
    assert (result.outcome, result.reason) == (Outcome.IGNORED, "expected:nameless-server-tool-call")
    # A named call missing on the native side is not this rule.
    legacy = stream(gemini_chunk({"text": "found"}), gemini_chunk(CALL, finish="STOP"))
    assert compare("llm", legacy, stream(gemini_chunk({"text": "found"}, finish="STOP"))).outcome is Outcome.MISMATCH


def test_max_tokens_where_the_legacy_says_stop_is_ignored() -> None:
    legacy = stream(gemini_chunk({"text": "Hel"}), gemini_chunk({"text": "lo"}, finish="STOP"))
    native = stream(gemini_chunk({"text": "Hel"}), gemini_chunk({"text": "lo"}, finish="MAX_TOKENS"))
    result = compare("llm", legacy, native)
    assert (result.outcome, result.reason) == (Outcome.IGNORED, "expected:claude-gemini-max-tokens")
    # The other way round, another reason, or a call only native made is not this rule.
    assert compare("llm", native, legacy).outcome is Outcome.MISMATCH
    safety = stream(gemini_chunk({"text": "Hel"}), gemini_chunk({"text": "lo"}, finish="SAFETY"))
    assert compare("llm", safety, native).outcome is Outcome.MISMATCH
    called = stream(gemini_chunk({"text": "Hel"}), gemini_chunk(CALL, finish="MAX_TOKENS"))
    assert compare("llm", legacy, called).outcome is Outcome.MISMATCH


def test_a_finish_only_native_read_from_the_last_delta_is_ignored() -> None:
    legacy = stream(gemini_chunk({"text": "Hel"}), gemini_chunk({"text": "lo"}))
    native = stream(gemini_chunk({"text": "Hel"}), gemini_chunk({"text": "lo"}), gemini_chunk(CALL, finish="STOP"))
    result = compare("llm", legacy, native)
    assert (result.outcome, result.reason) == (Outcome.IGNORED, "expected:gemini-finish-with-last-delta")
    # A legacy side that did finish, or a call only the legacy sent, is not this rule.
    finished = stream(gemini_chunk({"text": "Hel"}), gemini_chunk({"text": "lo"}, finish="STOP"))
    assert compare("llm", finished, native).outcome is Outcome.MISMATCH
    called = stream(gemini_chunk({"text": "Hel"}), gemini_chunk({"functionCall": {"name": "other", "args": {}}}))
    assert compare("llm", called, native).outcome is Outcome.MISMATCH


def test_alt_json_chunks_one_after_another_the_legacy_leaves_out_are_ignored() -> None:
    """Row 33 as native really answers it: the wrapped chunks one after another (row 33b's raw
    ``alt=json`` form, sniffed as text/plain), against the legacy's empty 200."""
    plain = [("Content-Type", "text/plain; charset=utf-8")]
    first = {"response": {"candidates": [{"content": {"role": "model", "parts": [{"text": "h"}]}}]}}
    native = Captured(200, plain, json.dumps(first).encode() + json.dumps({"response": ANSWER}).encode())
    result = compare("llm", Captured(200, [], b""), native)
    assert result.outcome is Outcome.IGNORED and result.reason == "expected:gemini-alt-json-body"
    failed = Captured(200, plain, json.dumps(first).encode() + b'{"error":{"code":500,"status":"INTERNAL"}}')
    assert compare("llm", Captured(200, [], b""), failed).outcome is Outcome.MISMATCH


def test_non_stream_claude_usage_with_an_empty_details_object_is_ignored() -> None:
    """claude_openai-responses_response.go:458 starts the non-stream usage with an empty
    ``output_tokens_details`` object and fills ``reasoning_tokens`` in only for thinking
    (:680-685); native always writes the count. Only that key may differ."""
    def answer(details: dict[str, Any], total: str = "total_tokens") -> Captured:
        usage = {"input_tokens": 1, "input_tokens_details": {"cached_tokens": 0}, "output_tokens": 2,
                 "output_tokens_details": details, total: 3}
        body = {"id": "r", "object": "response", "status": "completed", "model": "m",
                "output": [{"type": "message", "content": []}], "usage": usage}
        return Captured(200, JSON, json.dumps(body).encode())

    result = compare("llm", answer({}), answer({"reasoning_tokens": 0}))
    assert result.outcome is Outcome.IGNORED and result.reason == "expected:responses-reasoning-usage-keys"
    assert compare("llm", answer({}, "sum"), answer({"reasoning_tokens": 0})).outcome is Outcome.MISMATCH
